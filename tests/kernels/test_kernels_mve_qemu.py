"""The Helium (MVE) paths, which the host cannot run, against the oracle in QEMU: one firmware
for mps3-an547 (Cortex-M55 with MVE) holds seeded random convolutions, the specialised
receptive-field sizes (9 and 18 words) of the mve path, its generic vector path, the scalar
fallback (more than BNN_MVE_MAX_WORDS words), pixel counts that do not fill the last 4-lane
block, the bitsliced_mve path's geometries (the default model's first layer, output rows that
are not a multiple of 4 pixels, groups and strides that need 4-word gathers, 16 channels per
group, 36 taps; bnn_bconv2d_bitsliced_mve_opt is also called directly on every case and must
refuse where its predicate does not hold), and the dense layers' Helium rows (hidden and output,
rows of every length modulo 4 words, row counts modulo 4).
tests/kernels/mve_qemu_main.c compares every output with the oracle's words and prints the
CRC-32 of what the kernel wrote; both are checked here."""
import zlib
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import kernel_cases
from kernel_harness import BNN_ERR_SHAPE, BNN_OK, RUNTIME
from pipeline import boards, build, emulate
from pipeline.render import c_array, conv_scratch_bytes

BOARD = "mps3-an547"
SEED = 20240907
RANDOM_CASES = 24
MAIN = Path(__file__).resolve().parent / "mve_qemu_main.c"
MVE_MAX_WORDS = 64  # BNN_MVE_MAX_WORDS of bnn_internal.h
THERMO_CASES = 60
# (in_shape, out_c, kernel, stride, padding, groups): receptive field n = kh*kw*ceil(cin/g/32)
SPECIAL = [
    ((8, 8, 64), 64, 3, 1, 1, 1),    # n = 18, two runs of 32 channels
    ((7, 5, 64), 40, 3, 1, 1, 1),    # n = 18, 35 pixels (a 3-lane last block), a short run
    ((9, 9, 32), 48, 3, 2, 1, 1),    # n = 9, stride 2
    ((6, 6, 48), 24, 3, 1, 1, 3),    # n = 9, groups 3
    ((6, 7, 96), 33, 3, 1, 0, 1),    # n = 27, generic vector path
    ((5, 5, 128), 32, 3, 1, 1, 1),   # n = 36
    ((9, 9, 35), 35, 7, 1, 0, 5),    # n = 49: 5 groups of 7 channels, 7x7 (the conv)
    ((8, 8, 128), 32, 4, 1, 1, 1),   # n = 64 = BNN_MVE_MAX_WORDS
    ((6, 6, 20), 16, 5, 1, 2, 1),    # n = 25
    ((4, 4, 128), 70, 1, 1, 0, 1),   # n = 4, three runs
    ((5, 5, 64), 16, 5, 1, 2, 1),    # n = 50
    ((5, 5, 96), 16, 5, 1, 2, 1),    # n = 75 > BNN_MVE_MAX_WORDS: scalar fallback
    ((3, 2, 33), 8, (1, 3), 1, 1, 1),  # non-square kernel, 6 pixels
    # bitsliced_mve (at most 16 channels per group, many channels per run)
    ((28, 28, 8), 32, 3, 1, 1, 1),   # the default model's first layer (the unrolled variant)
    ((9, 7, 8), 33, 3, 1, 1, 1),     # ow = 7: a 3-lane block per row; runs of 32 and 1
    ((12, 2, 8), 32, 3, 1, 1, 1),    # ow = 2: every block gathered
    ((3, 2, 8), 32, 3, 1, 1, 1),     # 6 pixels: mve, the preparation is not repaid
    ((8, 9, 16), 64, 3, 1, 1, 2),    # groups 2 (4-word gathers), cg = 8
    ((16, 16, 16), 40, 3, 2, 1, 1),  # cg = 16: two blocks a tap; stride 2, K = 144
    ((12, 12, 24), 64, 3, 1, 1, 2),  # groups 2, cg = 12: two blocks a tap
    ((10, 13, 9), 24, 3, 1, 0, 1),   # cg = 9, no padding
    ((7, 9, 8), 32, 6, 1, 2, 1),     # 36 taps = BNN_SLICE_MAX_BLOCKS, K = 288 (9 planes)
    ((6, 9, 7), 20, 5, 1, 2, 1),     # 5x5, cg = 7: K = 175
    ((6, 6, 17), 40, 3, 1, 1, 1),    # cg = 17: the mve path
    ((6, 6, 8), 2, 3, 1, 1, 1),      # 2 channels: the mve path by the cost model
]
DENSE_RANDOM = 12  # hidden and output cases each
# (in_shape, out_features, output): words per row n = h*w*ceil(c/32) modulo 4 and rows modulo 4
DENSE_SPECIAL = [
    ((3, 3, 192), 37, False),  # the default model's dense6 input: n = 54, 9 blocks of 4 rows + 1
    ((1, 1, 512), 10, True),   # the default model's output layer: n = 16
    ((1, 1, 96), 6, False),    # n = 3: only the predicated tail
    ((1, 5, 32), 3, True),     # n = 5
    ((2, 3, 64), 64, False),   # n = 12, out_features a multiple of 4
]


