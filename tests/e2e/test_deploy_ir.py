"""`python -m pipeline deploy --ir ...`: the whole chain on an IR file, its reports, caching and
its named failures (unknown board, over budget)."""
import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest

from pipeline import build, cli, ir, random_ir, render
from pipeline.boards import UnknownBoardError

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def deploy(*args):
    return cli.main(["deploy", *args])


@pytest.fixture(scope="module")
def ir_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ir") / "model.ir.json"
    random_ir.random_model(21).save(path)
    return path


def test_deploy_ir_reports_and_is_cached(tmp_path, ir_file, capsys):
    old_layout = tmp_path / ir_file.parent.name / "mps2-an386" / "src"
    old_layout.mkdir(parents=True)
    (old_layout / "model.c").write_text("/* rendered before model/ existed */\n")
    assert deploy("--board", "mps2-an386", "--ir", str(ir_file), "--build-dir", str(tmp_path),
                  "--vectors", "4") == 0
    board_dir = tmp_path / ir_file.parent.name / "mps2-an386"
    rep = json.loads((board_dir / "report.json").read_text())
    for key in ("board", "model_bits", "budget_bits", "flash_bytes", "ram_bytes", "flash_budget",
                "ram_budget", "vectors", "mismatches", "instructions_per_inference", "layers"):
        assert key in rep, key
    assert rep["mismatches"] == 0 and rep["vectors"] == 4 and rep["emulated"]
    model = ir.Model.load(ir_file)
    assert rep["model_bits"] == model.bits()
    assert [r["name"] for r in rep["layers"]] == [layer.name for layer in model.layers]
    assert all(r["instructions"] > 0 for r in rep["layers"])
    assert rep["ram_bytes"] == rep["ram_static_bytes"] + rep["ram_stack_used_bytes"]
    # render's kernels.json reaches the report: every conv names the fast path it takes
    assert rep["kernel_target"] == "thumb2"
    assert all(r["path"] for r in rep["layers"] if r["kind"] in ("bconv2d", "thermometer"))
    for name in ("firmware.elf", "firmware.bin", "firmware.hex", "firmware.map", "size.json",
                 "qemu.log", "report.md", "kernels.json"):
        assert (board_dir / name).is_file(), name
    assert (tmp_path / ir_file.parent.name / "model.onnx").is_file()
    name = render.default_model_name(ir_file.parent.name)
    for rel in (f"model/{name}.h", f"model/{name}.c", f"model/{name}_weights.c",
                "runtime/bnn.h", "runtime/CMakeLists.txt", "harness/main.c", "harness/linker.ld",
                f"{name}-mps2-an386.tar.gz"):
        assert (board_dir / rel).is_file(), rel
    assert not old_layout.exists()
    # the image was linked with the harness's own linker script
    assert (board_dir / "linker.ld").read_text() == (board_dir / "harness" / "linker.ld").read_text()
    capsys.readouterr()
    start = time.monotonic()
    assert deploy("--board", "mps2-an386", "--ir", str(ir_file), "--build-dir", str(tmp_path),
                  "--vectors", "4") == 0
    out = capsys.readouterr().out
    assert time.monotonic() - start < 30
    for stage in ("vectors", "export", "render", "build", "emulate"):
        assert f"[{stage}] up to date, skipped" in out, out


def test_hardware_only_board_is_built_not_run(tmp_path, ir_file, capsys):
    assert deploy("--board", "nucleo-f446re", "--ir", str(ir_file), "--build-dir",
                  str(tmp_path), "--vectors", "2") == 0
    board_dir = tmp_path / ir_file.parent.name / "nucleo-f446re"
    rep = json.loads((board_dir / "report.json").read_text())
    assert rep["emulated"] is False and rep["mismatches"] is None
    assert (board_dir / "firmware.bin").is_file() and not (board_dir / "qemu.log").exists()
    assert "hardware-only" in (board_dir / "report.md").read_text()


