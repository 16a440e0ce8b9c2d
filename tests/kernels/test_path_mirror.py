"""The Python mirror of the kernels' path choice against the C runtime's own choice.

Render records which fast path each layer takes (kernels.json, shown in the report) with
pipeline.ops.bconv2d.fast_path and pipeline.ops.thermometer.thermometer_path, mirrors of the C
predicates. tests/kernels/path_probe.c prints the runtime's choice,
bnn_bconv2d_path_name(bnn_bconv2d_select_path(&p)) and bnn_thermometer_is_table(&p), for
thousands of geometries: a sweep across every predicate's boundaries (channels per group 1-34
and around 64, every kernel size up to 5x5 and 7x7, 1-65 output channels per group, groups 1-3),
the boundary cases of test_bconv2d_paths.py, the kernel tests' random convs and the random
layers of the registry (random_ir). The comparison is by path name, so a path added to the
runtime shows up here without a change to this test.

The choice depends on the build: on the host (and every Thumb-2 core) the scalar cost model,
on cores without Thumb-2 the v6-M costs, on Helium builds the vector path. The host test runs
the host build; the QEMU test builds the same probe for microbit (Cortex-M0), mps2-an386
(Cortex-M4) and mps3-an547 (Cortex-M55 with MVE) with each board's own flags and compares
with the mirror for that board's target (pipeline.targets.for_board).
"""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

import kernel_cases
import test_bconv2d_paths
import test_kernels_mve_qemu
from kernel_harness import RUNTIME
from pipeline import boards, build, emulate, ops, random_ir, targets
from pipeline.ops.bconv2d import FALLBACK_PATH, FAST_PATHS, fast_path
from pipeline.ops.thermometer import Thermometer, is_table, thermometer_path

PROBE = Path(__file__).resolve().parent / "path_probe.c"
SEED = 20261210
# taps 35, 36, 49, 64 and 65 (5x7, 6x6, 7x7, 8x8, 13x5) and 97-128 channels per group (4 words
# a tap; 4x4 of them is 64 words) put the receptive field on both sides of the Helium path's
# 64 words and of the 36 blocks of the bit-sliced paths
KERNELS = ((1, 1), (1, 3), (3, 1), (2, 2), (3, 3), (5, 5), (7, 7), (1, 5), (6, 6), (5, 7),
           (2, 9), (8, 8), (4, 4), (13, 5))
CHANNELS_PER_GROUP = (*range(1, 35), 48, 63, 64, 65, 96, 97, 128)
OUTS_PER_GROUP = (1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 65)


class Geometry:
    """What the conv predicates read (the shape of a BConv2d), plus the rest of the params."""

    def __init__(self, h, w, in_c, out_c, kernel, stride, padding, groups, out_pack_groups):
        self.in_shape = (h, w, in_c)
        self.out_channels, self.kernel, self.stride = out_c, tuple(kernel), stride
        self.padding, self.groups, self.out_pack_groups = padding, groups, out_pack_groups

    def row(self):
        return [*self.in_shape, self.out_channels, *self.kernel, self.stride, self.padding,
                self.groups, self.out_pack_groups]


def _from_layer(layer, out_pack_groups=1) -> Geometry:
    return Geometry(*layer.in_shape, layer.out_channels, layer.kernel, layer.stride,
                    layer.padding, layer.groups, out_pack_groups)


@lru_cache(maxsize=None)
def conv_geometries(sweep_step: int = 1) -> list[Geometry]:
    out = []
    # the sweep: every predicate's boundaries (cg 8/9, 16/17, 32/33, 64/65; K = taps*cg around
    # 510; 36 blocks; runs of 1 to 33 channels; field sizes 9, 18, 36)
    for i, (cg, kernel, per, groups) in enumerate(
            (cg, k, per, g) for cg in CHANNELS_PER_GROUP for k in KERNELS
            for per in OUTS_PER_GROUP for g in (1, 2, 3)):
        if i % sweep_step == 0 and cg * groups <= 255 and per * groups <= 255:
            out.append(Geometry(7, 7, cg * groups, per * groups, kernel, 1, kernel[0] // 2,
                                groups, 1))
    rng = np.random.default_rng(SEED)
    out += [_from_layer(random_ir.random_bconv2d(rng, *spec))
            for spec in (*test_bconv2d_paths.BOUNDARY, *test_kernels_mve_qemu.SPECIAL)]
    out += [_from_layer(kernel_cases.bconv2d_layer(rng)) for _ in range(300)]
    op = ops.get("bconv2d")
    for _ in range(200):  # the registry's random layers, as random models draw them
        h, w = (int(v) for v in rng.integers(1, 15, size=2))
        layer = op.random_layer(rng, (h, w, int(rng.integers(1, 70))), "c")
        if layer is not None:
            out.append(_from_layer(layer))
    return out


@lru_cache(maxsize=None)
def thermo_layers() -> list[tuple[Thermometer, int]]:
    rng = np.random.default_rng(SEED + 1)
    out = []
    for i in range(400):
        mode = "base2" if i % 4 == 0 else "thresholds"
        channels = int(rng.choice([1, 2, 3, 4, 5]))
        planes = int(rng.integers(1, 9)) if mode == "base2" else int(
            rng.choice([rng.integers(1, 12), rng.integers(12, 41)], p=[0.8, 0.2]))
        h, w = (int(v) for v in rng.choice([1, 4, 7, 8, 9, 12], size=2))  # 64 pixels: 8x8
        layer = random_ir.random_thermometer(rng, (h, w, channels), planes, mode)
        total = channels * planes
        groups = int(rng.choice([g for g in range(1, min(total, 8) + 1) if total % g == 0]
                                + [channels]))
        out.append((layer, groups))
    return out


