"""`deploy` from raw data with the tiny config: train -> lower -> evaluate -> export -> render ->
build -> QEMU -> report; then the stage cache (nothing changed: all skipped; another board:
no retraining)."""
import json
import re
import time
from pathlib import Path

import pytest

from pipeline import cli, ir

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny.yaml")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    assert cli.main(["deploy", "--board", "mps2-an386", "--config", TINY, "--build-dir",
                     str(build), "--vectors", "6"]) == 0
    return build


def test_report_has_every_stage(deployed):
    root = deployed / "tiny"
    rep = json.loads((root / "mps2-an386" / "report.json").read_text())
    assert rep["mismatches"] == 0 and rep["vectors"] == 6
    assert rep["model_bits"] < 20000  # the tiny config's pruning budget
    acc = rep["accuracy"]
    for stage in ("torch", "oracle", "onnx", "tflite_lce", "firmware"):
        assert acc[stage] is not None, stage
    assert acc["torch"] == acc["oracle"]  # same integer logits on every test image
    # the hidden dense layer takes the sliced path on Cortex-M4: trained, rendered in that
    # layout and run bit-exact in QEMU
    assert [r["path"] for r in rep["layers"] if r["kind"] == "bdense"] == ["sliced", "rows"]
    evaluation = json.loads((root / "evaluation.json").read_text())
    assert evaluation["torch_oracle_equal_logits"] == evaluation["test_images"] == 1000
    assert set(rep["gamma_accuracy"]) == {"0.5", "0.75", "1.5", "2.0"}
    for name in ("checkpoint.pt", "teacher.pt", "metrics.jsonl", "model.ir.json", "model.onnx",
                 "model.tflite", "export.json", "insensor.json", "insensor.h"):
        assert (root / name).is_file(), name
    board = root / "mps2-an386"
    for name in ("report.md", "plots/instructions_per_layer.png", "plots/memory.png",
                 "plots/tone_curve.png", "firmware.hex"):
        assert (board / name).is_file(), name
    text = (board / "report.md").read_text()
    assert "Accuracy at every stage" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(links) >= 4 and all((board / link).is_file() for link in links), links


def test_report_plot_links_resolve_with_a_relative_build_dir(deployed, monkeypatch):
    """The plots' links in report.md are relative to the report's own folder also when the
    build dir was given as a relative path (the default, ./build)."""
    from pipeline import report
    monkeypatch.chdir(deployed)
    board = Path("tiny") / "mps2-an386"
    rep = json.loads((board / "report.json").read_text())
    model = ir.Model.load(Path("tiny") / "model.ir.json")
    plots = report.write_plots(rep, model, Path("tiny"), board)
    assert plots and all(not p.is_absolute() and (board / p).is_file() for p in plots), plots
    assert Path("plots/memory.png") in plots and Path("../plots/curves.png") in plots


def test_second_deploy_skips_every_stage(deployed, capsys):
    capsys.readouterr()
    start = time.monotonic()
    assert cli.main(["deploy", "--board", "mps2-an386", "--config", TINY, "--build-dir",
                     str(deployed), "--vectors", "6"]) == 0
    assert time.monotonic() - start < 30
    out = capsys.readouterr().out
    assert "running" not in out.replace("deploy:", ""), out
    for stage in ("train", "lower", "evaluate", "vectors", "export", "insensor", "render",
                  "build", "emulate"):
        assert f"[{stage}] up to date, skipped" in out, stage


def test_other_board_rebuilds_without_retraining(deployed, capsys):
    capsys.readouterr()
    assert cli.main(["deploy", "--board", "mps2-an385", "--config", TINY, "--build-dir",
                     str(deployed), "--vectors", "6"]) == 0
    out = capsys.readouterr().out
    for stage in ("train", "lower", "evaluate", "export"):
        assert f"[{stage}] up to date, skipped" in out, stage
    for stage in ("render", "build", "emulate"):
        assert f"[{stage}] running" in out, stage
    rep = json.loads((deployed / "tiny" / "mps2-an385" / "report.json").read_text())
    assert rep["board"] == "mps2-an385" and rep["mismatches"] == 0
