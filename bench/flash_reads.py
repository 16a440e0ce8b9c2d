"""Flash reads per inference, measured: what a model streams from flash on a real part.

Issue 13 asks for the weight words streamed from flash per inference, measured. The QEMU of
this project (7.2, Debian's) has no plugins, so its trace gives the executed PCs but no data
addresses. This module runs the *same firmware image* that the deploy built and QEMU ran a
second time in Unicorn (QEMU's CPU emulation as a library, with memory-access hooks; the
``[bench]`` extra), from the reset vector, and records every data read from the board's flash
region while a measured region is open. It is a measurement of the binary's loads, not a model
of the kernels' access pattern.

* **Regions** are those of the instruction counter (``firmware_templates/platform/icount.c``):
  from the return of ``bnn_icount_start`` up to, not including, the call of ``bnn_icount_stop``,
  less the counter's calibration region (the rule ``bench/cycles.py`` reads off the QEMU trace);
  a second ``bnn_icount_start`` before the stop restarts the region, as it restarts the counter
  (the harness's last per-layer hook starts a region that the whole-inference measurement
  starts again; the cycle model's firmware has no such pair). The deploy harness measures one region per layer of vector 0
  and then the whole inference; the run stops there.
* **Check**: the instructions Unicorn executed in every region must equal the QEMU counter's
  value for that region (``emulation.json``), else :class:`bench.BenchError`: a different
  instruction stream would make the reads meaningless.
* **Attribution**: a read is named by the ELF symbol it falls in. The model's own arrays are
  ``<prefix>_layer<i>_<part>``: ``weights`` (the binary weights; ``sliced``, a dense layer's
  sliced layout, counts as weights: it is those weights plus ``planes + 1`` limit words per
  32 rows), ``params`` (the layer's
  parameter struct, which the kernels read fields of), and per-channel data (``threshold``,
  ``thresholds``, ``flip``, ``mult``, ``bias``); other objects are runtime tables or the
  harness's test vectors (``input``: the application would hold its image in RAM); reads
  inside a function are its literal pool or a ``tbb``/``tbh`` jump table (``literals``).
* **Not counted**: instruction fetches (the code runs from flash on most parts too) and reads
  of RAM (arena, stack). Boards: those QEMU runs (the counts are checked against it) whose core
  Unicorn models and the tests run: Cortex-M0 (microbit), M3 (mps2-an385), M4 (mps2-an386),
  M7 (mps2-an500); not the Cortex-M55 (Unicorn has no Helium) nor the M33 board (its
  TrustZone start-up is not modelled here).

``python -m bench flash [--boards B ...]`` deploys each zoo model (``zoo/*/model.ir.json``:
render, build, QEMU; stage-cached under ``build/bench/flash/``) and writes
``bench/results/flash_reads.json``; ``python -m bench docs`` puts its table in
``docs/benchmarks.md``.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import (RESULTS_DIR, ROOT, WORK_DIR, BenchError, deploy_ir, machine, read_json,
               today, write_json)

RESULT = RESULTS_DIR / "flash_reads.json"
DEPLOY_DIR = WORK_DIR / "flash"
ZOO_DIR = ROOT / "zoo"
#: Boards measured by default: the Cortex-M4 of the issue and the v6-M Cortex-M0.
DEFAULT_BOARDS = ("mps2-an386", "microbit")
#: Read categories, in report order.
CATEGORIES = ("weights", "per_channel", "params", "runtime_tables", "literals", "input", "other")
#: The System Control Space (SysTick, SCB): mapped as plain memory, as Unicorn has no NVIC.
SCS = (0xE0000000, 0x100000)
#: Semihosting operations the platform uses (firmware_templates/platform/semihosting.c):
#: SYS_WRITE0 (console) and SYS_EXIT_EXTENDED (r1 -> {reason, exit code}); SYS_EXIT too.
SYS_WRITE0, SYS_EXIT, SYS_EXIT_EXTENDED = 0x04, 0x18, 0x20
_MODEL_PART = re.compile(r"_layer(\d+)_([a-z0-9_]+)$")


class UnicornMissing(BenchError):
    """The [bench] extra (unicorn) is not installed."""


def _uc_cpu(cpu: str):
    try:
        from unicorn import arm_const
    except ImportError:
        raise UnicornMissing("flash reads need unicorn: pip install -c constraints.txt "
                             "-e '.[bench]' (or `make setup`)") from None
    models = {"cortex-m0": arm_const.UC_CPU_ARM_CORTEX_M0,
              "cortex-m0plus": arm_const.UC_CPU_ARM_CORTEX_M0,
              "cortex-m3": arm_const.UC_CPU_ARM_CORTEX_M3,
              "cortex-m4": arm_const.UC_CPU_ARM_CORTEX_M4,
              "cortex-m7": arm_const.UC_CPU_ARM_CORTEX_M7}
    base = cpu.lower().split("+")[0]
    if base not in models:
        raise BenchError(f"{cpu}: flash reads are measured on {', '.join(sorted(models))} "
                         "only (Unicorn has no Helium; the M33 start-up is not modelled)")
    return models[base]


def check_board(name: str):
    """The :class:`pipeline.boards.Board` ``name`` if its flash reads can be measured: QEMU runs
    it and counts instructions (the check against QEMU needs both) and Unicorn models its core;
    else :class:`BenchError` naming why (``pipeline`` errors for an unknown board pass through)."""
    from pipeline import boards as boards_mod
    board = boards_mod.load_board(name)
    if board.qemu is None:
        raise BenchError(f"{name}: hardware-only board (no QEMU machine): its instruction counts "
                         "cannot be checked; pick a board QEMU runs")
    _uc_cpu(board.cpu)
    return board


@dataclass
class FlashRegion:
    """One measured region: executed instructions (QEMU's convention) and the flash data bytes
    read in it, by symbol name (``<function>:literal`` for reads inside a function)."""
    start_pc: int
    instructions: int = 0
    reads: dict[str, int] = field(default_factory=dict)  # symbol (or "<func>:literal") -> bytes


class _Symbols:
    """The ELF's functions and data objects, for naming a read address."""

    def __init__(self, elf_file):
        table = elf_file.get_section_by_name(".symtab")
        if table is None:
            raise BenchError("the firmware ELF has no symbol table")
        self.by_name: dict[str, tuple[int, int]] = {}
        spans = []
        for s in table.iter_symbols():
            kind = s["st_info"]["type"]
            if kind not in ("STT_FUNC", "STT_OBJECT") or not s.name:
                continue
            addr = s["st_value"] & ~1 if kind == "STT_FUNC" else s["st_value"]
            self.by_name.setdefault(s.name, (addr, s["st_size"]))
            if s["st_size"]:
                spans.append((addr, addr + s["st_size"], s.name, kind == "STT_FUNC"))
        spans.sort()
        self._spans = spans
        self._starts = [s[0] for s in spans]

    def name_of(self, addr: int) -> str:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            lo, hi, name, is_func = self._spans[i]
            if lo <= addr < hi:
                return f"{name}:literal" if is_func else name
        return "?"

    def address(self, name: str) -> int:
        if name not in self.by_name:
            raise BenchError(f"the firmware has no symbol {name}: not a deploy harness build")
        return self.by_name[name][0]


def run_regions(board, elf: Path | str, regions: int,
                max_instructions: int = 400_000_000) -> list[FlashRegion]:
    """Run ``elf`` (built for ``board``) in Unicorn from reset until ``regions`` measured
    regions (after the counter's calibration) have closed; returns them in program order, the
    calibration's instructions subtracted, with the flash data bytes each read by symbol.

    Semihosting (``bkpt 0xAB``) is served for SYS_WRITE0 (ignored) and SYS_EXIT /
    SYS_EXIT_EXTENDED (the run ends; an exit before the regions closed is an error with its
    code); the SysTick and SCB registers are plain memory (no interrupts run, as the counter
    leaves its wrap handler out of the regions anyway). Raises :class:`BenchError` on an
    emulation fault, an exit before the regions closed, or ``max_instructions`` exceeded."""
    from elftools.elf.elffile import ELFFile
    from unicorn import (UC_ARCH_ARM, UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_MODE_MCLASS,
                         UC_MODE_THUMB, Uc, UcError)
    from unicorn import arm_const as A

    from . import cycles

    cpu_model = _uc_cpu(board.cpu)
    elf = Path(elf)
    insns = cycles.disassemble(elf)
    semihosting = {a for a, i in insns.items()
                   if i.mnemonic == "bkpt" and i.operands.lower() in ("0x00ab", "0xab", "#171")}
    # QEMU counts an instruction of an IT block whose condition fails as executed; Unicorn's
    # code hook does not fire for it. An IT counts itself and its whole block (1 to 4
    # instructions, one per letter after the "i"), and the block's instructions that do run
    # are then not counted again.
    it_blocks: dict[int, tuple[int, ...]] = {}
    for a, i in insns.items():
        if re.fullmatch(r"it[te]{0,3}", i.mnemonic):
            block, nxt = [], a + i.size
            for _ in range(len(i.mnemonic) - 1):
                block.append(nxt)
                nxt += insns[nxt].size if nxt in insns else 2
            it_blocks[a] = tuple(block)
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(cpu_model)
    flash, ram = board.flash, board.ram
    for origin, size in ((flash.origin, flash.size), (ram.origin, ram.size), SCS):
        uc.mem_map(origin, size)
    with open(elf, "rb") as f:
        ef = ELFFile(f)
        syms = _Symbols(ef)
        for seg in ef.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]:
                uc.mem_write(seg["p_paddr"], seg.data())  # as flashed: startup copies .data
    start_lo, start_size = syms.by_name.get("bnn_icount_start", (None, 0))
    if start_lo is None:
        raise BenchError(f"{elf}: no bnn_icount_start (not a deploy harness build)")
    stop_pc = syms.address("bnn_icount_stop")
    init_lo, init_size = syms.by_name.get("bnn_icount_init", (0, 0))
    initial_sp = int.from_bytes(uc.mem_read(flash.origin, 4), "little")
    reset = int.from_bytes(uc.mem_read(flash.origin + 4, 4), "little")
    uc.reg_write(A.UC_ARM_REG_SP, initial_sp)

    done: list[FlashRegion] = []
    state = {"open": None, "in_start": False, "calib": None, "exit": None}
    pending_it: set[int] = set()  # instructions of the current IT block, already counted

    def count(region: FlashRegion, addr: int) -> None:
        if addr in pending_it:
            pending_it.discard(addr)
            return
        pending_it.clear()
        block = it_blocks.get(addr)
        region.instructions += 1 + (len(block) if block else 0)
        if block:
            pending_it.update(block)

    def on_code(uc, addr, size, _):
        region = state["open"]
        inside = start_lo <= addr < start_lo + start_size
        if region is not None and inside:  # started again: the counter restarts from here
            region = state["open"] = None
        if region is not None:
            if addr == stop_pc:  # the call of bnn_icount_stop is outside, like the counter
                region.instructions -= 1
                state["open"] = None
                if init_lo <= region.start_pc < init_lo + init_size and state["calib"] is None:
                    state["calib"] = region
                else:
                    done.append(region)
                    if len(done) == regions:
                        uc.emu_stop()
                        return
            else:
                count(region, addr)
        elif state["in_start"] and not inside:  # bnn_icount_start returned: a region opens
            state["open"] = FlashRegion(addr)
            count(state["open"], addr)
        state["in_start"] = inside
        if addr in semihosting:  # r0 = operation, r1 = argument
            op, arg = uc.reg_read(A.UC_ARM_REG_R0), uc.reg_read(A.UC_ARM_REG_R1)
            if op in (SYS_EXIT, SYS_EXIT_EXTENDED):
                state["exit"] = (int.from_bytes(uc.mem_read(arg + 4, 4), "little")
                                 if op == SYS_EXIT_EXTENDED else arg)
                uc.emu_stop()
                return
            uc.reg_write(A.UC_ARM_REG_R0, 0)
            uc.reg_write(A.UC_ARM_REG_PC, (addr + 2) | 1)

    def on_read(uc, access, addr, size, value, _):
        region = state["open"]
        if region is not None:
            name = syms.name_of(addr)
            region.reads[name] = region.reads.get(name, 0) + size

    uc.hook_add(UC_HOOK_CODE, on_code)
    uc.hook_add(UC_HOOK_MEM_READ, on_read, begin=flash.origin, end=flash.end - 1)
    try:
        uc.emu_start(reset | 1, 0xFFFFFFFF, count=max_instructions)
    except UcError as exc:
        pc = uc.reg_read(A.UC_ARM_REG_PC)
        raise BenchError(f"{elf.name} on {board.name}: Unicorn stopped at {pc:#x} "
                         f"({syms.name_of(pc)}): {exc}") from None
    if len(done) < regions:
        why = (f"the firmware exited with code {state['exit']}" if state["exit"] is not None
               else f"{max_instructions:,} instructions ran")
        raise BenchError(f"{elf.name} on {board.name}: {why} after {len(done)} of {regions} "
                         "measured regions")
    calib = state["calib"].instructions if state["calib"] is not None else 0
    for r in done:
        r.instructions -= calib
    return done


