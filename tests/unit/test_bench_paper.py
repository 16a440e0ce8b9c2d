"""The study harness of issue 15 (``python -m bench paper``) without training: the grid, its
schedule, the pruning arm's M, --data parsing and the report generator on a synthetic result."""
import json

import numpy as np
import pytest

from bench import paper, paper_report
from bench.__main__ import main
from pipeline.data import DatasetMissingError

FULL = paper.Study()


def _fake(run, accuracy, **extra):
    return {**run.labels(), "accuracy": accuracy, "bits": 1, "config": run.config, **extra}


def _records_choosing(m_best):
    """Finished GLT raw-data encoding records where M = m_best has the best mean accuracy."""
    recs = {}
    for run in paper.encoding_runs(FULL):
        if run.data == "raw" and run.encoding == "glt":
            recs[run.run_id] = _fake(run, 0.80 + (0.05 if run.planes == m_best else 0.0))
    return recs


def test_full_grid_counts_before_and_after_the_pruning_arm_is_known():
    assert paper.expected_counts(FULL) == {"encoding": 120, "teacher": 3, "pruned-kd": 15,
                                           "pruned": 15, "scratch-kd": 15, "scratch": 15}
    runs = paper.plan(FULL, {})
    assert [r.arm for r in runs].count("encoding") == 120 == 4 * 5 * 3 * 2
    assert [r.run_id for r in runs if r.arm == "teacher"] == [
        "teacher-raw-s0", "teacher-raw-s1", "teacher-raw-s2"]
    assert len(runs) == 123 and len({r.run_id for r in runs}) == 123
    # M chosen once the raw GLT runs of M in 1..4 are done; M = 8 is not a "small" M
    recs = _records_choosing(3)
    runs = paper.plan(FULL, recs)
    pruned = [r for r in runs if r.arm == "prune"]
    assert len(pruned) == 30 and {r.variant for r in pruned} == {"pruned-kd", "pruned"}
    assert {r.planes for r in pruned} == {3}
    assert {r.budget for r in pruned} == {1_000_000, 500_000, 250_000, 125_000, 64_000}
    assert all((r.teacher == f"teacher-raw-s{r.seed}") == (r.variant == "pruned-kd")
               for r in pruned)
    # from-scratch runs appear with their pruned+KD run's final widths
    layers = [{"conv": 8, "kernel": 3, "stride": 1, "padding": 1, "groups": 1}, {"pool": 2},
              {"conv": 16, "kernel": 3, "stride": 1, "padding": 1, "groups": 1}, {"pool": 2},
              {"conv": 32, "kernel": 3, "stride": 1, "padding": 1, "groups": 2}, {"pool": 2},
              {"dense": 24}]
    for r in pruned:
        if r.variant == "pruned-kd":
            recs[r.run_id] = _fake(r, 0.8, arch_layers=layers)
    runs = paper.plan(FULL, recs)
    scratch = [r for r in runs if r.arm == "prune" and r.variant.startswith("scratch")]
    assert len(scratch) == 30 and len(runs) == 183
    assert sum(paper.expected_counts(FULL).values()) == 183
    for r in scratch:
        assert r.config["model"]["layers"] == layers
        assert r.config["prune"]["enabled"] is False
        assert r.config["distill"]["enabled"] == (r.variant == "scratch-kd")
    paper.check_plan(FULL, runs)  # every config passes the full config check


def test_every_arm_has_the_same_schedule():
    recs = _records_choosing(2)
    runs = paper.plan(FULL, recs)
    g = paper.FULL
    for r in runs:
        c = r.config
        assert (c["data"]["train_limit"], c["data"]["test_limit"]) == (g["train_limit"],
                                                                       g["test_limit"])
        assert c["train"]["epochs"] == g["epochs"] and c["train"]["threads"] == 1
        assert c["teacher"]["epochs"] == g["teacher_epochs"]
        assert (c["train"]["batch_size"], c["train"]["lr"]) == (128, 0.005)
        assert c["model"]["layers"] == runs[0].config["model"]["layers"]
        assert c["data"]["sensor"] == {"enabled": r.data == "raw"}
        assert c["seed"] == r.seed and c["name"] == r.run_id
        enc = c["model"]["encoding"]
        assert (enc["kind"], enc["planes"]) == (r.encoding, r.planes)
        if r.encoding == "glt":
            assert enc["init"] == "quantile"
        if r.arm == "encoding":
            assert not c["prune"]["enabled"] and not c["distill"]["enabled"]
        if r.arm == "prune":
            assert c["prune"]["enabled"] and c["prune"]["budget_bits"] == r.budget
            assert c["prune"]["at_epochs"] == [1, 2] and c["prune"]["finetune_epochs"] == 0
            assert c["distill"]["enabled"] == (r.variant == "pruned-kd")


