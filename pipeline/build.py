"""The build stage: C sources + board -> firmware.elf/.map/.bin/.hex and size.json, budget-gated.

:func:`build_firmware` compiles with the board's CPU flags, links against the platform
(``firmware_templates/platform``: startup, fault handler, semihosting console, instruction
counter) with a linker script rendered from the board's memory map, and measures every allocated
section with ``arm-none-eabi-size -A``. An image over the board's budget raises
:class:`BudgetExceededError` (a readable table) and leaves no artifacts; compiler and linker
errors raise :class:`BuildError` with the tool's output. Artifacts appear only after a complete,
within-budget build (written in a temporary folder, then moved into place).

`python -m pipeline build --board B SRC_DIR` builds what `render` wrote into SRC_DIR (its
``harness/``, ``model/`` and ``runtime/``), or else every ``*.c`` under SRC_DIR.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import jinja2
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from . import resources
from .atomic import writable_dir
from .boards import Board, MemoryRegion, load_board
from .errors import PipelineError
from .toolchain import arm_tool

PLATFORM_DIR = resources.platform_dir()
LINKER_TEMPLATE = "linker.ld.j2"
ARTIFACTS = ("firmware.elf", "firmware.map", "firmware.bin", "firmware.hex", "linker.ld",
             "size.json")
C_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-g", "-ffunction-sections", "-fdata-sections",
           "-fno-common")
LINK_FLAGS = ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections",
              "-Wl,--no-warn-rwx-segments")


class BuildError(PipelineError):
    """The compiler or linker failed; the message carries its output."""


class BudgetExceededError(PipelineError):
    """The image does not fit the board's flash or RAM budget. ``report``: the size report
    (flash_bytes, ram_bytes, budget, sections) when the image could be measured, else None."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class BuildResult:
    elf: Path
    map: Path
    bin: Path
    hex: Path
    size: dict  # the content of size.json
    size_json: Path


def platform_sources() -> list[Path]:
    return sorted(PLATFORM_DIR.glob("*.c"))


def render_linker_script(board: Board) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PLATFORM_DIR)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(LINKER_TEMPLATE).render(board=board, stack_size=board.stack_size)


def board_defines(board: Board) -> dict[str, str]:
    """Macros the platform reads: FPU presence and the counter's ticks -> instructions ratio."""
    ratio = board.count_ratio()
    return {
        "BNN_BOARD_NAME": f'"{board.name}"',
        "BNN_CPU_HAS_FPU": "1" if board.has_fpu else "0",
        "BNN_ICOUNT_NUM": f"{ratio.numerator}ull",
        "BNN_ICOUNT_DEN": f"{ratio.denominator}ull",
        "BNN_COUNT_IS_CYCLES": "0" if board.emulatable else "1",
        "BNN_SYSTICK_RELOAD": f"{board.systick_reload():#010x}u",
        "BNN_SYSTICK_CLKSOURCE": "1" if board.counter.clock == "processor" else "0",
    }


def _with_platform(sources: Iterable[Path]) -> list[Path]:
    """The caller's sources plus each platform file they do not already carry a copy of (the
    render stage copies the platform into its output folder)."""
    sources = [Path(s) for s in sources]
    names = {s.name for s in sources}
    return sources + [p for p in platform_sources() if p.name not in names]


def _compile_command(board: Board, sources: Sequence[Path], include_dirs: Sequence[Path],
                     defines: Mapping[str, str | None], opt: str, extra_cflags: Sequence[str],
                     work: Path) -> list[str]:
    cmd = [arm_tool("gcc"), *board.cpu_flags(), opt, *C_FLAGS, *extra_cflags]
    cmd += [f"-I{d}" for d in [*include_dirs, PLATFORM_DIR]]
    cmd += [f"-D{k}" if v is None else f"-D{k}={v}" for k, v in defines.items()]
    cmd += [str(s) for s in sources]
    cmd += [*LINK_FLAGS, f"-T{work / 'linker.ld'}", f"-Wl,-Map={work / 'firmware.map'}",
            "-o", str(work / "firmware.elf")]
    return cmd


def _run(cmd: list[str], what: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{proc.stderr.strip()}\n"
                         f"command: {' '.join(cmd)}")
    return proc.stdout


def _section_sizes(elf: Path) -> list[tuple[str, int, int]]:
    """(name, bytes, address) of every section, as `arm-none-eabi-size -A` reports them."""
    out = _run([arm_tool("size"), "-A", "-d", str(elf)], "arm-none-eabi-size")
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            rows.append((parts[0], int(parts[1]), int(parts[2])))
    return rows


