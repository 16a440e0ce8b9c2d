"""Boards as data: schema validation, invariants, lookup and the `boards` verb."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import boards, build
from pipeline.boards import InvalidBoardError, UnknownBoardError

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_QEMU = {"mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547",
                 "netduinoplus2", "microbit"}
EXPECTED_HARDWARE = {"nucleo-f446re", "nrf52840dk"}


def _doc(name="mps2-an386"):
    return yaml.safe_load((boards.BOARDS_DIR / f"{name}.yaml").read_text())


def _write(tmp_path, doc, stem=None):
    path = tmp_path / f"{stem or doc.get('name', 'board')}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_every_board_file_loads_and_the_set_is_complete():
    loaded = boards.all_boards()
    names = {b.name for b in loaded}
    assert names == EXPECTED_QEMU | EXPECTED_HARDWARE
    assert {b.name for b in loaded if b.emulatable} == EXPECTED_QEMU
    for b in loaded:
        assert b.budget.flash <= b.flash.size and b.budget.ram <= b.ram.size
        assert b.console == "semihosting" and b.counter.source == "systick"


def test_only_netduino_has_a_clock_period_qemu_cannot_hold_exactly():
    inexact = {b.name for b in boards.all_boards() if b.emulatable and not b.exact_clock_period()}
    assert inexact == {"netduinoplus2"}  # its description states the measured safe length


def test_board_records_are_frozen():
    b = boards.load_board("mps2-an386")
    with pytest.raises(AttributeError):
        b.cpu = "cortex-m0"


def test_board_fields_reach_the_compiler_flags():
    m4 = boards.load_board("mps2-an386")
    assert m4.cpu_flags() == ["-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
    m0 = boards.load_board("microbit")
    assert m0.cpu_flags() == ["-mthumb", "-mcpu=cortex-m0", "-mfloat-abi=soft"]
    assert boards.load_board("netduinoplus2").flash.origin == 0x08000000


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(UnknownBoardError) as exc:
        boards.load_board("no-such-board")
    for name in EXPECTED_QEMU | EXPECTED_HARDWARE:
        assert name in str(exc.value)
    with pytest.raises(UnknownBoardError):
        boards.load_board("../boards/mps2-an386")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("budget"), "'budget' is a required property"),
    (lambda d: d.update(cpu="cortex-m85"), "cpu"),
    (lambda d: d["memory"]["flash"].update(size="4M"), "memory/flash/size"),
    (lambda d: d.update(qemu={"machine": "mps2-an386"}), "qemu"),
    (lambda d: d.update(colour="blue"), "Additional properties"),
])
def test_schema_rejects_malformed_board(tmp_path, mutate, message):
    doc = _doc()
    mutate(doc)
    with pytest.raises(InvalidBoardError) as exc:
        boards.load_board_file(_write(tmp_path, doc))
    assert message in str(exc.value)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(fpu="none"), "needs an fpu"),
    (lambda d: d.update(cpu="cortex-m3"), "has no FPU"),
    (lambda d: d["budget"].update(flash=8 * 1024 * 1024), "budget.flash exceeds"),
    (lambda d: d["memory"]["ram"].update(origin=0x1000), "overlap"),
    (lambda d: d["qemu"].update(icount_shift=2), "SysTick ticks per instruction"),
])
def test_invariants_the_schema_cannot_express(tmp_path, mutate, message):
    doc = _doc()
    mutate(doc)
    with pytest.raises(InvalidBoardError) as exc:
        boards.load_board_file(_write(tmp_path, doc))
    assert message in str(exc.value)


def test_name_must_match_file_name(tmp_path):
    with pytest.raises(InvalidBoardError, match="must match the file name"):
        boards.load_board_file(_write(tmp_path, _doc(), stem="renamed"))


def test_yaml_syntax_error_is_a_named_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(InvalidBoardError, match="cannot read"):
        boards.load_board_file(path)


def test_valid_copy_loads_from_any_folder(tmp_path):
    copy = boards.load_board_file(_write(tmp_path, _doc("microbit")))
    official = boards.load_board("microbit")
    assert dataclasses.replace(copy, path=official.path) == official
    assert copy.qemu.machine == "microbit" and copy.ram.size == 16 * 1024


@pytest.mark.parametrize("name", sorted(EXPECTED_QEMU | EXPECTED_HARDWARE))
def test_linker_script_renders_the_memory_map(name):
    b = boards.load_board(name)
    script = build.render_linker_script(b)
    assert f"ORIGIN = {b.flash.origin:#010x}, LENGTH = {b.flash.size}" in script
    assert f"ORIGIN = {b.ram.origin:#010x}, LENGTH = {b.ram.size}" in script
    assert f"__bnn_stack_size = {b.stack_size};" in script


def test_boards_verb_prints_a_table():
    proc = subprocess.run([sys.executable, "-m", "pipeline", "boards"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for name in EXPECTED_QEMU | EXPECTED_HARDWARE:
        assert name in proc.stdout
    assert "hardware only" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "pipeline", "boards", "nope"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "UnknownBoardError" in bad.stderr