def category(name: str, prefix: str) -> str:
    """The read category (:data:`CATEGORIES`) of a symbol name from :class:`_Symbols`."""
    if name.endswith(":literal"):
        return "literals"
    m = _MODEL_PART.search(name)
    if name.startswith(prefix + "_layer") and m:
        part = m.group(2)
        # a dense layer's sliced layout holds its weights (and, per 32 rows, a few limit words)
        return ("weights" if part in ("weights", "sliced") else "params" if part == "params"
                else "per_channel")
    if name.startswith(prefix + "_test_vectors"):
        return "input"
    return "other" if name == "?" else "runtime_tables"


def measure_firmware(board, elf: Path | str, layers: list[dict], inference: int,
                     paths: dict[str, str] | None = None) -> dict:
    """Flash reads of one deploy harness firmware (``elf``, built for ``board``): per layer of
    vector 0 and for the whole inference, bytes read from flash by category and by array.
    ``layers`` are QEMU's per-layer counts (dicts with ``name``, ``kind``, ``instructions``:
    ``emulation.json``'s ``layers`` or ``pipeline.verify``'s ``layer_counts``) and
    ``inference`` its whole-inference count; Unicorn's counts must equal them, else
    :class:`BenchError`. ``paths``: the kernel path per layer name, copied into the rows."""
    regions = run_regions(board, elf, len(layers) + 1)
    qemu = [int(l["instructions"]) for l in layers] + [int(inference)]
    got = [r.instructions for r in regions]
    if got != qemu:
        raise BenchError(f"{elf}: Unicorn executed {got} instructions per region, QEMU "
                         f"counted {qemu}; the reads would be of another instruction stream")
    prefix = _model_prefix(Path(elf))
    paths = paths or {}
    rows = [_row(l["name"], l["kind"], paths.get(l["name"]), r, prefix)
            for l, r in zip(layers, regions[:-1])]
    return {"layers": rows, "inference": _row("inference", "-", None, regions[-1], prefix)}