def test_unknown_board_fails_before_any_work(tmp_path, ir_file, capsys):
    assert deploy("--board", "no-such-board", "--ir", str(ir_file), "--build-dir",
                  str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {UnknownBoardError.__name__}") and "mps2-an386" in err
    assert not any(tmp_path.iterdir())


def test_unknown_board_from_make_is_one_clear_line(tmp_path, ir_file):
    proc = subprocess.run([sys.executable, "-m", "pipeline", "deploy", "--board", "nope",
                           "--ir", str(ir_file), "--build-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: UnknownBoardError")


def over_budget_model():
    """3x3 conv to 256 channels at 28x28: a 25 KiB activation, over the microbit's 16 KiB RAM."""
    rng = np.random.default_rng(0)
    t = random_ir.random_thermometer(rng, (28, 28, 1), 4)
    conv = random_ir.random_bconv2d(rng, t.out_shape, 256, 3, 1, 1, 1)
    out = random_ir.random_bdense(rng, conv.out_shape, 10, output=True)
    return ir.Model((t, conv, out)).validate()


def test_over_budget_fails_with_size_table_and_no_report(tmp_path, capsys):
    path = tmp_path / "big" / "model.ir.json"
    over_budget_model().save(path)
    board_dir = tmp_path / "big" / "microbit"
    board_dir.mkdir(parents=True)
    (board_dir / "report.json").write_text("{}")  # a stale success must not survive
    assert deploy("--board", "microbit", "--ir", str(path), "--build-dir", str(tmp_path),
                  "--vectors", "1") == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"error: {build.BudgetExceededError.__name__}")
    assert len(err.strip().splitlines()) == 1  # one line names the error; the table is on stdout
    assert "budget" in err and ".bss" in out
    assert not (board_dir / "report.json").exists()
    assert not (board_dir / "size.json").exists()


def test_too_many_vectors_says_how_many_fit(tmp_path, capsys):
    """VECTORS=500 on a small board: the error says how much of the image is test vectors and
    how many fit, and that many then deploy (the issue: it only said 'shrink the model')."""
    rng = np.random.default_rng(3)
    t = random_ir.random_thermometer(rng, (28, 28, 1), 2)
    conv = random_ir.random_bconv2d(rng, t.out_shape, 8, 3, 2, 1, 1)
    out = random_ir.random_bdense(rng, conv.out_shape, 10, output=True)
    path = ir.Model((t, conv, out)).validate().save(tmp_path / "v" / "model.ir.json")
    args = ["--board", "microbit", "--ir", str(path), "--build-dir", str(tmp_path / "b")]
    assert deploy(*args, "--vectors", "500") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: VectorsOverBudgetError") and len(err.strip().splitlines()) == 1
    per_vector = 28 * 28 + 4 * 10
    assert f"take {500 * per_vector:,} B ({per_vector:,} B each)" in err
    fit = int(re.search(r"at most (\d+) fit", err).group(1))
    assert 1 <= fit < 500
    assert deploy(*args, "--vectors", str(fit)) == 0
    rep = json.loads((tmp_path / "b" / "v" / "microbit" / "report.json").read_text())
    assert rep["vectors"] == fit and rep["mismatches"] == 0
    assert deploy(*args, "--vectors", str(fit + 1)) == 2  # 'at most' is exact
    assert "VectorsOverBudgetError" in capsys.readouterr().err


def test_without_the_export_extra_deploy_skips_the_exports(tmp_path, ir_file, capsys,
                                                            monkeypatch):
    """A plain `pip install glt-bnn` has no onnx/TensorFlow: deploy --ir still works, says the
    exports were skipped, and the report shows them as not run."""
    from pipeline import deploy as deploy_mod
    monkeypatch.setattr(deploy_mod, "EXPORT_MODULES", ("no_such_module_for_this_test",))
    assert deploy("--board", "nucleo-f446re", "--ir", str(ir_file), "--build-dir",
                  str(tmp_path)) == 0
    assert "[export] skipped: no_such_module_for_this_test not installed" in capsys.readouterr().out
    root = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert not (root / "model.onnx").exists() and not (root / "export.json").exists()
    rep = json.loads((root / "nucleo-f446re" / "report.json").read_text())
    assert rep["accuracy"]["onnx"] is None and rep["accuracy"]["tflite_lce"] is None
