"""`deploy` from raw data of the tiny config with channel shuffles between its grouped convs:
the bshuffle kind, added through the registry alone, trains, prunes, lowers, exports and runs
in QEMU, every representation equal to the oracle."""
import json
from pathlib import Path

import pytest
import yaml

from pipeline import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tiny_config_with_shuffles_deploys_exactly(tmp_path):
    doc = yaml.safe_load((ROOT / "configs" / "tiny.yaml").read_text())
    doc["model"]["layers"] = [{"conv": 8, "kernel": 3, "padding": 1, "groups": 2},
                              {"shuffle": 2}, {"pool": 2},
                              {"conv": 16, "kernel": 3, "padding": 1, "groups": 4},
                              {"shuffle": 4}, {"pool": 2}, {"dense": 32}]
    doc["prune"]["budget_bits"] = 30000  # the convs before a shuffle keep their width
    config = tmp_path / "tiny_shuffle.yaml"
    config.write_text(yaml.safe_dump(doc))
    build = tmp_path / "build"
    assert cli.main(["deploy", "--board", "mps2-an386", "--config", str(config), "--build-dir",
                     str(build), "--vectors", "4"]) == 0
    root = build / "tiny_shuffle"
    rep = json.loads((root / "mps2-an386" / "report.json").read_text())
    assert [row["kind"] for row in rep["layers"]].count("bshuffle") == 2
    assert rep["mismatches"] == 0 and rep["vectors"] == 4
    assert rep["model_bits"] <= 30000
    evaluation = json.loads((root / "evaluation.json").read_text())
    assert evaluation["torch_oracle_equal_logits"] == evaluation["test_images"]
    export = json.loads((root / "export.json").read_text())
    for fmt in ("onnx", "tflite"):
        agreed = export["agreement"][fmt]
        assert agreed["logits_equal"] == agreed["classes_equal"] == agreed["images"]
    assert export["files"]["tflite"]["op_histogram"]["GATHER"] == 2