@lru_cache(maxsize=None)
def dense_cases():
    """(case, expected, output) of the Helium dense rows."""
    rng = np.random.default_rng(SEED + 1)
    out = []
    for shape, features, output in DENSE_SPECIAL:
        layer = kernel_cases.R.random_bdense(rng, shape, features, output=output)
        x = kernel_cases.R.random_activations(rng, 1, shape, 1)
        if output:
            want = kernel_cases.ref.bdense(layer, x)[0]
            case = kernel_cases.Case([*shape, 1, features, want.size],
                                     [layer.weights, layer.mult, layer.bias, x[0]])
        else:
            want = kernel_cases.ref.bdense(layer, x, 1)[0]
            case = kernel_cases.Case([*shape, 1, features, 1, want.size],
                                     [layer.weights, layer.threshold, layer.flip, x[0]])
        out.append((case, kernel_cases._words(want), output))
    for _ in range(DENSE_RANDOM):
        out.append((*kernel_cases.bdense_hidden_case(rng), False))
        out.append((*kernel_cases.bdense_output_case(rng), True))
    return out


# Hidden layers in the sliced layout (in_shape, out_features): the default model's dense6 (two
# words, 32 + 5 rows), a 64-word chunk plus one, and one input word; then random ones.
SLICED_SPECIAL = [((3, 3, 192), 37), ((1, 65, 32), 33), ((1, 1, 32), 64)]
SLICED_RANDOM = 8
SLICED_MAX_WORDS = 6000  # per random case: the micro:bit's flash holds them all


@lru_cache(maxsize=None)
def sliced_cases():
    """(case, expected, False) of hidden dense layers in the sliced layout (5 arrays: the rows
    layout's, then the sliced blocks; the firmware passes the sliced blocks only)."""
    rng = np.random.default_rng(SEED + 3)
    out = []
    for shape, features in SLICED_SPECIAL:
        layer = kernel_cases.R.random_bdense(rng, shape, features, output=False)
        x = kernel_cases.R.random_activations(rng, 1, shape, 1)
        want = kernel_cases._words(kernel_cases.ref.bdense(layer, x, 1)[0])
        case = kernel_cases.Case([*shape, 1, features, 1, want.size],
                                 [layer.weights, layer.threshold, layer.flip, x[0],
                                  kernel_cases.sliced_blocks(layer, 1)])
        out.append((case, want, False))
    while len(out) < len(SLICED_SPECIAL) + SLICED_RANDOM:
        case, want = kernel_cases.bdense_sliced_case(rng)
        if case.arrays[4].size <= SLICED_MAX_WORDS:
            out.append((case, want, False))
    return out


@lru_cache(maxsize=None)
def cases():
    rng = np.random.default_rng(SEED)
    layers = [kernel_cases.R.random_bconv2d(rng, *spec) for spec in SPECIAL]
    layers += [kernel_cases.bconv2d_layer(rng) for _ in range(RANDOM_CASES)]
    return [kernel_cases.bconv2d_case_for(rng, layer) for layer in layers]