def measure_deploy(board, deploy_dir: Path) -> dict:
    """:func:`measure_firmware` of a deploy folder (``build/<model>/<board>/``: its
    ``firmware.elf``, the counts of its ``emulation.json``, the paths of its ``report.json``)."""
    emu = read_json(deploy_dir / "emulation.json")
    report = read_json(deploy_dir / "report.json") or {}
    if not emu or not emu.get("layers"):
        raise BenchError(f"{deploy_dir}: no emulation.json with per-layer counts")
    paths = {row.get("name"): row.get("path") for row in report.get("layers", [])
             if isinstance(row, dict)}
    return measure_firmware(board, deploy_dir / "firmware.elf", emu["layers"],
                            emu["inference"], paths)


def _model_prefix(elf: Path) -> str:
    """The model's C name prefix: the harness's test vectors are ``<prefix>_test_vectors``."""
    from elftools.elf.elffile import ELFFile
    with open(elf, "rb") as f:
        for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if s.name.endswith("_test_vectors"):
                return s.name[: -len("_test_vectors")]
    raise BenchError(f"{elf}: no <prefix>_test_vectors symbol (not a deploy harness build)")


def _row(name: str, kind: str, path: str | None, region: FlashRegion, prefix: str) -> dict:
    """One layer's (or the inference's) record: ``instructions``; ``flash_read_bytes`` (every
    flash data read, bytes); ``by_category`` (bytes per :data:`CATEGORIES`); ``weight_words``
    (weight bytes / 4) and ``weight_arrays`` (bytes read per weight array symbol)."""
    by_cat = {c: 0 for c in CATEGORIES}
    for sym, n in region.reads.items():
        by_cat[category(sym, prefix)] += n
    weights = {s: n for s, n in region.reads.items() if category(s, prefix) == "weights"}
    return {"name": name, "kind": kind, "path": path or "-", "instructions": region.instructions,
            "flash_read_bytes": sum(region.reads.values()), "by_category": by_cat,
            "weight_words": by_cat["weights"] // 4, "weight_arrays": weights}


def check_zoo(zoo_dir: Path) -> list[Path]:
    """The zoo's IR files (``<zoo_dir>/*/model.ir.json``), or :class:`BenchError` when there
    are none."""
    models = sorted(Path(zoo_dir).glob("*/model.ir.json"))
    if not models:
        raise BenchError(f"--zoo {zoo_dir}: no <model>/model.ir.json under it")
    return models


def run_flash(boards: tuple[str, ...] = DEFAULT_BOARDS, zoo_dir: Path = ZOO_DIR,
              out: Path = RESULT, log=print) -> dict:
    """Deploy every zoo model on ``boards``, measure its flash reads and write ``out``."""
    from pipeline import ir
    from pipeline.render import name_from_ir_path

    checked = {b: check_board(b) for b in boards}  # before any deploy
    models = check_zoo(zoo_dir)
    rows = []
    for ir_path in models:
        model = ir.Model.load(ir_path)
        weight_bytes = sum(4 * int(layer.weights.size) for layer in model.layers
                           if getattr(layer, "weights", None) is not None)
        for b in boards:
            board = checked[b]
            deploy_ir(ir_path, b, DEPLOY_DIR, "flash", log)
            deploy_dir = DEPLOY_DIR / name_from_ir_path(ir_path) / b
            rec = measure_deploy(board, deploy_dir)
            whole = rec["inference"]
            log(f"[flash] {ir_path.parent.name} on {b}: {whole['weight_words']:,} weight words, "
                f"{whole['flash_read_bytes']:,} flash bytes read per inference")
            rows.append({"model": ir_path.parent.name, "board": b, "cpu": board.cpu,
                         "weight_bytes_stored": weight_bytes,
                         "weight_reads_per_stored_byte": round(
                             whole["by_category"]["weights"] / weight_bytes, 2),
                         **rec})
    doc = {"benchmark": "flash_reads", "date": today(), "machine": machine(),
           "measure": "data bytes read from the board's flash region per inference of vector 0 "
                      "(Unicorn run of the deployed firmware; per region instruction counts "
                      "equal QEMU's), by category; instruction fetches and RAM reads not counted",
           "results": rows}
    write_json(out, doc)
    return doc
