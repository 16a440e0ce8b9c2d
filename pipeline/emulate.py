"""The emulate stage's runner: an ELF under QEMU, its semihosting output parsed into records.

:func:`run_firmware` runs ``qemu-system-arm -M <machine> -nographic -semihosting-config
enable=on,target=native -icount shift=<board's> -kernel <elf>`` under a timeout and returns the
exit code (SYS_EXIT_EXTENDED), the console output and the ``BNN <tag> key=value ...`` records.
``-icount`` makes execution deterministic and lets the platform's SysTick counter count
instructions exactly (QEMU counts instructions, not cycles). A hang raises
:class:`QemuTimeoutError`, a fault report :class:`FirmwareFaultError` (with the faulting PC), a
hardware-only board :class:`NotEmulatableError`.

`python -m pipeline emulate --board B firmware.elf` runs one image and exits with its code.
"""
from __future__ import annotations

import argparse
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .atomic import write_text_atomic
from .boards import Board, load_board
from .errors import PipelineError
from .toolchain import qemu_system_arm

RECORD_PREFIX = "BNN "
QEMU_MESSAGE = re.compile(r"^qemu(-system-\w+)?: ", re.MULTILINE)  # QEMU's own errors


class EmulationError(PipelineError):
    """QEMU could not run the image."""


class NotEmulatableError(EmulationError):
    """The board has no QEMU machine (``qemu: null``)."""


class QemuTimeoutError(EmulationError):
    """The firmware did not exit in time (a hang or an endless loop)."""


class FirmwareFaultError(EmulationError):
    """The firmware took a fault; ``pc`` is the address of the faulting instruction."""

    def __init__(self, message: str, pc: int, kind: str, output: str):
        super().__init__(message)
        self.pc = pc
        self.kind = kind
        self.output = output


class FirmwareExitError(EmulationError):
    """The firmware ran to its end but exited with a non-zero code (for a model image: the
    number of vectors whose logits or class differed from the expected ones)."""


class MalformedRecordError(EmulationError):
    """A ``BNN`` line does not follow ``BNN <tag> key=value ...``."""


Record = tuple[str, dict[str, str]]


@dataclass(frozen=True)
class EmulationResult:
    exit_code: int
    output: str  # the firmware's console output (semihosting)
    records: list[Record]

    def find(self, tag: str) -> list[dict[str, str]]:
        """The key/value dicts of every record with this tag, in output order."""
        return [values for t, values in self.records if t == tag]


def parse_records(text: str) -> list[Record]:
    """Every ``BNN <tag> key=value key=value ...`` line of ``text`` as (tag, {key: value});
    other lines are ignored. Values stay strings (lists are comma-separated)."""
    records = []
    for line in text.splitlines():
        if not line.startswith(RECORD_PREFIX):
            continue
        tag, *fields = line[len(RECORD_PREFIX):].split()
        values = {}
        for field in fields:
            key, sep, value = field.partition("=")
            if not sep or not key or key in values:
                raise MalformedRecordError(f"bad field {field!r} in record line {line!r}: "
                                           "expected unique key=value fields")
            values[key] = value
        records.append((tag, values))
    return records


def qemu_command(board: Board, elf: Path | str) -> list[str]:
    if board.qemu is None:
        raise NotEmulatableError(f"{board.name} is a hardware-only board (qemu: null in "
                                 f"{board.path.name}): build it and flash it, or pick a QEMU board")
    q = board.qemu
    cmd = [qemu_system_arm(), "-M", q.machine]
    if q.cpu:
        cmd += ["-cpu", q.cpu]
    cmd += ["-nographic", "-semihosting-config", "enable=on,target=native",
            "-icount", f"shift={q.icount_shift}", *q.extra_args, "-kernel", str(elf)]
    return cmd


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _raise_on_fault(board: Board, output: str, records: list[Record]) -> None:
    for tag, values in records:
        if tag == "fault":
            pc = int(values.get("pc", "0x0"), 16)
            kind = values.get("kind", "unknown")
            raise FirmwareFaultError(f"firmware on {board.name} took a {kind} at pc={pc:#010x} "
                                     f"({' '.join(f'{k}={v}' for k, v in values.items())}); "
                                     "look the pc up with arm-none-eabi-addr2line -e firmware.elf",
                                     pc, kind, output)


def run_firmware(board: Board, elf: Path | str, timeout_s: float = 60) -> EmulationResult:
    """Run ``elf`` on ``board`` under QEMU; see the module docstring for the errors."""
    elf = Path(elf)
    cmd = qemu_command(board, elf)
    if not elf.is_file():
        raise EmulationError(f"firmware {elf} does not exist: run the build stage first")
    with open(elf, "rb") as f:
        if f.read(4) != b"\x7fELF":
            raise EmulationError(f"{elf} is not an ELF file: give the firmware.elf written by "
                                 "the build stage")
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        partial = _text(exc.stderr) + _text(exc.stdout)
        raise QemuTimeoutError(f"{elf.name} on {board.name} did not exit within {timeout_s} s "
                               f"(a hang?); raise the timeout if it is just slow. Last output:\n"
                               f"{_tail(partial)}") from None
    # Semihosting console output goes to stderr (target=native), as do QEMU's own messages.
    output = _text(proc.stderr) + _text(proc.stdout)
    records = parse_records(output)
    _raise_on_fault(board, output, records)
    if proc.returncode != 0 and QEMU_MESSAGE.search(output):
        raise EmulationError(f"QEMU stopped {elf.name} on {board.name} (exit {proc.returncode}); "
                             f"a lockup means a fault inside the fault handler or a bad vector "
                             f"table/memory map:\n{_tail(output)}\ncommand: {' '.join(cmd)}")
    return EmulationResult(exit_code=proc.returncode, output=output, records=records)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("elf", type=Path, help="firmware.elf from the build stage")
    parser.add_argument("--board", required=True, help="board name (python -m pipeline boards)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--log", type=Path, help="write the console output here "
                                                 "(default: qemu.log beside the elf)")


def run(args: argparse.Namespace) -> int:
    board = load_board(args.board)
    result = run_firmware(board, args.elf, timeout_s=args.timeout)
    log = args.log or args.elf.parent / "qemu.log"
    write_text_atomic(log, result.output)
    print(result.output, end="" if result.output.endswith("\n") else "\n")
    if result.exit_code != 0:
        raise FirmwareExitError(
            f"{args.elf.name} on {board.name} exited with code {result.exit_code} (a model "
            f"firmware's exit code is its count of vectors that differ from the oracle); "
            f"console output in {log}")
    print(f"exit code 0; {len(result.records)} records; log {log}")
    return 0
