"""`python -m pipeline ir show` on saved random IRs (run as a subprocess, as a user would)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import ir
from pipeline import random_ir as R

ROOT = Path(__file__).resolve().parents[2]


def ir_cli(*args):
    return subprocess.run([sys.executable, "-m", "pipeline", "ir", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = R.random_model(12, hidden_dense=7, maxpool=True)
    return model, model.save(tmp_path_factory.mktemp("ir") / "model.ir.json")


def test_show_prints_every_layer_and_the_total(saved):
    model, path = saved
    proc = ir_cli("show", path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for layer in model.layers:
        row = next(line for line in lines if line.split()[:2] == [layer.name, layer.kind])
        bits = ir.layer_bits(layer)
        in_out = "x".join(map(str, layer.in_shape)) + " -> " + "x".join(map(str, layer.out_shape))
        assert in_out in row
        numbers = row.split()[-3:]
        assert numbers == [f"{bits['weights']:,}", f"{bits['params']:,}",
                           f"{getattr(layer, 'macs', 0):,}"], row
        if layer.kind == "bconv2d":
            assert row.split()[5] == str(layer.groups)
    total = json.loads(path.read_text())["bits"]["total"]
    assert total == model.bits()
    summary = next(line for line in lines if line.startswith("total:"))
    assert f"{total:,} bits" in summary and "1,000,000" in summary and "UNDER" in summary


def test_show_reports_over_budget(saved):
    model, path = saved
    proc = ir_cli("show", path, "--budget", model.bits() - 1)
    assert proc.returncode == 0, proc.stderr
    assert "OVER" in next(line for line in proc.stdout.splitlines() if line.startswith("total:"))
    at_budget = ir_cli("show", path, "--budget", model.bits())
    assert "UNDER" in at_budget.stdout


def test_show_missing_file_is_one_line_error(tmp_path):
    proc = ir_cli("show", tmp_path / "absent.ir.json")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "IRMissingError" in proc.stderr and "lower" in proc.stderr


def test_show_changed_arrays_is_one_line_error(tmp_path):
    path = R.random_model(13).save(tmp_path / "m.ir.json")
    doc = json.loads(path.read_text())
    doc["sha256"] = "0" * 64
    path.write_text(json.dumps(doc))
    proc = ir_cli("show", path)
    assert proc.returncode == 2 and "HashMismatchError" in proc.stderr
    assert "Traceback" not in proc.stderr
