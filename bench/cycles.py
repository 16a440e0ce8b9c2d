"""A Cortex-M4 cycle *model* over an exact QEMU instruction trace (a model, not a measurement).

QEMU counts instructions, not cycles. This module turns the trace of one run (the PC of every
executed instruction, from ``qemu-system-arm -singlestep -d exec,nochain``) into a cycle
estimate with the per-instruction timings of the Cortex-M4 Technical Reference Manual (Arm DDI
0439, r0p1: section 3.3.1 "Table of processor instructions", Table 3-1, and section 3.3.2
"Load/store timings"; the FPU timings from the instruction table of its FPU chapter).

Rules (:func:`instruction_cycles`; P = :data:`PIPELINE_REFILL`):

* data processing, shifts, bit fields, saturation, DSP/SIMD, CLZ/RBIT/REV, MUL/MLA/MLS and the
  long multiplies SMULL/UMULL/SMLAL/UMLAL: 1 cycle (Table 3-1: the M4 multiplier is single-cycle);
* single loads and stores (LDR/LDRB/LDRH/LDRSB/LDRSH/LDREX, STR/STRB/STRH/STREX, PLD): 2 cycles,
  but 1 when the previous instruction was a single load whose destination register is not one of
  this instruction's address registers (3.3.2: "LDR [any] are pipelined when possible ... one
  cycle is removed from the cost of the next instruction"; "nothing can be pipelined after the
  store", so nothing pipelines after a STR); a store with an immediate or no offset costs 1
  (3.3.2: "STR Rx,[Ry,#imm] is always one cycle"), one with a register offset 2;
* LDRD/STRD: 3 cycles, never pipelined with neighbours (3.3.2);
* LDM/STM/PUSH/POP (and VLDM/VSTM/VPUSH/VPOP): 1 + N, N = registers transferred (words);
  with the PC in the list (POP {.., pc}) 1 + N + P;
* LDR into the PC: 2 + P; TBB/TBH: 2 + P + 1 (3.3.2: two for the load, one for the add, refill);
* B, BL, BX, BLX, CBZ/CBNZ and conditional branches: 1 + P when taken, 1 when not taken; taken or
  not is read from the trace (the next executed PC is not the next instruction in memory);
  MOV/ADD to the PC: 1 + P;
* IT: 0 cycles when it follows a 16-bit instruction (it is folded into it, Table 3-1 note), else 1;
  an instruction whose IT condition fails still costs 1 cycle (QEMU counts it as executed too);
* SDIV/UDIV: :data:`DIVIDE_CYCLES` (Table 3-1: 2 to 12 with early termination on the operands,
  which the trace does not carry; we take the worst case);
* FPU (Table 7-1): VLDR/VSTR 2, VDIV/VSQRT 14, VMLA/VMLS/VNMLA/VNMLS/VFMA/VFMS/VFNMA/VFNMS 3, the
  rest 1; barriers DMB/DSB 1, ISB 1 + P; anything else 1.

What the model ignores (why it is a model): memory wait states (zero-wait-state flash and RAM
assumed, as Table 3-1 does; a real part at 100+ MHz has flash wait states hidden only partly by
its prefetch/ART cache), bus contention between instruction fetch and data access (e.g. the extra
cycle an ``LDR Rx,[PC,#imm]`` may take), the one-cycle stall of a load/store whose address was
just computed by the preceding instruction (3.3.2 mentions it; it is not in Table 3-1), branch
target alignment (P is fixed), data-dependent division time, unaligned accesses, and exception
entry/return (12 cycles each on silicon; the SysTick wrap handler of the counter is left out of
the measured regions, as the instruction counter leaves it out).

A measured region is what ``bnn_icount_start``/``bnn_icount_stop`` bracket (the platform's
instruction counter, firmware_templates/platform/icount.c): the instructions executed after
``bnn_icount_start`` returns up to, not including, the call of ``bnn_icount_stop``, less those of
the counter's calibration (an empty region measured in ``bnn_icount_init``). So the trace's
instruction count of a region equals the counter's reported count, which
:func:`check_regions` checks.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from pipeline.toolchain import arm_tool

#: Pipeline refill after a taken branch, in cycles. Table 3-1 gives P = 1 to 3 "depending on the
#: alignment and width of the target instruction, and whether the processor manages to speculate
#: the address early"; 2 is the middle of that range (a 32-bit or unaligned target costs more,
#: an early-speculated 16-bit aligned one less).
PIPELINE_REFILL = 2
#: SDIV/UDIV cycles: Table 3-1 gives 2 to 12 (early termination); the worst case, so the model
#: does not flatter a kernel that divides.
DIVIDE_CYCLES = 12

MODEL_NOTE = ("cycle MODEL, not a measurement: Cortex-M4 TRM (Arm DDI 0439) Table 3-1 timings "
              f"over the exact QEMU instruction trace, zero-wait-state memory, no bus contention, "
              f"P = {PIPELINE_REFILL} cycles per taken branch, SDIV/UDIV = {DIVIDE_CYCLES}")

_CONDS = "eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al"
_BRANCH = re.compile(rf"^(?:b|bl|blx|bx)(?:{_CONDS})?$")
_IT = re.compile(r"^it[te]{0,3}$")
_SINGLE_LOAD = re.compile(rf"^(?:ldr|ldrb|ldrh|ldrsb|ldrsh|ldrt|ldrbt|ldrht|ldrsbt|ldrsht|ldrex|"
                          rf"ldrexb|ldrexh|pld|pli)(?:{_CONDS})?$")
_SINGLE_STORE = re.compile(rf"^(?:str|strb|strh|strt|strbt|strht|strex|strexb|strexh)"
                           rf"(?:{_CONDS})?$")
_DOUBLE = re.compile(rf"^(?:ldrd|strd)(?:{_CONDS})?$")
_MULTIPLE = re.compile(rf"^(?:ldm|stm|push|pop|vldm|vstm|vpush|vpop)(?:ia|db|fd|ea)?"
                       rf"(?:{_CONDS})?(?:ia|db)?$")
_DIVIDE = re.compile(rf"^(?:sdiv|udiv)(?:{_CONDS})?$")
_VFP_MAC = re.compile(r"^v(?:n?mla|n?mls|fma|fms|fnma|fnms)")
_REG = re.compile(r"\b(r\d{1,2}|sb|sl|fp|ip|sp|lr|pc)\b")
_ALIASES = {"sb": "r9", "sl": "r10", "fp": "r11", "ip": "r12", "sp": "r13", "lr": "r14",
            "pc": "r15"}

# Classes of the cycle breakdown (cycles_by_class in the results).
CLASSES = ("alu", "mul_div", "load_store", "ldrd_strd", "ldm_stm", "branch", "it", "other")


def _reg(name: str) -> str:
    return _ALIASES.get(name, name)


def _register_list(operands: str) -> list[str]:
    """Registers of a ``{r4, r5, lr}`` / ``{d8-d9}`` list; a D register counts as two words."""
    inside = operands[operands.find("{") + 1:operands.find("}")]
    regs = []
    for item in (s.strip() for s in inside.split(",") if s.strip()):
        lo, _, hi = item.partition("-")
        if hi:  # a range, e.g. s16-s31 or r4-r7
            a, b = int(lo[1:]), int(hi[1:])
            regs += [f"{lo[0]}{i}" for i in range(a, b + 1)]
        else:
            regs.append(item)
    return [_reg(r) for r in regs]


@dataclass(frozen=True)
class Insn:
    """One instruction of the disassembly: address, size in bytes (2 or 4), mnemonic without
    the .w/.n width suffix, operand text as objdump prints it."""
    addr: int
    size: int
    mnemonic: str
    operands: str = ""
    kind: str = field(init=False)
    dest: tuple[str, ...] = field(init=False)  # registers a single load writes (Rt)
    address_regs: tuple[str, ...] = field(init=False)  # registers inside [...]
    words: int = field(init=False)  # registers moved by LDM/STM/PUSH/POP
    writes_pc: bool = field(init=False)

    def __post_init__(self):
        m, ops = self.mnemonic, self.operands.lower()
        bracket = ops[ops.find("["):ops.find("]") + 1] if "[" in ops else ""
        first = _REG.findall(ops.split(",")[0]) if ops else []
        words, writes_pc = 0, False
        if _IT.match(m):
            kind = "it"
        elif _BRANCH.match(m) or m in ("cbz", "cbnz"):
            kind = "branch"
        elif m in ("tbb", "tbh"):
            kind = "table_branch"
        elif _DOUBLE.match(m):
            kind = "double"
        elif _MULTIPLE.match(m):
            kind = "multiple"
            regs = _register_list(ops)
            words = sum(2 if r.startswith("d") else 1 for r in regs)
            writes_pc = "r15" in regs and not m.startswith(("stm", "push", "v"))
        elif _SINGLE_LOAD.match(m):
            kind = "load"
            writes_pc = bool(first) and _reg(first[0]) == "r15"
        elif _SINGLE_STORE.match(m):
            kind = "store"
        elif _DIVIDE.match(m):
            kind = "divide"
        elif m.startswith("v"):
            kind = ("vfp_mem" if m.startswith(("vldr", "vstr")) else
                    "vfp_long" if m.startswith(("vdiv", "vsqrt")) else
                    "vfp_mac" if _VFP_MAC.match(m) else "vfp")
        elif m.startswith(("mul", "mla", "mls", "smul", "umul", "smla", "umla", "smls", "smmu",
                           "smml", "umaal", "smua", "smus")):
            kind = "multiply"
        elif m == "isb":
            kind = "isb"
        else:
            kind = "alu"
            # MOV/ADD with the PC as destination branch (Table 3-1: 1 + P).
            writes_pc = bool(first) and _reg(first[0]) == "r15" and not m.startswith(
                ("cmp", "cmn", "tst", "teq"))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "dest", tuple(_reg(r) for r in first[:1])
                           if kind == "load" else ())
        object.__setattr__(self, "address_regs", tuple(_reg(r) for r in _REG.findall(bracket)))
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "writes_pc", writes_pc)

    @property
    def cls(self) -> str:
        """Its class in the cycle breakdown (one of :data:`CLASSES`)."""
        return {"alu": "alu", "multiply": "mul_div", "divide": "mul_div", "load": "load_store",
                "store": "load_store", "double": "ldrd_strd", "multiple": "ldm_stm",
                "branch": "branch", "table_branch": "branch", "it": "it"}.get(self.kind, "other")


def parse_objdump(text: str) -> dict[int, Insn]:
    """The instructions of ``arm-none-eabi-objdump -d`` output by address (data words skipped)."""
    insns = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[0].strip().endswith(":"):
            continue
        try:
            addr = int(parts[0].strip()[:-1], 16)
        except ValueError:
            continue
        mnemonic = parts[2].strip().lower()
        if not mnemonic or mnemonic.startswith("."):  # .word / .short literal data
            continue
        size = 2 * len(parts[1].split())  # objdump prints Thumb code as 16-bit halfwords
        operands = parts[3].split("@")[0].strip() if len(parts) > 3 else ""
        insns[addr] = Insn(addr, size, mnemonic.split(".")[0], operands)
    return insns


def disassemble(elf: Path | str) -> dict[int, Insn]:
    """Every instruction of ``elf`` by address (arm-none-eabi-objdump -d)."""
    out = subprocess.run([arm_tool("objdump"), "-d", str(elf)], check=True, capture_output=True,
                         text=True).stdout
    return parse_objdump(out)


def symbols(elf: Path | str) -> dict[str, tuple[int, int]]:
    """Function symbols of ``elf``: name -> (start address without the Thumb bit, size)."""
    out = subprocess.run([arm_tool("nm"), "-S", "--defined-only", str(elf)], check=True,
                         capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            syms[parts[3]] = (int(parts[0], 16) & ~1, int(parts[1], 16))
    return syms


def instruction_cycles(insn: Insn, taken: bool, prev: Insn | None) -> int:
    """Modelled cycles of one executed instruction on a Cortex-M4 (zero wait states; see the
    module docstring for the rules and their TRM source). ``taken``: the next executed PC is
    not ``insn.addr + insn.size`` (a branch taken); ``prev``: the instruction executed just
    before in the same region (for load pipelining and IT folding), or None."""
    kind = insn.kind
    if kind in ("alu", "multiply", "vfp"):
        return 1 + PIPELINE_REFILL if insn.writes_pc else 1
    if kind in ("load", "store"):
        if insn.writes_pc:  # LDR PC,[..]: blocking, then a refill
            return 2 + PIPELINE_REFILL
        if prev is not None and prev.kind == "load" and not prev.writes_pc and not (
                set(prev.dest) & set(insn.address_regs)):
            return 1  # pipelined behind the preceding load
        if kind == "store" and len(insn.address_regs) <= 1:
            return 1  # STR Rx,[Ry,#imm]: the data phase overlaps the next instruction (3.3.2)
        return 2
    if kind == "branch":
        return 1 + PIPELINE_REFILL if taken else 1
    if kind == "it":
        return 0 if prev is not None and prev.size == 2 else 1
    if kind == "double":
        return 3
    if kind == "multiple":
        return 1 + insn.words + (PIPELINE_REFILL if insn.writes_pc else 0)
    if kind == "table_branch":
        return 3 + PIPELINE_REFILL
    if kind == "divide":
        return DIVIDE_CYCLES
    if kind == "vfp_mem":
        return 2
    if kind == "vfp_long":
        return 14
    if kind == "vfp_mac":
        return 3
    if kind == "isb":
        return 1 + PIPELINE_REFILL
    return 1


def sequence_cycles(insns: Iterable[Insn], taken: Iterable[bool] | None = None) -> int:
    """Modelled cycles of instructions executed back to back (``taken``: per instruction, whether
    it branched; default none did). For hand-written sequences (tests, examples)."""
    insns = list(insns)
    taken = list(taken) if taken is not None else [False] * len(insns)
    total, prev = 0, None
    for insn, t in zip(insns, taken):
        total += instruction_cycles(insn, t, prev)
        prev = insn
    return total


# --- the QEMU trace ---------------------------------------------------------------------------

def trace_pcs(lines: Iterable[str]) -> Iterator[int]:
    """PCs of the executed instructions in a ``-singlestep -d exec,nochain`` log, one per
    instruction, streamed. QEMU logs a translation block when it enters it, so two log lines
    do not stand for an executed instruction and are dropped: the one before a
    ``cpu_io_recompile: rewound execution`` line (the instruction is re-run after a device
    access), and an immediate repeat of the same PC (the block was entered, found the icount
    budget spent and exited before executing; no code here branches to itself)."""
    pending = None
    for line in lines:
        if line.startswith("Trace "):
            i = line.find("[")
            pc = int(line[i + 10:i + 18], 16)  # [cs_base/pc/flags/cflags]
            if pc == pending:
                continue
            if pending is not None:
                yield pending
            pending = pc
        elif line.startswith("cpu_io_recompile"):
            pending = None
    if pending is not None:
        yield pending


@dataclass
class Region:
    """One measured region: executed instructions, modelled cycles (Cortex-M4 clock cycles at
    zero wait states) and their breakdown: taken branches (incl. returns and other writes of
    the PC), pipelined_loads (single loads *and stores* that cost 1 cycle behind a load), and
    cycles per class of :data:`CLASSES`."""
    instructions: int = 0
    cycles: int = 0
    taken_branches: int = 0
    pipelined_loads: int = 0
    by_class: Counter = field(default_factory=Counter)
    start_pc: int = 0

    @property
    def cpi(self) -> float:
        return self.cycles / self.instructions if self.instructions else 0.0

    def minus(self, other: "Region") -> "Region":
        return Region(self.instructions - other.instructions, self.cycles - other.cycles,
                      self.taken_branches - other.taken_branches,
                      self.pipelined_loads - other.pipelined_loads,
                      self.by_class - other.by_class, self.start_pc)

    def as_dict(self) -> dict:
        return {"instructions": self.instructions, "cycles_model": self.cycles,
                "cpi_model": round(self.cpi, 3), "taken_branches": self.taken_branches,
                "pipelined_loads": self.pipelined_loads,
                "cycles_by_class": {c: self.by_class[c] for c in CLASSES if self.by_class[c]}}


def model_regions(pcs: Iterable[int], insns: dict[int, Insn], syms: dict[str, tuple[int, int]],
                  start: str = "bnn_icount_start", stop: str = "bnn_icount_stop",
                  exclude: tuple[str, ...] = ("SysTick_Handler",)) -> list[Region]:
    """Every region between a return from ``start`` and the call of ``stop`` in the trace, in
    order, with its modelled cycles (see the module docstring). Instructions of the ``exclude``
    functions (the counter's interrupt handler) are left out; the instruction executed before
    such an interrupt is judged taken or not by the first PC after the handler, and one logged
    before the interrupt but run after it counts once."""
    s_lo, s_size = syms[start]
    stop_pc = syms[stop][0]
    excluded = [(syms[n][0], syms[n][0] + syms[n][1]) for n in exclude if n in syms]
    regions: list[Region] = []
    region: Region | None = None
    in_start = False
    last: Insn | None = None   # last instruction of the open region, its cost not yet added
    prev: Insn | None = None   # the one before it (pipelining / IT folding context)

    def settle(next_pc: int) -> None:
        nonlocal last, prev
        taken = next_pc != last.addr + last.size
        cycles = instruction_cycles(last, taken, prev)
        region.instructions += 1
        region.cycles += cycles
        region.by_class[last.cls] += cycles
        if taken and last.kind in ("branch", "table_branch") or last.writes_pc:
            region.taken_branches += 1
        if last.kind in ("load", "store") and cycles == 1:
            region.pipelined_loads += 1
        prev, last = last, None

    interrupted = False
    for pc in pcs:
        if any(lo <= pc < hi for lo, hi in excluded):
            interrupted = True
            continue
        if interrupted and last is not None and pc == last.addr:
            # QEMU logged `last`, found its icount budget spent (the timer's deadline) and took
            # the interrupt before executing it: it runs now, once.
            interrupted = False
            continue
        interrupted = False
        if region is not None:
            if pc == stop_pc:
                # `last` is the call of bnn_icount_stop: outside the region, like the counter.
                regions.append(region)
                region, last, prev = None, None, None
                continue
            if last is not None:
                settle(pc)
            insn = insns.get(pc)
            if insn is None:
                raise ValueError(f"executed pc {pc:#x} is not an instruction of the disassembly")
            last = insn
            continue
        inside = s_lo <= pc < s_lo + s_size
        if in_start and not inside:  # bnn_icount_start returned: the region opens here
            region = Region(start_pc=pc)
            last, prev = insns.get(pc), None
            if last is None:
                raise ValueError(f"executed pc {pc:#x} is not an instruction of the disassembly")
        in_start = inside
    return regions


def measured_regions(regions: list[Region], syms: dict[str, tuple[int, int]],
                     init: str = "bnn_icount_init") -> list[Region]:
    """The regions less the counter's calibration region (the empty one measured inside
    ``bnn_icount_init``), each with the calibration subtracted as the counter subtracts it."""
    lo, size = syms[init]
    calib = [r for r in regions if lo <= r.start_pc < lo + size]
    rest = [r for r in regions if not lo <= r.start_pc < lo + size]
    return [r.minus(calib[0]) for r in rest] if calib else rest


# --- running QEMU with the trace --------------------------------------------------------------

@dataclass
class TraceRun:
    """A traced run: the console output and records of :func:`pipeline.emulate`, the measured
    regions in program order."""
    output: str
    records: list
    exit_code: int
    regions: list[Region]

    def find(self, tag: str) -> list[dict[str, str]]:
        """The key/value dicts of every record with this tag, in output order."""
        return [values for t, values in self.records if t == tag]


def trace_firmware(board, elf: Path | str, timeout_s: float = 900) -> TraceRun:
    """Run ``elf`` on ``board`` in QEMU with ``-singlestep -d exec,nochain``, stream the log
    through a FIFO (it is never written to disk: ~80 bytes per instruction) and model the
    cycles of every measured region (:func:`model_regions`, :func:`measured_regions`)."""
    from pipeline import emulate

    elf = Path(elf)
    insns, syms = disassemble(elf), symbols(elf)
    cmd = emulate.qemu_command(board, elf)
    with tempfile.TemporaryDirectory(prefix="bnn-trace-") as tmp:
        fifo, console = Path(tmp) / "exec.log", Path(tmp) / "console.txt"
        os.mkfifo(fifo)
        # The log options go before -kernel; -singlestep: one instruction per block, so every
        # executed instruction gets its own "Trace" line.
        cmd = cmd[:-2] + ["-singlestep", "-d", "exec,nochain", "-D", str(fifo)] + cmd[-2:]
        with open(console, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        timed_out = threading.Event()

        def watchdog():
            timed_out.set()
            proc.kill()
            try:  # unblock a reader still waiting for QEMU to open the FIFO
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

        timer = threading.Timer(timeout_s, watchdog)
        timer.start()
        try:
            with open(fifo, "r", buffering=1 << 20, errors="replace") as log:
                regions = measured_regions(model_regions(trace_pcs(log), insns, syms), syms)
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if timed_out.is_set():
            raise emulate.QemuTimeoutError(f"traced run of {elf.name} on {board.name} did not "
                                           f"exit within {timeout_s} s")
        output = console.read_text(errors="replace")
    return TraceRun(output, emulate.parse_records(output), code, regions)


def check_regions(regions: list[Region], counted: list[int], what: str) -> None:
    """Raise ValueError unless the trace's instruction count of every region equals the
    instruction counter's (``counted``, in the same order): the cycle model is only as good as
    the trace it reads."""
    got = [r.instructions for r in regions]
    if got != list(counted):
        raise ValueError(f"{what}: instructions in the QEMU trace {got} differ from the "
                         f"counter's {list(counted)}; the cycle model would read a wrong trace")