def test_prune_planes_ties_go_to_the_smaller_m_and_can_be_fixed():
    recs = {k: {**v, "accuracy": 0.8} for k, v in _records_choosing(1).items()}
    assert paper.choose_prune_planes(FULL, recs) == 1
    del recs["enc-raw-glt-m4-s2"]
    assert paper.choose_prune_planes(FULL, recs) is None  # not all seeds done
    fixed = paper.Study(prune_planes=8)
    assert {r.planes for r in paper.plan(fixed, {}) if r.arm == "prune"} == {8}


def test_quick_grid_exercises_every_arm_type():
    quick = paper.Study(quick=True)
    counts = paper.expected_counts(quick)
    assert counts == {"encoding": 8, "teacher": 1, "pruned-kd": 2, "pruned": 2,
                      "scratch-kd": 2, "scratch": 2}
    runs = paper.plan(quick, {})
    assert {r.data for r in runs} == {"processed", "raw"}
    assert all(r.config["data"]["train_limit"] == 256 for r in runs)


def test_parse_data(tmp_path):
    assert paper.parse_data(None) == ("fashion_mnist", None)
    assert paper.parse_data(f"stl10={tmp_path}") == ("stl10", str(tmp_path))
    assert paper.parse_data(f"vww={tmp_path}") == ("vww", str(tmp_path))
    with pytest.raises(paper.PaperArgumentError, match="KIND=PATH"):
        paper.parse_data("stl10")
    with pytest.raises(paper.PaperArgumentError, match="unknown kind 'imagenet'"):
        paper.parse_data(f"imagenet={tmp_path}")
    with pytest.raises(DatasetMissingError, match="not a directory"):
        paper.parse_data(f"stl10={tmp_path / 'none'}")


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    assert main(["paper", "--data", "cifar=/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: PaperArgumentError")
    assert main(["paper", "--prune-planes", "5", "--list-runs"]) == 2
    assert "--prune-planes 5" in capsys.readouterr().err
    assert main(["paper", "--workers", "0"]) == 2


def test_list_runs_for_stl10(tmp_path, capsys):
    assert main(["paper", "--quick", "--data", f"stl10={tmp_path}", "--list-runs"]) == 0
    ids = capsys.readouterr().out.split()
    assert ids[0] == "enc-processed-glt-m2-s0" and len(ids) == 9


# --- the report generator ------------------------------------------------------------------------

def _enc_row(data, enc, m, values):
    return {"data": data, "encoding": enc, "planes": m, "seeds": [0, 1, 2],
            "accuracy": {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)),
                         "n": 3, "values": values},
            "bits": {"mean": 1_000_000 + m, "std": 0.0, "n": 3, "values": [1_000_000 + m] * 3}}


def _prune_row(variant, budget, values, bits):
    row = _enc_row("raw", "glt", 2, values)
    row.pop("encoding")
    return {**row, "variant": variant, "budget": budget,
            "bits": {"mean": bits, "std": 0.0, "n": 3, "values": [bits] * 3}}