def size_report(board: Board, elf: Path, image_bytes: int) -> dict:
    """Flash and RAM use by section. Only allocated sections count; an initialised RAM section
    (.data) also occupies flash, where its initial values are stored. ``image_bytes`` is the
    size of the flash image (firmware.bin): what it holds beyond the sections is alignment
    padding between them, which occupies flash too."""
    with open(elf, "rb") as f:
        headers = {s.name: s.header for s in ELFFile(f).iter_sections()}
    sections = []
    for name, nbytes, address in _section_sizes(elf):
        header = headers[name]
        if not header.sh_flags & SH_FLAGS.SHF_ALLOC or nbytes == 0:
            continue
        in_ram = board.ram.contains(address)
        stored = header.sh_type != "SHT_NOBITS"
        sections.append({"name": name, "address": address, "bytes": nbytes,
                         "flash": nbytes if stored else 0, "ram": nbytes if in_ram else 0})
    padding = image_bytes - sum(s["flash"] for s in sections)
    if padding < 0:
        raise BuildError(f"firmware.bin ({image_bytes} bytes) is smaller than its sections")
    flash = image_bytes
    ram = sum(s["ram"] for s in sections)
    return {
        "board": board.name,
        "tool": "arm-none-eabi-size -A",
        "sections": sections,
        "flash_padding_bytes": padding,
        "flash_bytes": flash,
        "ram_bytes": ram,
        "budget": {"flash": board.budget.flash, "ram": board.budget.ram},
        "stack_bytes": board.stack_size,
        "within_budget": flash <= board.budget.flash and ram <= board.budget.ram,
    }


def budget_table(report: dict) -> str:
    rows = [("section", "flash bytes", "ram bytes")]
    rows += [(s["name"], str(s["flash"]), str(s["ram"])) for s in report["sections"]]
    rows.append(("(alignment padding)", str(report["flash_padding_bytes"]), "0"))
    rows.append(("total", str(report["flash_bytes"]), str(report["ram_bytes"])))
    rows.append(("budget", str(report["budget"]["flash"]), str(report["budget"]["ram"])))
    over = [report["flash_bytes"] - report["budget"]["flash"],
            report["ram_bytes"] - report["budget"]["ram"]]
    rows.append(("over by", *(str(o) if o > 0 else "-" for o in over)))
    w0 = max(len(r[0]) for r in rows)
    w = [max(len(r[i]) for r in rows) for i in (1, 2)]
    return "\n".join(f"  {r[0]:<{w0}}  {r[1]:>{w[0]}}  {r[2]:>{w[1]}}" for r in rows)


def _over_budget_message(board: Board, report: dict) -> str:
    return (f"firmware does not fit the budget of {board.name} ({board.path.name}):\n"
            f"{budget_table(report)}\n"
            "shrink the model (fewer planes or channels, more block pruning) or pick a board "
            "with a larger budget")


def _link_overflow(board: Board, error: BuildError) -> BudgetExceededError | None:
    """The linker's own region overflow (image larger than the memory map itself)."""
    lines = [ln for ln in str(error).splitlines()
             if "overflowed by" in ln or "will not fit in region" in ln or "RAM overflow" in ln]
    if not lines:
        return None
    return BudgetExceededError(
        f"firmware does not fit the memory of {board.name} (budget flash {board.budget.flash} "
        f"bytes, ram {board.budget.ram} bytes); the linker says:\n  " + "\n  ".join(lines)
        + "\nshrink the model or pick a board with a larger budget")


MEASURE_REGION_BYTES = 64 << 20


def _measure_overflow(board: Board, cmd: list[str], work: Path) -> BudgetExceededError | None:
    """The image overflows the memory map itself: link it again into oversized regions only to
    measure it, so the error shows the same section table as any other budget failure."""
    big = replace(board, flash=MemoryRegion(board.flash.origin, MEASURE_REGION_BYTES),
                  ram=MemoryRegion(board.ram.origin, MEASURE_REGION_BYTES))
    measure = work / "measure"
    measure.mkdir()
    (measure / "linker.ld").write_text(render_linker_script(big))
    relink = [str(measure / "linker.ld") if a == f"-T{work / 'linker.ld'}" else a for a in cmd]
    relink = [f"-T{a}" if a == str(measure / "linker.ld") else a for a in relink]
    relink = [str(measure / "firmware.elf") if a == str(work / "firmware.elf") else a
              for a in relink]
    relink = [a for a in relink if not a.startswith("-Wl,-Map=")]
    try:
        _run(relink, "arm-none-eabi-gcc (measuring an oversized image)")
    except BuildError:
        return None
    bin_path = measure / "firmware.bin"
    _run([arm_tool("objcopy"), "-O", "binary", str(measure / "firmware.elf"), str(bin_path)],
         "objcopy")
    report = size_report(big, measure / "firmware.elf", bin_path.stat().st_size)
    report["budget"] = {"flash": board.budget.flash, "ram": board.budget.ram}
    return BudgetExceededError(_over_budget_message(board, report), report)


