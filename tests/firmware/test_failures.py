"""Named errors of the build and emulate stages: budget, compiler, hang, fault, missing tools."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_helpers import QEMU_BOARDS, ROOT, SMOKE_MAIN, build_smoke, symbol
from pipeline import boards, build, emulate, toolchain
from pipeline.build import BudgetExceededError, BuildError
from pipeline.emulate import FirmwareFaultError, QemuTimeoutError

BIG_IMAGE = """#include <stdint.h>
const uint8_t big_table[BIG_FLASH] = {1};
uint8_t big_buffer[BIG_RAM];
volatile uint32_t sink;
int main(void) { sink = big_table[sink] + big_buffer[sink]; return 0; }
"""


def _big(tmp_path, board_name, flash, ram):
    src = tmp_path / "big.c"
    src.write_text(BIG_IMAGE)
    out = tmp_path / "out"
    return lambda: build.build_firmware(boards.load_board(board_name), [src], [], out,
                                        {"BIG_FLASH": str(flash), "BIG_RAM": str(ram)}), out


def test_within_budget_image_of_the_same_source_builds(tmp_path):
    run, out = _big(tmp_path, "mps2-an386", 1000, 1000)
    assert run().size["within_budget"] and (out / "size.json").is_file()


@pytest.mark.parametrize("flash, ram, over", [(600_000, 16, "flash"), (16, 200_000, "ram")])
def test_over_budget_is_a_readable_table_and_leaves_no_size_json(tmp_path, flash, ram, over):
    board = boards.load_board("mps2-an386")
    run, out = _big(tmp_path, "mps2-an386", 16, 16)
    run()  # a previous successful build in the same folder...
    assert (out / "size.json").is_file()
    run, out = _big(tmp_path, "mps2-an386", flash, ram)
    with pytest.raises(BudgetExceededError) as exc:
        run()
    message = str(exc.value)
    for word in ("section", ".rodata", ".bss", ".stack", "total", "budget", "over by",
                 str(board.budget.flash), str(board.budget.ram)):
        assert word in message
    assert not (out / "size.json").exists()  # ...is not left claiming success
    assert not (out / "firmware.elf").exists()
    assert [p.name for p in out.iterdir()] == []  # no temporary build folder either


def test_image_larger_than_the_memory_map_is_over_budget_too(tmp_path):
    run, out = _big(tmp_path, "microbit", 300_000, 16)  # > 256 KiB: the linker's region check
    with pytest.raises(BudgetExceededError) as err:
        run()
    text = str(err.value)
    # measured in oversized regions: the same section table as any budget failure
    assert "over by" in text and ".rodata" in text and "262144" in text
    assert not (out / "size.json").exists()


def test_compiler_error_carries_the_compilers_stderr(tmp_path):
    src = tmp_path / "broken.c"
    src.write_text("int main(void) { return undeclared_variable; }\n")
    with pytest.raises(BuildError) as exc:
        build.build_firmware(boards.load_board("mps2-an385"), [src], [], tmp_path / "out")
    assert "undeclared_variable" in str(exc.value) and "broken.c" in str(exc.value)
    assert not (tmp_path / "out" / "size.json").exists()


def test_hanging_firmware_times_out(tmp_path):
    fw = build_smoke("mps2-an386", tmp_path, BNN_SMOKE_MODE=1)
    with pytest.raises(QemuTimeoutError) as exc:
        emulate.run_firmware(boards.load_board("mps2-an386"), fw.elf, timeout_s=2)
    assert "BNN hello" in str(exc.value)  # the output before the hang is kept


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_udf_fault_reports_the_faulting_pc(tmp_path, name):
    fw = build_smoke(name, tmp_path, BNN_SMOKE_MODE=2)
    with pytest.raises(FirmwareFaultError) as exc:
        emulate.run_firmware(boards.load_board(name), fw.elf)
    address, _ = symbol(fw.elf, "smoke_udf")  # udf is the function's first instruction
    assert exc.value.pc == address
    assert exc.value.kind == "hardfault"
    assert f"pc={address:#010x}" in str(exc.value)


def test_invalid_address_read_reports_a_pc_inside_the_reader(tmp_path):
    fw = build_smoke("mps2-an386", tmp_path, BNN_SMOKE_MODE=3)
    with pytest.raises(FirmwareFaultError) as exc:
        emulate.run_firmware(boards.load_board("mps2-an386"), fw.elf)
    address, size = symbol(fw.elf, "smoke_bad_read")
    assert address <= exc.value.pc < address + size
    assert "BNN unreachable" not in exc.value.output


def test_hardware_only_board_is_not_emulatable(tmp_path):
    with pytest.raises(emulate.NotEmulatableError):
        emulate.qemu_command(boards.load_board("nucleo-f446re"), tmp_path / "x.elf")


def test_tools_installed_but_off_path_name_the_folder_and_the_searched_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    gcc = Path(shutil.which("arm-none-eabi-gcc", path=os.defpath + ":/usr/bin")).parent
    monkeypatch.setattr(toolchain, "KNOWN_DIRS", (str(gcc),))
    with pytest.raises(toolchain.MissingToolError) as exc:
        toolchain.arm_tool("gcc")
    msg = str(exc.value)
    assert f"installed in {gcc}" in msg and f"PATH={tmp_path}" in msg
    assert "BNN_ARM_TOOLCHAIN_DIR" in msg


def test_missing_tools_say_run_make_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(toolchain, "KNOWN_DIRS", ())  # as on a machine without them
    for find in (lambda: toolchain.arm_tool("gcc"), toolchain.qemu_system_arm):
        with pytest.raises(toolchain.MissingToolError, match="make setup"):
            find()
    with pytest.raises(toolchain.MissingToolError):
        build.build_firmware(boards.load_board("mps2-an385"), [SMOKE_MAIN], [], tmp_path / "o")


def test_parse_records():
    text = "boot noise\nBNN icount region=loop instructions=12\nBNN hello\nBNNx no\n" \
           "BNN vec i=3 logits=-1,2,0\n"
    assert emulate.parse_records(text) == [
        ("icount", {"region": "loop", "instructions": "12"}),
        ("hello", {}),
        ("vec", {"i": "3", "logits": "-1,2,0"}),
    ]
    for bad in ("BNN tag novalue", "BNN tag =1", "BNN tag a=1 a=2"):
        with pytest.raises(emulate.MalformedRecordError):
            emulate.parse_records(bad)


def test_build_and_emulate_verbs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.c").write_text(SMOKE_MAIN.read_text())
    run = [sys.executable, "-m", "pipeline"]
    built = subprocess.run(run + ["build", "--board", "mps2-an500", str(src),
                                  "-D", "BNN_SMOKE_EXIT_CODE=5"],
                           cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    size = json.loads((tmp_path / "size.json").read_text())
    assert size["board"] == "mps2-an500"
    ran = subprocess.run(run + ["emulate", "--board", "mps2-an500", str(tmp_path / "firmware.elf")],
                         cwd=ROOT, capture_output=True, text=True)
    assert ran.returncode == 2, ran.stderr  # a failing firmware is a named error
    assert ran.stderr.startswith("error: FirmwareExitError") and "code 5" in ran.stderr
    assert "BNN hello board=mps2-an500" in ran.stdout
    assert (tmp_path / "qemu.log").read_text().startswith("BNN hello")
    over = subprocess.run(run + ["build", "--board", "microbit", str(src), "--out",
                                 str(tmp_path / "m0"), "-D", "BNN_SMOKE_ITERATIONS=1u",
                                 "--opt=-O0", "-D", "BNN_SMOKE_MODE=9"],
                          cwd=ROOT, capture_output=True, text=True)
    assert over.returncode == 0, over.stderr  # -O0 and extra macros pass through
    missing = subprocess.run(run + ["emulate", "--board", "nrf52840dk",
                                    str(tmp_path / "firmware.elf")],
                             cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 2 and "NotEmulatableError" in missing.stderr
