"""The Cortex-M4 cycle model of bench/cycles.py: its rules on hand-written sequences, the QEMU
trace reader on synthetic logs, and one real traced run of a fixed assembly loop whose
instruction count must equal the platform counter's and whose cycles are worked out by hand."""
import textwrap

import pytest

from bench import cycles
from bench.cycles import Insn, PIPELINE_REFILL as P, DIVIDE_CYCLES
from pipeline import boards, build, emulate


def seq(*lines: str) -> list[Insn]:
    """Instructions from 'mnemonic operands' lines, laid out from 0x100; a '.w' suffix (or a
    register above r7, or ldrd/sdiv/mla) makes a 32-bit instruction, as in Thumb-2."""
    out, addr = [], 0x100
    for line in lines:
        mnemonic, _, ops = line.partition(" ")
        wide = mnemonic.endswith(".w") or mnemonic.split(".")[0] in ("ldrd", "strd", "sdiv",
                                                                       "udiv", "mla")
        size = 4 if wide else 2
        out.append(Insn(addr, size, mnemonic.split(".")[0], ops.strip()))
        addr += size
    return out


def test_two_independent_loads_pipeline_to_three_cycles():
    assert cycles.sequence_cycles(seq("ldr r0, [r1]", "ldr r1, [r2]")) == 3


def test_three_loads_pipeline_to_four_cycles():  # the TRM's own example
    assert cycles.sequence_cycles(seq("ldr r0, [r1, r5]", "ldr r1, [r2]",
                                      "ldr r2, [r3, #4]")) == 4


def test_a_load_whose_address_needs_the_previous_load_does_not_pipeline():
    assert cycles.sequence_cycles(seq("ldr r0, [r1]", "ldr r2, [r0, #4]")) == 4
    assert cycles.sequence_cycles(seq("ldr r0, [r1]", "ldr.w r2, [r3, r0, lsl #2]")) == 4


def test_a_store_pipelines_after_a_load_but_nothing_after_a_store():
    assert cycles.sequence_cycles(seq("ldr r0, [r1, r2]", "str r0, [r3, r4]")) == 3
    assert cycles.sequence_cycles(seq("str r0, [r3, r2]", "ldr r1, [r2]")) == 4
    assert cycles.sequence_cycles(seq("str r0, [r3, r2]", "str r1, [r3, r4]")) == 4


def test_a_store_with_an_immediate_offset_costs_one():
    # TRM 3.3.2: "STR Rx,[Ry,#imm] is always one cycle"; the load after it still does not pipeline
    assert cycles.sequence_cycles(seq("str r0, [r3, #20]")) == 1
    assert cycles.sequence_cycles(seq("str r0, [r3]", "ldr r1, [r2]")) == 3
    assert cycles.sequence_cycles(seq("str r0, [r3]", "str r1, [r3, #4]")) == 2
    assert cycles.sequence_cycles(seq("str.w r0, [r3, r2, lsl #2]")) == 2


def test_ldrd_costs_three_and_does_not_pipeline_with_neighbours():
    assert cycles.sequence_cycles(seq("ldrd r2, r3, [r0, #8]")) == 3
    assert cycles.sequence_cycles(seq("ldrd r2, r3, [r0]", "ldr r4, [r1]")) == 5
    assert cycles.sequence_cycles(seq("ldr r4, [r1]", "ldrd r2, r3, [r0]")) == 5
    # the observation: LDRD wins in instructions, two back-to-back LDRs tie it in cycles
    assert cycles.sequence_cycles(seq("ldr r2, [r0]", "ldr r3, [r0, #4]")) == 3


def test_load_and_store_multiple_cost_one_plus_n():
    assert cycles.sequence_cycles(seq("push {r4, r5, r6, lr}")) == 5
    assert cycles.sequence_cycles(seq("ldmia.w r0!, {r1, r2, r3}")) == 4
    assert cycles.sequence_cycles(seq("vpush {d8-d9}")) == 5  # two D registers = four words


def test_pop_with_pc_adds_a_refill():
    assert cycles.sequence_cycles(seq("pop {r4, pc}"), [True]) == 1 + 2 + P