def cases_header(convs: list[Geometry], thermos) -> str:
    def table(name, rows):
        body = ",\n".join("    {" + ", ".join(map(str, r)) + "}" for r in rows)
        return f"static const uint8_t {name}[][{len(rows[0])}] = {{\n{body}\n}};"
    assert all(0 <= v < 256 for g in convs for v in g.row())  # the table is uint8
    thermo_rows = [[*layer.in_shape, layer.planes, int(layer.mode == "base2"), groups]
                   for layer, groups in thermos]
    return "\n".join([
        "/* generated by tests/kernels/test_path_mirror.py */",
        f"#define CONV_CASES {len(convs)}", table("conv_cases", [g.row() for g in convs]),
        f"#define THERMO_CASES {len(thermos)}", table("thermo_cases", thermo_rows), ""])


def check(records: list[tuple[str, dict]], target, convs, thermos) -> None:
    conv = {int(r["i"]): r["path"] for tag, r in records if tag == "conv"}
    table = {int(r["i"]): r["table"] == "1" for tag, r in records if tag == "thermo"}
    assert sorted(conv) == list(range(len(convs))) and sorted(table) == list(range(len(thermos)))
    bad = [f"case {i} {g.row()}: C {conv[i]}, Python {fast_path(g, target)}"
           for i, g in enumerate(convs) if fast_path(g, target) != conv[i]]
    assert not bad, f"{target.name}: {len(bad)} conv geometries differ:\n" + "\n".join(bad[:15])
    bad = [f"thermometer case {i} {layer.in_shape} planes={layer.planes} groups={groups}"
           for i, (layer, groups) in enumerate(thermos) if is_table(layer, groups) != table[i]]
    assert not bad, "\n".join(bad[:15])
    path = {int(r["i"]): r["path"] for tag, r in records if tag == "thermo"}
    bad = [f"thermometer case {i} {layer.in_shape} planes={layer.planes} groups={groups}: "
           f"C {path[i]}, Python {thermometer_path(layer, groups, target)}"
           for i, (layer, groups) in enumerate(thermos)
           if thermometer_path(layer, groups, target) != path[i]]
    assert not bad, f"{target.name}: " + "\n".join(bad[:15])


def _records(text: str) -> list[tuple[str, dict]]:
    return emulate.parse_records(text)


def test_the_cases_reach_every_boundary():
    convs = conv_geometries()
    taken = {fast_path(g, t) for g in convs for t in (targets.HOST, targets.V6M, targets.HELIUM)}
    assert taken == {name for name, _ in FAST_PATHS} | {FALLBACK_PATH}
    paths = {thermometer_path(layer, groups, t) for layer, groups in thermo_layers()
             for t in (targets.HOST, targets.HELIUM)}
    assert paths == {"table", "words", "words_mve", "ref"}


@pytest.fixture(scope="module")
def host_probe(tmp_path_factory):
    work = tmp_path_factory.mktemp("path_probe")
    (work / "path_cases.h").write_text(cases_header(conv_geometries(), thermo_layers()))
    gcc = shutil.which("gcc")
    assert gcc, "host gcc not found: install the Debian package gcc"
    exe = work / "path_probe"
    cmd = [gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-DPATH_PROBE_HOST",
           f"-I{work}", f"-I{RUNTIME}", str(PROBE), *map(str, sorted(RUNTIME.glob("*.c"))),
           "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    return _records(run.stdout)


def test_host_build_chooses_like_the_mirror(host_probe):
    assert [r for tag, r in host_probe if tag == "build"] == [{"mve": "0", "v6m": "0"}]
    check(host_probe, targets.HOST, conv_geometries(), thermo_layers())


def test_thermometer_path_names_the_opt_branches():
    """bnn_thermometer_opt: more than 31 planes take the reference loop, then the table where
    bnn_thermometer_is_table holds (compared with C above), else the word loop."""
    for layer, groups in thermo_layers():
        want = "ref" if layer.planes > 31 else "table" if is_table(layer, groups) else "words"
        assert thermometer_path(layer, groups) == want


@pytest.mark.parametrize("board_name", ["microbit", "mps2-an386", "mps3-an547"])
def test_board_build_chooses_like_the_mirror(tmp_path, board_name):
    """The probe built with the board's flags in QEMU: the v6-M cost model (Cortex-M0), the
    Thumb-2 one (Cortex-M4) and the Helium paths (Cortex-M55). A fifth of the sweep (a step
    prime to every sweep axis) keeps the firmware small; the random and boundary cases all
    run."""
    board = boards.load_board(board_name)
    target = targets.for_board(board)
    convs = conv_geometries(5)
    thermos = thermo_layers()[:100]
    (tmp_path / "path_cases.h").write_text(cases_header(convs, thermos))
    result = build.build_firmware(board, [PROBE, *sorted(RUNTIME.glob("*.c"))],
                                  [tmp_path, RUNTIME], tmp_path / "fw")
    run = emulate.run_firmware(board, result.elf, timeout_s=300)
    assert run.find("build") == [{"mve": str(int(target.mve)), "v6m": str(int(target.v6m))}]
    check(run.records, target, convs, thermos)
    assert run.exit_code == 0