def receptive_words(case):
    h, w, in_c, out_c, kh, kw, stride, padding, groups = case.params[:9]
    return kh * kw * ((in_c // groups + 31) // 32)


def c_arrays(prefix: str, specs) -> list[str]:
    """``static const`` C arrays ``<prefix>_<name>``, one per (ctype, name, values, fmt) of
    specs (an empty array is written as one 0)."""
    lines = []
    for ctype, name, values, fmt in specs:
        values = np.asarray(values).reshape(-1)
        lines.append(f"static const {ctype} {prefix}_{name}[{max(1, values.size)}] = "
                     f"{{\n{c_array(values, fmt) if values.size else '0'}\n}};")
    return lines


def dense_header(all_dense) -> list[str]:
    """C arrays and the table of the dense cases (hidden or output)."""
    lines, table = [], []
    for i, (case, expected, output) in enumerate(all_dense):
        weights, a, b, x = case.arrays[:4]
        sliced = len(case.arrays) == 5
        if sliced:
            lines += c_arrays(f"d{i}", [("uint32_t", "s", case.arrays[4], "x")])
        names = (("int32_t", "mult", "d"), ("int32_t", "bias", "d")) if output else \
            (("int32_t", "th", "d"), ("uint8_t", "flip", "d"))
        lines += c_arrays(f"d{i}", [("uint32_t", "w", weights, "x"),
                                    (*names[0][:2], a, names[0][2]),
                                    (*names[1][:2], b, names[1][2]),
                                    ("uint32_t", "in", x, "x"),
                                    ("uint32_t", "want", expected, "x")])
        h, w, c, groups, features = case.params[:5]
        if output:
            params = (f"{{0}}, {{{h}, {w}, {c}, {groups}, {features}, d{i}_w, d{i}_mult, "
                      f"d{i}_bias}}")
        elif sliced:  # the sliced blocks only: the kernel must not need the rows layout
            params = (f"{{{h}, {w}, {c}, {groups}, {features}, {case.params[5]}, 0, 0, 0, "
                      f"d{i}_s}}, {{0}}")
        else:
            params = (f"{{{h}, {w}, {c}, {groups}, {features}, {case.params[5]}, d{i}_w, d{i}_th, "
                      f"d{i}_flip, 0}}, {{0}}")
        table.append(f"    {{{int(output)}, {params}, d{i}_in, d{i}_want, {expected.size}}},")
    lines.append("static const mve_dense_case mve_dense_cases[] = {\n"
                 + ("\n".join(table) if table else "    {0}") + "\n};")
    lines.append(f"static const int32_t mve_dense_count = {len(all_dense)};")
    return lines


def thermo_cases():
    """Thermometers of 1-10 x 1-10 pixels (both modes, 1-40 planes, any output packing; the
    first 4 with one packing group per channel, the next 6 with 5 channels of 7-8 planes), so
    the words, words_mve, table and ref paths and both ways of placing the planes (fixed
    places, bit accounting) run."""
    rng = np.random.default_rng(SEED + 2)
    return [kernel_cases.thermometer_case(rng, group_per_channel=i < 4, wide=4 <= i < 10)
            for i in range(THERMO_CASES)]


def thermo_header(all_thermo) -> list[str]:
    """C arrays and the table of the thermometer cases."""
    lines, table = [], []
    for i, (case, expected) in enumerate(all_thermo):
        h, w, channels, planes, mode, groups, _ = case.params
        thresholds, image = case.arrays
        lines += c_arrays(f"t{i}", [("uint16_t", "t", thresholds, "d"),
                                    ("uint8_t", "in", image, "d"),
                                    ("uint32_t", "want", expected, "x")])
        table.append(f"    {{{{{h}, {w}, {channels}, {planes}, {mode}, t{i}_t, {groups}}}, "
                     f"t{i}_in, t{i}_want, {np.asarray(expected).size}}},")
    lines.append("static const mve_thermo_case mve_thermo_cases[] = {\n"
                 + ("\n".join(table) if table else "    {0}") + "\n};")
    lines.append(f"static const int32_t mve_thermo_count = {len(all_thermo)};")
    return lines


def cases_header(all_cases, all_dense=(), all_thermo=()) -> str:
    """C arrays of every case and the tables mve_qemu_main.c walks (dense and thermometer: none
    by default)."""
    lines = ['/* generated by tests/kernels/test_kernels_mve_qemu.py */', '#include "bnn.h"',
             "typedef struct { bnn_bconv2d_params params; const uint32_t *input, *expected;",
             "                 int32_t out_words; } mve_case;",
             "typedef struct { int output; bnn_bdense_hidden_params hidden_params;",
             "                 bnn_bdense_output_params out_params;",
             "                 const uint32_t *input, *expected; int32_t out_words; } "
             "mve_dense_case;",
             "typedef struct { bnn_thermometer_params params; const uint8_t *input;",
             "                 const uint32_t *expected; int32_t out_words; } mve_thermo_case;"]
    table, out_max, scratch_max = [], 1, 1
    for i, (case, expected) in enumerate(all_cases):
        h, w, in_c, out_c, kh, kw, stride, padding, groups, out_groups = case.params[:10]
        weights, threshold, flip, x = case.arrays
        lines += c_arrays(f"c{i}", [("uint32_t", "w", weights, "x"),
                                    ("int32_t", "th", threshold, "d"),
                                    ("uint8_t", "flip", flip, "d"),
                                    ("uint32_t", "in", x, "x"),
                                    ("uint32_t", "want", expected, "x")])
        table.append(f"    {{{{{h}, {w}, {in_c}, {out_c}, {kh}, {kw}, {stride}, {padding}, "
                     f"{groups}, {out_groups}, c{i}_w, c{i}_th, c{i}_flip}}, c{i}_in, c{i}_want, "
                     f"{expected.size}}},")
        out_max = max(out_max, expected.size)
        layer = SimpleNamespace(kernel=(kh, kw), in_shape=(h, w, in_c), groups=groups)
        scratch_max = max(scratch_max, conv_scratch_bytes(layer) // 4)  # the render's arena
    lines += dense_header(all_dense)
    lines += thermo_header(all_thermo)
    out_max = max([out_max, *(expected.size for _, expected, _ in all_dense),
                   *(np.asarray(expected).size for _, expected in all_thermo)])
    lines.append(f"#define MVE_OUT_WORDS_MAX {out_max}")
    lines.append(f"#define MVE_SCRATCH_WORDS_MAX {scratch_max}")
    lines.append("static const mve_case mve_cases[] = {\n" + "\n".join(table) + "\n};")
    lines.append(f"static const int32_t mve_case_count = {len(all_cases)};")
    return "\n".join(lines) + "\n"


def oracle_mismatches(run, tag, all_cases, variants=("opt", "wrapper")) -> list[str]:
    """One line per (case, variant) of ``all_cases`` ((Case, expected words, ...) tuples) whose
    ``tag`` record in ``run`` is missing, not BNN_OK, not matched, or whose CRC is not that of
    the oracle's words."""
    records = {(int(r["case"]), r["variant"]): r for r in run.find(tag)}
    bad = []
    for i, (case, expected, *_) in enumerate(all_cases):
        want_crc = zlib.crc32(np.ascontiguousarray(expected, dtype="<u4").tobytes())
        for variant in variants:
            r = records.get((i, variant))
            if (r is None or int(r["status"]) != BNN_OK or r["match"] != "1"
                    or int(r["crc"], 16) != want_crc):
                bad.append(f"{tag} case {i} {variant} params={case.params}: {r}, "
                           f"oracle crc {want_crc:#010x}")
    return bad


@pytest.fixture(scope="module")
def firmware_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("mve_qemu")
    (work / "mve_cases.h").write_text(cases_header(cases(), dense_cases() + sliced_cases(),
                                                   thermo_cases()))
    board = boards.load_board(BOARD)
    sources = [MAIN, *sorted(RUNTIME.glob("*.c"))]
    result = build.build_firmware(board, sources, [work, RUNTIME], work / "fw")
    return emulate.run_firmware(board, result.elf, timeout_s=120)


def test_cases_cover_every_vector_path():
    n = {receptive_words(case) for case, _ in cases()}
    assert {9, 18, 36, 49, 64} <= n and any(v not in (9, 18) and v <= MVE_MAX_WORDS for v in n)
    assert any(v > MVE_MAX_WORDS for v in n)
    out_pixels = [((c.params[0] + 2 * c.params[7] - c.params[4]) // c.params[6] + 1)
                  * ((c.params[1] + 2 * c.params[7] - c.params[5]) // c.params[6] + 1)
                  for c, _ in cases()]
    assert any(p % 4 for p in out_pixels)  # a last 4-pixel block with idle lanes
    assert any(c.params[8] > 1 for c, _ in cases()) and any(c.params[3] > 32 for c, _ in cases())


def test_firmware_was_built_with_the_helium_path(firmware_run):
    assert firmware_run.find("build") == [{"mve": "1"}], firmware_run.output[-2000:]


@pytest.mark.parametrize("variant", ["opt", "wrapper"])
def test_helium_conv_matches_oracle(firmware_run, variant):
    bad = oracle_mismatches(firmware_run, "conv", cases(), (variant,))
    assert not bad, "\n".join(bad) + "\n" + firmware_run.output[-2000:]
    assert firmware_run.exit_code == 0


def test_helium_paths_cover_their_boundaries(firmware_run):
    """bitsliced_mve and mve both run, bitsliced_mve on a row width that is not a multiple of
    4, with groups, with two blocks a tap, and with the unrolled first-layer geometry."""
    paths = {int(r["case"]): r["path"] for r in firmware_run.find("conv") if r["variant"] == "opt"}
    sliced = [c.params for i, (c, _) in enumerate(cases()) if paths.get(i) == "bitsliced_mve"]
    assert {"bitsliced_mve", "mve"} <= set(paths.values()), firmware_run.output[-2000:]
    assert any(p[:6] == [28, 28, 8, 32, 3, 3] for p in sliced)
    assert any(((p[1] + 2 * p[7] - p[5]) // p[6] + 1) % 4 for p in sliced)
    assert any(p[8] > 1 for p in sliced) and any(8 < p[2] // p[8] <= 16 for p in sliced)
    assert all(p[2] // p[8] <= 16 for p in sliced)


def test_bitsliced_mve_called_directly(firmware_run):
    records = {int(r["case"]): r for r in firmware_run.find("conv")
               if r["variant"] == "bitsliced_mve"}
    assert sorted(records) == list(range(len(cases())))
    bad = []
    for i, (case, expected) in enumerate(cases()):
        r = records[i]
        want = BNN_OK if r["path"] == "bitsliced_mve" else BNN_ERR_SHAPE
        if int(r["status"]) != want or r["match"] != "1":
            bad.append(f"case {i} params={case.params}: {r}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("variant", ["opt", "wrapper"])
def test_helium_dense_matches_oracle(firmware_run, variant):
    """The Helium rows and, on the same Helium build, the sliced layout's scalar path."""
    bad = oracle_mismatches(firmware_run, "dense", dense_cases() + sliced_cases(), (variant,))
    assert not bad, "\n".join(bad) + "\n" + firmware_run.output[-2000:]
    paths = [r["path"] for r in firmware_run.find("dense") if r["variant"] == variant]
    want = ["output" if output else "mve" for _, _, output in dense_cases()]
    assert paths == want + ["sliced"] * len(sliced_cases())


@pytest.mark.parametrize("variant", ["opt", "wrapper"])
def test_helium_thermometer_matches_oracle(firmware_run, variant):
    bad = oracle_mismatches(firmware_run, "thermo", thermo_cases(), (variant,))
    assert not bad, "\n".join(bad) + "\n" + firmware_run.output[-2000:]


def test_thermometer_cases_reach_every_path(firmware_run):
    """Every path bnn_thermometer_opt has on Helium; words_mve in both modes, with each plane
    placement (one group, a group per channel, several groups) and with bit accounting."""
    paths = [r["path"] for r in firmware_run.find("thermo") if r["variant"] == "opt"]
    assert set(paths) == {"table", "words_mve", "words", "ref"}, paths
    mve = [c.params for (c, _), p in zip(thermo_cases(), paths) if p == "words_mve"]
    assert {p[4] for p in mve} == {0, 1}
    assert any(p[5] == 1 and p[2] * p[3] <= 32 for p in mve)  # one group
    assert any(p[5] == p[2] > 1 for p in mve)                  # a group per channel
    assert any(p[5] not in (1, p[2]) for p in mve)             # several groups
    assert any(p[4] == 1 and p[5] not in (1, p[2]) for p in mve)
    assert any(p[2] * p[3] > 32 and p[5] != p[2] for p in mve)  # bit accounting, thresholds
    words = [c.params for (c, _), p in zip(thermo_cases(), paths) if p == "words"]
    assert any(p[2] * p[3] > 32 and p[5] != p[2] for p in words)  # bit accounting, base2 too
    assert any(p[2] * p[3] > 32 and p[5] != p[2] for p in words)  # bit accounting (any packing)