def test_branch_costs_refill_only_when_taken():
    assert cycles.sequence_cycles(seq("bne.n 0x100"), [True]) == 1 + P
    assert cycles.sequence_cycles(seq("bne.n 0x100"), [False]) == 1
    assert cycles.sequence_cycles(seq("bl 0x200"), [True]) == 1 + P
    assert cycles.sequence_cycles(seq("bx lr"), [True]) == 1 + P
    assert cycles.sequence_cycles(seq("cbz r0, 0x200"), [False]) == 1
    # "bls" is b + ls (a conditional branch), not bl + s
    assert seq("bls.n 0x100")[0].kind == "branch"


def test_multiplies_are_single_cycle_and_division_takes_the_stated_worst_case():
    assert cycles.sequence_cycles(seq("mul r0, r1, r2", "mla r0, r1, r2, r3",
                                      "umull r0, r1, r2, r3", "smlal r0, r1, r2, r3")) == 4
    assert cycles.sequence_cycles(seq("sdiv r0, r1, r2")) == DIVIDE_CYCLES == 12
    assert cycles.sequence_cycles(seq("udiv r0, r1, r2")) == 12


def test_it_folds_after_a_16_bit_instruction_only():
    assert cycles.sequence_cycles(seq("cmp r0, #0", "it eq", "moveq r0, #1")) == 2
    assert cycles.sequence_cycles(seq("cmp.w r8, #0", "it eq", "moveq r0, #1")) == 3
    assert seq("itte ne")[0].kind == "it"


def test_data_processing_into_pc_branches():
    assert cycles.sequence_cycles(seq("mov pc, r0"), [True]) == 1 + P
    assert cycles.sequence_cycles(seq("ldr.w pc, [sp], #4"), [True]) == 2 + P
    assert cycles.sequence_cycles(seq("cmp r0, pc")) == 1


def test_objdump_lines_give_address_size_mnemonic_and_skip_literal_data():
    text = textwrap.dedent("""\
        00000040 <tiny>:
          40:\t2900      \tcmp\tr1, #0
          42:\tdd0e      \tble.n\t62 <tiny+0x22>
          4e:\tf85c 2f04 \tldr.w\tr2, [ip, #4]!
          70:\t4806      \tldr\tr0, [pc, #24]\t@ (8c <main+0x24>)
          8c:\t000005a0 \t.word\t0x000005a0
        """)
    insns = cycles.parse_objdump(text)
    assert sorted(insns) == [0x40, 0x42, 0x4e, 0x70]
    assert (insns[0x42].mnemonic, insns[0x42].size, insns[0x42].kind) == ("ble", 2, "branch")
    load = insns[0x4e]
    assert (load.size, load.kind, load.dest, load.address_regs) == (4, "load", ("r2",), ("r12",))
    assert insns[0x70].operands == "r0, [pc, #24]"


def _line(pc: int) -> str:
    return f"Trace 0: 0x7f0000000000 [00800408/{pc:08x}/00000110/ff020201] f\n"


def test_trace_reader_drops_rewound_and_repeated_block_entries():
    log = [_line(0x10), _line(0x12), "cpu_io_recompile: rewound execution of TB to 00000012\n",
           _line(0x12), _line(0x14), _line(0x14), _line(0x16)]
    assert list(cycles.trace_pcs(log)) == [0x10, 0x12, 0x14, 0x16]


def test_regions_skip_the_interrupt_handler_and_an_instruction_logged_before_it():
    insns = {i.addr: i for i in seq("movs r0, #1", "adds r0, #1", "adds r0, #2")}  # 0x100..
    insns.update({0x300: Insn(0x300, 2, "nop"), 0x302: Insn(0x302, 2, "bx", "lr")})  # handler
    insns.update({0x200: Insn(0x200, 2, "bx", "lr"), 0x106: Insn(0x106, 4, "bl", "0x400")})
    syms = {"bnn_icount_start": (0x200, 2), "bnn_icount_stop": (0x400, 2),
            "SysTick_Handler": (0x300, 4), "bnn_icount_init": (0x500, 4)}
    # start returns to 0x100; 0x102 is logged, the interrupt runs, 0x102 is logged again
    pcs = [0x200, 0x100, 0x102, 0x300, 0x302, 0x102, 0x104, 0x106, 0x400]
    [region] = cycles.measured_regions(cycles.model_regions(pcs, insns, syms), syms)
    assert region.instructions == 3 and region.cycles == 3  # the bl to stop is not measured


# --- a real traced run ---------------------------------------------------------------------------

