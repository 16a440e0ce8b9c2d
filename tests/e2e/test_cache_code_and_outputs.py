"""The stage cache follows the code and never trusts an output by its existence.

The code test runs deploy from a copy of the checkout (the package, templates, boards and
configs), edits one file of the copy at a time, deploys again and reads which stages ran."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cli, random_ir

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("vectors", "export", "insensor", "render", "build", "emulate")


def ran(output: str) -> set[str]:
    return set(re.findall(r"^\[(\w+)\] running", output, re.M))


@pytest.fixture(scope="module")
def checkout_copy(tmp_path_factory):
    copy = tmp_path_factory.mktemp("checkout")
    for name in ("pipeline", "firmware_templates", "boards", "configs"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


@pytest.mark.slow
def test_edited_code_and_templates_rerun_exactly_the_stages_that_use_them(checkout_copy, tmp_path):
    ir_path = random_ir.random_model(21).save(tmp_path / "m" / "model.ir.json")
    cmd = [sys.executable, "-m", "pipeline", "deploy", "--board", "mps2-an386", "--ir",
           str(ir_path), "--build-dir", str(tmp_path / "build"), "--vectors", "2"]

    def deploy() -> set[str]:
        proc = subprocess.run(cmd, cwd=checkout_copy, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return ran(proc.stdout)

    where = subprocess.run([sys.executable, "-c", "import pipeline; print(pipeline.__file__)"],
                           cwd=checkout_copy, capture_output=True, text=True).stdout
    assert where.startswith(str(checkout_copy))  # the copy runs, not the checkout
    assert deploy() == set(STAGES)
    assert deploy() == set()

    def touch(rel: str, comment: str) -> None:
        path = checkout_copy / rel
        path.write_text(path.read_text() + comment)

    touch("pipeline/verify.py", "\n# edited\n")  # only emulation verifies
    assert deploy() == {"emulate"}
    touch("firmware_templates/platform/linker.ld.j2", "\n/* edited */\n")
    # the harness's linker.ld is rendered from it and the build links with it; a comment
    # leaves the ELF byte-identical, so emulation (whose input is the ELF) need not re-run
    assert deploy() == {"render", "build"}
    touch("pipeline/bits.py", "\n# edited\n")  # packing: everything that reads an IR
    assert {"export", "insensor", "render", "emulate"} <= deploy()


@pytest.mark.slow
def test_deleted_or_edited_outputs_rerun_their_stage(tmp_path, capsys):
    ir_path = random_ir.random_model(22).save(tmp_path / "m" / "model.ir.json")
    args = ["deploy", "--board", "mps2-an386", "--ir", str(ir_path), "--build-dir",
            str(tmp_path / "build"), "--vectors", "2"]
    assert cli.main(args) == 0
    board = tmp_path / "build" / "m" / "mps2-an386"
    model_c = next(p for p in (board / "model").glob("*.c") if not p.name.endswith("_weights.c"))
    model_c.unlink()  # the issue: '[render] up to date, skipped' then BuildError, forever
    capsys.readouterr()
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "[render] running (output" in out and model_c.is_file()
    (board / "firmware.elf").write_bytes(b"not an elf")
    assert cli.main(args) == 0
    assert "[build] running (output" in capsys.readouterr().out


@pytest.mark.slow
def test_interrupted_render_leftovers_are_cleaned(tmp_path, capsys):
    ir_path = random_ir.random_model(23).save(tmp_path / "m" / "model.ir.json")
    board = tmp_path / "build" / "m" / "mps2-an386"
    stale = board / ".render-1234.tmp"
    (stale / "model").mkdir(parents=True)
    (stale / "model" / "half.c").write_text("int")
    assert cli.main(["deploy", "--board", "mps2-an386", "--ir", str(ir_path), "--build-dir",
                     str(tmp_path / "build"), "--vectors", "2"]) == 0
    assert not stale.exists()
