"""Boards as data: one YAML per board in ``boards/``, validated against ``boards/schema.json``.

A :class:`Board` carries what the compiler needs (cpu, fpu, float ABI), the memory map the linker
script is rendered from (as the QEMU machine, or the real part, has it), the **budget** of the real
part the board stands for (flash/RAM bytes; the build stage gates on it), the console, what the
instruction counter needs (SysTick clock) and how QEMU runs it (``qemu: null`` for hardware-only
boards, which are built and size-checked but never run).

`python -m pipeline boards` prints the table of known boards.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import resources
from .errors import PipelineError

BOARDS_DIR = resources.boards_dir()
SCHEMA_PATH = BOARDS_DIR / "schema.json"

# An instruction must span this many SysTick ticks for the counter to be exact: each of the two
# reads is off by less than one tick, so the rounding error stays below 2/8 of an instruction.
MIN_TICKS_PER_INSTRUCTION = 8
SYSTICK_PERIOD_MAX = 1 << 24  # SysTick is a 24-bit down-counter
CPUS_WITHOUT_FPU = {"cortex-m0", "cortex-m0plus", "cortex-m1", "cortex-m3", "cortex-m23"}


class BoardError(PipelineError):
    """Base class of board errors."""


class UnknownBoardError(BoardError, KeyError):
    """No ``boards/<name>.yaml``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class InvalidBoardError(BoardError, ValueError):
    """A board file breaks the schema or an invariant the schema cannot express."""


@dataclass(frozen=True)
class MemoryRegion:
    origin: int
    size: int

    @property
    def end(self) -> int:
        return self.origin + self.size

    def contains(self, address: int) -> bool:
        return self.origin <= address < self.end


@dataclass(frozen=True)
class Budget:
    """Flash and RAM bytes of the real part the board stands for."""
    flash: int
    ram: int


@dataclass(frozen=True)
class Counter:
    """The instruction counter's source: SysTick, its clock (processor or reference) and the
    frequency of that clock."""
    source: str
    clock_hz: int
    clock: str = "processor"


