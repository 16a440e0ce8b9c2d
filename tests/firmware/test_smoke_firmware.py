"""The smoke firmware on every board: console, exit code, exact instruction counts, size.json."""
import json
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from firmware_helpers import (HARDWARE_BOARDS, QEMU_BOARDS, SMOKE_EXIT_CODE, SMOKE_ITERATIONS,
                      build_smoke)
from pipeline import boards, emulate, toolchain

LOOP_INSTRUCTIONS_PER_ITERATION = 2  # smoke_loop's body is `subs; bne` (inline asm)


@pytest.fixture(scope="module")
def smoke_runs(smoke_builds):
    """Each QEMU board's smoke firmware run twice (determinism is checked across the two)."""
    return {name: [emulate.run_firmware(boards.load_board(name), smoke_builds[name].elf)
                   for _ in range(2)] for name in QEMU_BOARDS}


def _loop_counts(result):
    return {int(r["iterations"]): int(r["instructions"]) for r in result.find("icount")
            if r["region"] == "loop"}


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_output_and_exit_code_come_back(smoke_runs, name):
    result = smoke_runs[name][0]
    assert result.exit_code == SMOKE_EXIT_CODE
    (hello,) = result.find("hello")
    assert hello["board"] == name
    # the integer formatters against Python's own rendering of the same constants
    assert hello["check"] == ",".join(str(v) for v in (-2**31, -1, 0, 2**31 - 1))
    assert hello["hex"] == f"{0xdeadbeef:#010x}"
    assert hello["u64"] == str(2**64 - 1)
    (arith,) = result.find("arith")
    assert int(arith["sum_squares"]) == sum((i - 20) ** 2 for i in range(64))
    assert int(arith["float_x4"]) == int((1.5 * 1.5 + 0.25) * 4)


@pytest.mark.parametrize("name, vector_mnemonic", [("mps3-an547", "vadd.i32\tq"),
                                                   ("mps2-an386", "vmul.f32")])
def test_startup_enables_fpu_and_mve_before_vectorised_code(tmp_path, name, vector_mnemonic):
    """At -O3 GCC vectorises with MVE on Cortex-M55: without CP10/CP11 enabled in
    Reset_Handler this would take a UsageFault (NOCP)."""
    fw = build_smoke(name, tmp_path, opt="-O3")
    disassembly = subprocess.run([toolchain.arm_tool("objdump"), "-d", str(fw.elf)],
                                 capture_output=True, text=True, check=True).stdout
    assert vector_mnemonic in disassembly
    result = emulate.run_firmware(boards.load_board(name), fw.elf)
    assert result.exit_code == SMOKE_EXIT_CODE
    (arith,) = result.find("arith")
    assert int(arith["sum_squares"]) == sum((i - 20) ** 2 for i in range(64))


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_instruction_count_is_deterministic_and_exactly_linear(smoke_runs, name):
    first, second = smoke_runs[name]
    counts = _loop_counts(first)
    assert counts == _loop_counts(second)
    n = SMOKE_ITERATIONS
    assert sorted(counts) == [n, 2 * n, 3 * n]
    step = counts[2 * n] - counts[n]
    assert step == counts[3 * n] - counts[2 * n]
    assert step == LOOP_INSTRUCTIONS_PER_ITERATION * n  # instructions, not ticks or cycles
    overhead = counts[n] - LOOP_INSTRUCTIONS_PER_ITERATION * n
    assert 0 < overhead < 10  # argument set-up, call and return around the loop
    (empty,) = [r for r in first.find("icount") if r["region"] == "empty"]
    assert int(empty["instructions"]) == 0  # the calibrated call overhead is removed


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_stack_high_water_mark_is_measured(smoke_runs, name):
    (stack,) = smoke_runs[name][0].find("stack")
    board = boards.load_board(name)
    assert int(stack["size"]) == board.stack_size
    # smoke_deep_stack touches 1024 bytes below main's frame: the mark must cover them, plus
    # the small frames of main and the platform, and nothing like the whole stack
    assert 1024 < int(stack["used"]) < 1024 + 512 < board.stack_size
    assert int(stack["sum"]) == sum((7 + i) % 256 for i in range(1024))


@pytest.mark.parametrize("name", QEMU_BOARDS)
def test_counter_survives_many_systick_wraps(smoke_runs, tmp_path, name):
    """A short SysTick period makes the counter wrap hundreds of times inside the loop: the
    software extension and the subtraction of the wrap handler must keep the counts exact
    (the same per-call overhead as the default build, two instructions per iteration)."""
    board = boards.load_board(name)
    granule = board.ticks_per_instruction().numerator  # shortest drift-free period
    reload = board.systick_reload(max_period=granule * -(-16384 // granule))
    assert reload < board.systick_reload()
    n = 20 * SMOKE_ITERATIONS
    fw = build_smoke(name, tmp_path, BNN_SYSTICK_RELOAD=f"{reload:#x}u",
                     BNN_SMOKE_ITERATIONS=f"{n}u")
    counts = _loop_counts(emulate.run_firmware(board, fw.elf))
    default = _loop_counts(smoke_runs[name][0])
    overhead = default[SMOKE_ITERATIONS] - LOOP_INSTRUCTIONS_PER_ITERATION * SMOKE_ITERATIONS
    wraps = counts[3 * n] * board.ticks_per_instruction() / (reload + 1)
    assert wraps > 100
    assert counts == {k * n: LOOP_INSTRUCTIONS_PER_ITERATION * k * n + overhead for k in (1, 2, 3)}


@pytest.mark.parametrize("name", QEMU_BOARDS + HARDWARE_BOARDS)
def test_size_json_accounts_every_allocated_section(smoke_builds, name):
    fw = smoke_builds[name]
    board = boards.load_board(name)
    report = json.loads(fw.size_json.read_text())
    assert report == fw.size
    assert report["within_budget"] and report["board"] == name
    assert report["budget"] == {"flash": board.budget.flash, "ram": board.budget.ram}
    with open(fw.elf, "rb") as f:  # cross-check arm-none-eabi-size against the ELF headers
        elf = ELFFile(f)
        alloc = {s.name: s["sh_size"] for s in elf.iter_sections()
                 if s["sh_flags"] & 0x2 and s["sh_size"] > 0}
        entry = elf.header["e_entry"]
    assert {s["name"]: s["bytes"] for s in report["sections"]} == alloc
    assert report["ram_bytes"] >= board.stack_size
    assert report["flash_bytes"] == fw.bin.stat().st_size  # the image, alignment gaps included
    assert 0 <= report["flash_padding_bytes"] < 256
    assert report["flash_bytes"] == (sum(s["flash"] for s in report["sections"])
                                     + report["flash_padding_bytes"])
    assert board.flash.contains(entry)
    for path in (fw.elf, fw.map, fw.bin, fw.hex):
        assert path.is_file() and path.stat().st_size > 0


@pytest.mark.parametrize("name", HARDWARE_BOARDS)
def test_hardware_only_boards_build_but_do_not_run(smoke_builds, name):
    with pytest.raises(emulate.NotEmulatableError, match="hardware-only"):
        emulate.run_firmware(boards.load_board(name), smoke_builds[name].elf)