# A fixed region (no compiler choices inside it): 4 iterations of an 11-instruction loop. The
# stack word at [sp] holds sp itself, so `ldr r2, [r0, #8]` reads through a loaded pointer.
KERNEL_C = r"""
#include "bnn_platform.h"
__attribute__((naked, noinline)) uint64_t measured_loop(void)
{
    __asm__ volatile(
        ".syntax unified\n\t"
        "push {r4, lr}\n\t"
        "sub sp, sp, #16\n\t"
        "mov r0, sp\n\t"
        "str r0, [sp]\n\t"
        "bl bnn_icount_start\n\t"
        "movs r1, #4\n"                     /* region: 1 */
        "1:\n\t"
        "ldr r0, [sp]\n\t"                  /* 2 */
        "ldr r2, [r0, #8]\n\t"              /* 2: its address needs the load before */
        "ldr r3, [sp, #4]\n\t"              /* 1: pipelined behind a load */
        "ldrd r2, r3, [sp, #8]\n\t"         /* 3 */
        "str r3, [sp, #4]\n\t"              /* 1: STR [Ry,#imm] (not pipelined behind LDRD) */
        "ldr r2, [sp, #12]\n\t"             /* 2: nothing pipelines behind a store */
        "str r2, [sp, #8]\n\t"              /* 1: a store pipelines behind a load */
        "sdiv r2, r2, r1\n\t"               /* 12 */
        "mla r2, r2, r1, r3\n\t"            /* 1 */
        "subs r1, #1\n\t"                   /* 1 */
        "bne 1b\n\t"                        /* 1 + P taken, 1 on the way out */
        "bl bnn_icount_stop\n\t"
        "add sp, sp, #16\n\t"
        "pop {r4, pc}\n");
}
int main(void)
{
    bnn_report_count("loop", measured_loop());
    return 0;
}
"""
LOOP_INSTRUCTIONS = 1 + 4 * 11
LOOP_CYCLES = 1 + 4 * (2 + 2 + 1 + 3 + 1 + 2 + 1 + 12 + 1 + 1 + 1) + 3 * P


@pytest.fixture(scope="module")
def loop_elf(tmp_path_factory):
    work = tmp_path_factory.mktemp("cycles")
    (work / "loop.c").write_text(KERNEL_C)
    board = boards.load_board("mps2-an386")
    return board, build.build_firmware(board, [work / "loop.c"], [], work / "out").elf


def test_traced_run_counts_what_the_counter_counts_and_models_the_hand_worked_cycles(loop_elf):
    board, elf = loop_elf
    plain = emulate.run_firmware(board, elf)
    counted = [int(r["instructions"]) for r in plain.find("icount")]
    assert counted == [LOOP_INSTRUCTIONS]
    traced = cycles.trace_firmware(board, elf, timeout_s=60)
    assert traced.exit_code == 0
    assert [int(r["instructions"]) for r in traced.find("icount")] == counted
    cycles.check_regions(traced.regions, counted, "loop")
    [region] = traced.regions
    assert region.instructions == LOOP_INSTRUCTIONS
    assert region.cycles == LOOP_CYCLES
    assert region.cycles >= region.instructions
    assert region.taken_branches == 3
    assert region.by_class["ldrd_strd"] == 4 * 3


def test_check_regions_rejects_a_trace_that_disagrees_with_the_counter():
    with pytest.raises(ValueError, match="differ from the counter"):
        cycles.check_regions([cycles.Region(instructions=10)], [11], "x")


def test_docs_table_says_it_is_a_model_and_is_absent_without_one():
    from bench import docs
    layer = {"instructions": 100, "cycles_model": 125, "cpi_model": 1.25,
             "cycle_model_detail": {"cycles_by_class": {"ldrd_strd": 25, "branch": 10}}}
    k = {"model": {"layers": [{"name": "conv0"}]},
         "boards": [{"board": "mps2-an386", "cpu": "cortex-m4",
                     "model": {"layers": {"conv0": layer}, "instructions": 100,
                               "cycles_model": 125, "cpi_model": 1.25,
                               "cycle_model_note": cycles.MODEL_NOTE}},
                    {"board": "mps3-an547", "cpu": "cortex-m55",
                     "model": {"layers": {"conv0": {"instructions": 90}}}}]}
    text = docs.cycle_model_section(k)
    assert "a model, not a measurement" in text and "cycle MODEL" in text
    assert "| conv0 | 100 | 125 | 1.250 | 20% | 8% |" in text
    assert "mps3-an547" not in text
    assert docs.cycle_model_section({**k, "boards": [k["boards"][1]]}) == ""