def _remove_stale(out_dir: Path) -> None:
    for name in ARTIFACTS:
        (out_dir / name).unlink(missing_ok=True)


def build_firmware(board: Board, sources: Iterable[Path | str],
                   include_dirs: Iterable[Path | str], out_dir: Path | str,
                   defines: Mapping[str, str | None] | None = None, opt: str = "-O2",
                   extra_cflags: Sequence[str] = (), with_platform: bool = True,
                   linker_script: Path | str | None = None) -> BuildResult:
    """Compile and link ``sources`` for ``board`` into ``out_dir``; see the module docstring.

    ``linker_script``: use this file (e.g. the ``harness/linker.ld`` that `render` wrote)
    instead of rendering one from the board's memory map."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = _with_platform(sources) if with_platform else [Path(s) for s in sources]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise BuildError(f"source files not found: {', '.join(missing)}")
    all_defines = {**board_defines(board), **(defines or {})}
    _remove_stale(out_dir)  # a failed build must not leave the previous success behind
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
        work = Path(tmp)
        if linker_script is not None:
            (work / "linker.ld").write_text(Path(linker_script).read_text())
        else:
            (work / "linker.ld").write_text(render_linker_script(board))
        cmd = _compile_command(board, sources, [Path(d) for d in include_dirs], all_defines,
                               opt, extra_cflags, work)
        try:
            _run(cmd, "arm-none-eabi-gcc")
        except BuildError as exc:
            overflow = _link_overflow(board, exc)
            if overflow is None:
                raise
            raise _measure_overflow(board, cmd, work) or overflow from None
        elf = work / "firmware.elf"
        objcopy = arm_tool("objcopy")
        _run([objcopy, "-O", "binary", str(elf), str(work / "firmware.bin")], "objcopy")
        _run([objcopy, "-O", "ihex", str(elf), str(work / "firmware.hex")], "objcopy")
        report = size_report(board, elf, (work / "firmware.bin").stat().st_size)
        if not report["within_budget"]:
            raise BudgetExceededError(_over_budget_message(board, report), report)
        (work / "size.json").write_text(json.dumps(report, indent=1) + "\n")
        for name in ARTIFACTS:  # size.json last: it is the mark of a complete build
            os.replace(work / name, out_dir / name)
    return BuildResult(elf=out_dir / "firmware.elf", map=out_dir / "firmware.map",
                       bin=out_dir / "firmware.bin", hex=out_dir / "firmware.hex",
                       size=report, size_json=out_dir / "size.json")


def _parse_define(text: str) -> tuple[str, str | None]:
    name, sep, value = text.partition("=")
    return name, (value if sep else None)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="folder of C sources (every *.c below it), e.g. "
                        "what `render` wrote: build/<model>/<board>")
    parser.add_argument("--board", required=True, help="board name (python -m pipeline boards)")
    parser.add_argument("--out", type=Path,
                        help="output folder (default: SRC itself when it is a rendered folder "
                             "with harness/, the parent of SRC when SRC is named src, else "
                             "SRC/build)")
    parser.add_argument("--opt", default="-O2", help="optimisation flag (default -O2)")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]")


def run(args: argparse.Namespace) -> int:
    board = load_board(args.board)
    src = args.src
    if not src.is_dir():
        raise BuildError(f"source folder {src} does not exist")
    rendered = [src / d for d in ("harness", "model", "runtime")]
    linker_script = None
    if all(d.is_dir() for d in rendered):  # what `render` wrote: the harness links the library
        sources = [f for d in rendered for f in sorted(d.glob("*.c"))]
        include_dirs = rendered
        if (src / "harness" / "linker.ld").is_file():
            linker_script = src / "harness" / "linker.ld"
    else:
        sources = sorted(src.rglob("*.c"))
        include_dirs = sorted({s.parent for s in src.rglob("*.h")} | {src})
    if not sources:
        raise BuildError(f"no *.c files under {src}")
    if args.out:
        out = args.out
    elif (src / "harness").is_dir():
        out = src
    else:
        out = src.parent if src.name == "src" else src / "build"
    out = writable_dir(out)
    result = build_firmware(board, sources, include_dirs, out,
                            dict(_parse_define(d) for d in args.defines), opt=args.opt,
                            linker_script=linker_script)
    size = result.size
    print(f"built {result.elf}: flash {size['flash_bytes']} / {size['budget']['flash']} bytes, "
          f"ram {size['ram_bytes']} / {size['budget']['ram']} bytes ({board.name})")
    return 0
