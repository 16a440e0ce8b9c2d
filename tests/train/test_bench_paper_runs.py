"""The study harness (``python -m bench paper``) with real training on tiny schedules: records,
skipping of finished runs, re-running a changed config, resuming an interrupted run, and the
STL-10 and VWW loaders through the harness on small files written in their formats."""
import json

import numpy as np
import pytest
from PIL import Image

from bench import paper

TINY = {"seeds": (0,), "planes": (1,), "encodings": ("uniform",), "budgets": (64_000,),
        "train_limit": 64, "test_limit": 40, "epochs": 1, "teacher_epochs": 1,
        "prune_at": (1,), "min_keep": 0.1}


def _study(tmp_path, **kw):
    return paper.Study(schedule={**TINY, **kw.pop("schedule", {})}, work_root=tmp_path / "work",
                       results_dir=tmp_path / "results", **kw)


def _run(study, run_id):
    return next(r for r in paper.plan(study, {}) if r.run_id == run_id)


def test_finished_run_is_skipped_and_a_changed_config_reruns(tmp_path):
    study = _study(tmp_path)
    run = _run(study, "enc-raw-uniform-m1-s0")
    paper.prepare_data(study, study.mode_dir, [run])
    record = paper.execute(run, study.mode_dir)
    path = study.mode_dir / f"{run.run_id}.json"
    assert json.loads(path.read_text()) == record
    assert record["config"] == run.config and record["test_images"] == 40
    assert record["thresholds"] == [[128]]  # uniform, M = 1: ceil(255 / 2)
    assert record["bits"] == sum(sum(v.values()) for v in record["layer_bits"].values())
    assert record["accuracy"] == record["torch_accuracy"]
    assert not (study.mode_dir / "runs" / run.run_id / "checkpoint.pt").exists()
    assert paper.finished(run, study.mode_dir) == record
    # a second call finds it finished: nothing is submitted, the record stays as it was
    stamp = path.stat().st_mtime_ns
    doc = paper.run_study(study, workers=1, patterns=[run.run_id])
    assert path.stat().st_mtime_ns == stamp and doc["finished_runs"] == 1
    assert doc["wall_seconds"]["calls"] == 1
    assert doc["encoding"][0]["accuracy"]["values"] == [record["accuracy"]]
    assert json.loads(study.results_path.read_text()) == doc
    # the same run id with another schedule is another config: not finished, trained again
    changed = _study(tmp_path, schedule={"train_limit": 48})
    run2 = _run(changed, run.run_id)
    assert run2.config != run.config and paper.finished(run2, changed.mode_dir) is None
    paper.prepare_data(changed, changed.mode_dir, [run2])
    again = paper.execute(run2, changed.mode_dir)
    assert again["config"]["data"]["train_limit"] == 48
    assert paper.finished(run2, changed.mode_dir) == again


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    from pipeline.config import config_from_dict
    from pipeline.train import train
    study = _study(tmp_path, schedule={"epochs": 2})
    run = _run(study, "enc-processed-uniform-m1-s0")
    paper.prepare_data(study, study.mode_dir, [run])
    work = study.mode_dir / "runs" / run.run_id
    paper._reset_if_config_changed(work, run.config)
    train(config_from_dict(run.config), work, stop_after_units=1)  # "killed" after epoch 1
    first = json.loads((work / "metrics.jsonl").read_text().splitlines()[0])
    record = paper.execute(run, study.mode_dir)
    units = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert [u["phase"] for u in units] == ["student", "student", "final"]
    assert units[0] == first  # epoch 1 was not trained again
    assert record["train_units"] == 2


def _write_stl10(root, rng):
    for split, n in (("train", 24), ("test", 10)):
        x = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        x.transpose(0, 3, 2, 1).tofile(root / f"{split}_X.bin")
        np.asarray(rng.integers(1, 11, n), np.uint8).tofile(root / f"{split}_y.bin")


def _write_vww(root, rng):
    for label, base in (("person", 180), ("non_person", 40)):
        (root / label).mkdir(parents=True)
        for i in range(8):
            img = np.clip(base + rng.integers(-30, 30, (20, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / label / f"{i}.png")


@pytest.mark.parametrize("kind", ["stl10", "vww"])
def test_real_dataset_formats_through_the_harness(tmp_path, kind):
    rng = np.random.default_rng(3)
    data = tmp_path / kind
    data.mkdir()
    (_write_stl10 if kind == "stl10" else _write_vww)(data, rng)
    dataset, path = paper.parse_data(f"{kind}={data}")
    study = _study(tmp_path, dataset=dataset, path=path, schedule={"encodings": ("glt",)})
    assert study.mode == f"full-{kind}" and study.results_path.name == f"paper_{kind}.json"
    run = _run(study, "enc-raw-glt-m1-s0")
    assert run.config["data"]["dataset"] == kind and run.config["data"]["path"] == str(data)
    paper.check_plan(study, paper.plan(study, {}))
    paper.prepare_data(study, study.mode_dir, [run])
    record = paper.execute(run, study.mode_dir)
    # vww: configs/vww_glt.yaml holds out 10 %, round(0.1 * 8) = 1 image of each class
    assert record["test_images"] == (10 if kind == "stl10" else 2)
    assert np.asarray(record["thresholds"]).shape == (3, 1)  # one threshold per colour channel
    assert 0.0 <= record["accuracy"] <= 1.0 and record["accuracy"] == record["torch_accuracy"]