def synthetic_results():
    base = [0.80, 0.82, 0.84]
    enc = []
    for m in (2, 4):
        # raw: GLT beats base-2 by exactly 5 pp on every seed; processed: +1, -1, 0 pp
        enc.append(_enc_row("raw", "glt", m, base))
        enc.append(_enc_row("raw", "base2", m, [v - 0.05 for v in base]))
        enc.append(_enc_row("raw", "uniform", m, [v - 0.02 for v in base]))
        enc.append(_enc_row("raw", "quantile", m, [v + 0.01 for v in base]))
        enc.append(_enc_row("processed", "glt", m, base))
        enc.append(_enc_row("processed", "base2", m, [0.79, 0.83, 0.84]))
    pruning = [
        _prune_row("pruned-kd", 1_000_000, [0.80, 0.815, 0.84], 990_000),
        _prune_row("pruned", 1_000_000, [0.79, 0.80, 0.83], 990_000),
        _prune_row("scratch-kd", 1_000_000, [0.78, 0.80, 0.83], 990_000),
        _prune_row("pruned-kd", 64_000, [0.70, 0.72, 0.74], 63_000),
        _prune_row("scratch-kd", 64_000, [0.70, 0.72, 0.74], 63_000),
    ]
    runs = [{"run": f"enc-raw-{e}-m{m}-s{s}", "arm": "encoding", "data": "raw", "encoding": e,
             "planes": m, "seed": s, "thresholds": t, "accuracy": 0.8, "bits": 1}
            for e, t2, t4 in (("glt", [[3, 9]], [[2, 5, 9, 20]]),
                              ("quantile", [[1, 4]], [[1, 2, 4, 8]]))
            for m, t in ((2, t2), (4, t4)) for s in (0, 1, 2)]
    from pipeline.data.sensor import SensorConfig
    import dataclasses
    return {"benchmark": "paper", "mode": "full", "quick": False, "date": "2026-11-30",
            "machine": {"cpus": 2, "accelerator": "none (CPU only)"}, "dataset": "fashion_mnist",
            "base_config": "configs/fashion_glt.yaml",
            "schedule": {**paper.FULL, "seeds": [0, 1, 2]}, "prune_data": "raw",
            "prune_planes": 2, "prune_planes_rule": "test", "expected_runs": {"encoding": 1},
            "sensor": dataclasses.asdict(SensorConfig(enabled=True)),
            "finished_runs": 40, "failed_runs": {},
            "wall_seconds": {"this_call": 6000.0, "workers": 2, "sum_of_runs": 11000.0,
                             "all_calls": 7200.0, "calls": 2},
            "encoding": enc, "pruning": pruning, "teachers": [{"seed": 0, "accuracy": 0.9}],
            "runs": runs}


def test_paired_difference_and_verdicts():
    doc = synthetic_results()
    c1 = {(e["data"], e["planes"]): e for e in paper_report.claim1(doc)}
    raw = c1[("raw", 2)]["base2"]
    assert raw["mean"] == pytest.approx(0.05) and raw["std"] == pytest.approx(0.0, abs=1e-12)
    assert raw["verdict"] == "holds" and raw["n"] == 3
    proc = c1[("processed", 4)]["base2"]
    assert proc["mean"] == pytest.approx(0.0, abs=1e-12)
    assert proc["std"] == pytest.approx(0.01) and proc["verdict"] == "within noise"
    assert c1[("raw", 4)]["quantile"]["verdict"] == "reversed"  # quantile 1 pp above GLT
    assert c1[("processed", 2)]["uniform"] is None
    assert paper_report.verdict(0.01, 0.0, 1) == "one seed: no spread"
    c2 = {e["budget"]: e for e in paper_report.claim2(doc)}
    assert c2[1_000_000]["limited"] and c2[64_000]["limited"] is False
    assert c2[64_000]["drop"]["mean"] == pytest.approx(-0.1)
    assert c2[1_000_000]["kd_effect"]["mean"] == pytest.approx(0.035 / 3)
    assert c2[64_000]["kd_effect"] is None and c2[64_000]["vs_scratch"]["mean"] == 0.0


def test_pareto_front():
    pts = [(100, 0.5), (50, 0.6), (200, 0.55), (300, 0.9), (50, 0.4)]
    assert paper_report.pareto_front(pts) == [(50, 0.6), (300, 0.9)]