@dataclass(frozen=True)
class QemuConfig:
    machine: str
    icount_shift: int  # -icount shift=N: one instruction lasts 2**N ns of virtual time
    cpu: str | None = None
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    cpu: str  # gcc -mcpu
    fpu: str  # gcc -mfpu, or "none"
    float_abi: str  # soft | softfp | hard
    flash: MemoryRegion
    ram: MemoryRegion
    budget: Budget
    stack_size: int
    console: str
    counter: Counter
    qemu: QemuConfig | None
    path: Path

    @property
    def emulatable(self) -> bool:
        return self.qemu is not None

    @property
    def has_fpu(self) -> bool:
        return self.fpu != "none"

    def cpu_flags(self) -> list[str]:
        """gcc flags selecting the instruction set and float ABI."""
        flags = ["-mthumb", f"-mcpu={self.cpu}", f"-mfloat-abi={self.float_abi}"]
        if self.has_fpu and self.float_abi != "soft":
            flags.append(f"-mfpu={self.fpu}")
        return flags

    def ticks_per_instruction(self) -> Fraction:
        """SysTick ticks per instruction under QEMU ``-icount shift=N`` (2**N ns each)."""
        if self.qemu is None:
            raise InvalidBoardError(f"{self.name} is hardware-only: no emulated instructions")
        return Fraction(self.counter.clock_hz * 2**self.qemu.icount_shift, 10**9)

    def systick_reload(self, max_period: int = SYSTICK_PERIOD_MAX) -> int:
        """The SysTick reload: the longest period (ticks) up to ``max_period`` that lasts a whole
        number of instructions. QEMU re-arms the timer every wrap with the period rounded to
        whole nanoseconds; such a period keeps the emulated timer from drifting."""
        granule = 1 if self.qemu is None else self.ticks_per_instruction().numerator
        if granule > max_period:
            raise InvalidBoardError(f"{self.name}: no SysTick period up to {max_period} ticks "
                                    f"lasts a whole number of instructions (granule {granule})")
        return granule * (max_period // granule) - 1

    def exact_clock_period(self) -> bool:
        """Whether QEMU holds the SysTick clock period exactly: it keeps periods in units of
        2**-32 ns (25 MHz fits, 21 MHz does not). An inexact period loses 1 ns per SysTick wrap,
        so very long regions can read one instruction off (the board's description says how
        long is safe)."""
        return (2**32 * 10**9) % self.counter.clock_hz == 0

    def count_ratio(self) -> Fraction:
        """Counted units per SysTick tick: instructions under QEMU ``-icount``, 1 (cycles) on
        hardware. ``instructions = ticks * 1e9 / (clock_hz * 2**shift)``."""
        if self.qemu is None:
            return Fraction(1)
        return Fraction(10**9, self.counter.clock_hz * 2**self.qemu.icount_shift)


def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _schema_errors(doc: Any) -> list[str]:
    errors = sorted(_schema_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors]


def _invariant_errors(board: Board, expected_name: str) -> list[str]:
    errs = []
    if board.name != expected_name:
        errs.append(f"name {board.name!r} must match the file name {expected_name!r}")
    if board.float_abi != "soft" and not board.has_fpu:
        errs.append(f"float_abi {board.float_abi} needs an fpu")
    if board.cpu in CPUS_WITHOUT_FPU and board.has_fpu:
        errs.append(f"{board.cpu} has no FPU: set fpu: none")
    if board.flash.origin < board.ram.end and board.ram.origin < board.flash.end:
        errs.append("flash and ram regions overlap")
    for region in ("flash", "ram"):
        if getattr(board.budget, region) > getattr(board, region).size:
            errs.append(f"budget.{region} exceeds the memory map's {region} size")
    if board.qemu is None and board.counter.clock != "processor":
        errs.append("a hardware-only board counts cycles: counter.clock must be processor")
    if board.stack_size >= board.budget.ram:
        errs.append("stack_size must be smaller than budget.ram")
    if board.qemu is not None:
        ticks = board.ticks_per_instruction()
        if ticks.numerator > SYSTICK_PERIOD_MAX:
            errs.append(f"counter.clock_hz with icount_shift {board.qemu.icount_shift} leaves no "
                        "SysTick period of a whole number of instructions")
        if ticks < MIN_TICKS_PER_INSTRUCTION:
            errs.append(f"qemu.icount_shift {board.qemu.icount_shift} gives {float(ticks):.2f} "
                        f"SysTick ticks per instruction; raise it so there are at least "
                        f"{MIN_TICKS_PER_INSTRUCTION} (exact counting)")
    return errs


def _from_doc(doc: dict, path: Path) -> Board:
    qemu = doc["qemu"]
    return Board(
        name=doc["name"],
        description=" ".join(doc["description"].split()),
        cpu=doc["cpu"],
        fpu=doc["fpu"],
        float_abi=doc["float_abi"],
        flash=MemoryRegion(**doc["memory"]["flash"]),
        ram=MemoryRegion(**doc["memory"]["ram"]),
        budget=Budget(**doc["budget"]),
        stack_size=doc["stack_size"],
        console=doc["console"],
        counter=Counter(**doc["counter"]),
        qemu=None if qemu is None else QemuConfig(
            machine=qemu["machine"], icount_shift=qemu["icount_shift"], cpu=qemu.get("cpu"),
            extra_args=tuple(qemu.get("extra_args", ()))),
        path=path,
    )


def load_board_file(path: Path | str) -> Board:
    """Load and validate one board YAML; the board's name must equal the file's stem."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidBoardError(f"cannot read board file {path}: {exc}") from exc
    problems = _schema_errors(doc)
    if not problems:
        board = _from_doc(doc, path)
        problems = _invariant_errors(board, path.stem)
    if problems:
        raise InvalidBoardError(f"board file {path} is invalid ({SCHEMA_PATH.name}): "
                                + "; ".join(problems))
    return board


def board_names() -> list[str]:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.yaml"))


@lru_cache(maxsize=None)
def _load_cached(path: Path, mtime_ns: int) -> Board:
    return load_board_file(path)


def load_board(name: str) -> Board:
    """The board ``boards/<name>.yaml``; :class:`UnknownBoardError` lists the known ones."""
    path = BOARDS_DIR / f"{name}.yaml"
    if "/" in name or "\\" in name or not path.is_file():
        raise UnknownBoardError(f"unknown board {name!r}; known boards: "
                                f"{', '.join(board_names())} (files in {BOARDS_DIR})")
    return _load_cached(path, path.stat().st_mtime_ns)


def all_boards() -> list[Board]:
    return [load_board(n) for n in board_names()]


def _kib(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} B"


def format_table(boards: list[Board]) -> str:
    header = ("board", "cpu", "fpu", "flash budget", "ram budget", "qemu machine")
    rows = [header] + [
        (b.name, b.cpu, b.fpu if b.float_abi == "soft" else f"{b.fpu} ({b.float_abi})",
         _kib(b.budget.flash), _kib(b.budget.ram),
         b.qemu.machine if b.qemu else "- (hardware only)")
        for b in boards]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show one board's record in full")


def run(args: argparse.Namespace) -> int:
    if args.name:
        b = load_board(args.name)
        print(format_table([b]))
        print(f"\n{b.description}\nflash {b.flash.origin:#010x}+{_kib(b.flash.size)}, "
              f"ram {b.ram.origin:#010x}+{_kib(b.ram.size)}, stack {b.stack_size} B, "
              f"counter {b.counter.source} @ {b.counter.clock_hz} Hz"
              + (f", qemu -icount shift={b.qemu.icount_shift}" if b.qemu else ""))
        if b.qemu and not b.exact_clock_period():
            print("note: QEMU cannot hold this SysTick period exactly (see the description)")
        return 0
    print(format_table(all_boards()))
    return 0