def test_report_from_synthetic_results(tmp_path):
    doc = synthetic_results()
    md, img = tmp_path / "paper.md", tmp_path / "img"
    written = paper_report.render(doc, md, img, "img", "python -m bench paper")
    assert written[0] == md and len(written) == 4
    for png in written[1:]:
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    text = md.read_text()
    assert "QUICK MODE" not in text
    assert "Wall time: 120.0 min over 2 call(s) (the last 100.0 min on 2 workers;" in text
    assert ("- **raw data**: GLT minus base-2 averages +5.00 pp over M in [2, 4]; the gain "
            "holds (mean > 2 standard errors) at M = [2, 4].") in text
    assert ("- **processed data**: GLT minus base-2 averages +0.00 pp over M in [2, 4]; the gain "
            "holds (mean > 2 standard errors) at M = none: **the claim does not hold on this "
            "data**.") in text
    assert "| raw | 2 | 82.00 ± 2.00 % | +5.00 pp ± 0.00 (n=3): holds |" in text
    assert "It holds at budgets ['1,000,000'] and not at ['64,000']." in text
    assert "![accuracy vs bits](img/paper_bits.png)" in text
    # tone-mapping distances: the uniform thermometer (85, 170 at M = 2) is farthest
    tone = {t["planes"]: t for t in paper_report.tone_distance(doc)}
    assert tone[2]["uniform"] > tone[2]["quantile"] and tone[2]["uniform"] > tone[2]["glt"]
    # ideal at M = 2 (exposure sqrt(1/32 * 1/2) = 1/8): 255/8 * L(85) = 2.90 and
    # 255/8 * L(170) = 12.81 codes; GLT [3, 9] is 1.96 codes away on average, quantile [1, 4] 5.35
    assert tone[2]["glt"] == pytest.approx(1.9587, abs=1e-4)
    assert tone[2]["quantile"] == pytest.approx(5.3543, abs=1e-4)
    assert ("closer to the sensor-inverting ones than the uniform thermometer's at M = [2, 4] "
            "and closer than the fixed quantile thermometer's at M = [2, 4]") in text
    quick = {**doc, "quick": True}
    paper_report.render(quick, md, img, "img", "python -m bench paper --quick")
    assert "QUICK MODE: NOT RESULTS" in md.read_text()


def test_report_before_the_study_ran(tmp_path):
    study = paper.Study(results_dir=tmp_path)
    md = tmp_path / "paper.md"
    planned = paper_report.describe_plan(study)
    assert planned.startswith("Planned: 183 runs (120 encoding runs: glt, uniform, base2, "
                              "quantile x M [1, 2, 3, 4, 8] x seeds [0, 1, 2]")
    assert paper_report.render(None, md, tmp_path, "img", "python -m bench paper",
                               planned=planned) == [md]
    text = md.read_text()
    assert "has not been run yet" in text and planned in text
    assert "python -m bench paper --report\n```" in text
    assert not study.results_path.exists()


def test_results_doc_is_json_serialisable():
    recs = {}
    for run in paper.plan(paper.Study(quick=True), {}):
        extra = {"seconds": {"total": 1.0}, "thresholds": [[1, 2]]}
        if run.arm == "teacher":
            recs[run.run_id] = {**run.labels(), "teacher_accuracy": 0.5, **extra}
        else:
            recs[run.run_id] = _fake(run, 0.5, **extra)
    doc = paper.results_doc(paper.Study(quick=True), recs, {}, 1.0, 2)
    json.dumps(doc)
    rows = {(r["data"], r["encoding"], r["planes"]): r for r in doc["encoding"]}
    assert rows[("raw", "glt", 2)]["accuracy"] == {"mean": 0.5, "std": 0.0, "n": 1,
                                                   "values": [0.5]}
    assert doc["prune_planes"] == 2 and doc["teachers"] == [{"seed": 0, "accuracy": 0.5}]


def test_selecting_a_kd_run_brings_its_teacher():
    runs = paper.plan(paper.Study(prune_planes=2), {})
    ids = [r.run_id for r in paper.select(runs, ["prune-raw-glt-m2-pruned-kd-64k-s1"])]
    assert ids == ["teacher-raw-s1", "prune-raw-glt-m2-pruned-kd-64k-s1"]
    assert [r.run_id for r in paper.select(runs, ["enc-*-base2-m8-s2"])] == [
        "enc-processed-base2-m8-s2", "enc-raw-base2-m8-s2"]
