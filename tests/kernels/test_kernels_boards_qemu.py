"""bnn_bconv2d_opt and bnn_bconv2d (so every fast path the geometry selects on that core), and
bnn_thermometer_opt and bnn_thermometer on the thermometer cases of test_kernels_mve_qemu.py, and
bnn_bdense_hidden_opt and bnn_bdense_hidden on its sliced dense cases (every core runs the sliced
path where the params hold that layout, though the renderer writes it for Thumb-2 only), against
the oracle in QEMU on every emulated board: the boundary geometries of test_bconv2d_paths.py
(each path and each side of its predicates, the default model's convs) plus seeded random
convolutions, built with the board's own flags at -O2. Which path a geometry takes differs per
core (Helium, and the cost model of v6-M), so each board checks its own choices. The firmware is
tests/kernels/mve_qemu_main.c (it compares each output with the oracle's words and prints a
CRC-32 of what the kernel wrote)."""
from functools import lru_cache

import numpy as np
import pytest

import kernel_cases
import test_bconv2d_paths as paths
from kernel_harness import RUNTIME
from pipeline import boards, build, emulate
from test_kernels_mve_qemu import (MAIN, cases_header, oracle_mismatches, sliced_cases,
                                   thermo_cases)

BOARDS = ("microbit", "mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547")
SEED = 20261202
RANDOM_CASES = 12


@lru_cache(maxsize=None)
def cases():
    rng = np.random.default_rng(SEED)
    layers = [kernel_cases.R.random_bconv2d(rng, *spec) for spec in paths.BOUNDARY]
    layers += [kernel_cases.bconv2d_layer(rng) for _ in range(RANDOM_CASES)]
    return [kernel_cases.bconv2d_case_for(rng, layer) for layer in layers]


@pytest.mark.parametrize("board_name", BOARDS)
def test_conv_paths_match_oracle_in_qemu(tmp_path, board_name):
    (tmp_path / "mve_cases.h").write_text(cases_header(cases(), sliced_cases(), thermo_cases()))
    board = boards.load_board(board_name)
    result = build.build_firmware(board, [MAIN, *sorted(RUNTIME.glob("*.c"))],
                                  [tmp_path, RUNTIME], tmp_path / "fw")
    run = emulate.run_firmware(board, result.elf, timeout_s=300)
    bad = (oracle_mismatches(run, "conv", cases()) + oracle_mismatches(run, "thermo", thermo_cases())
           + oracle_mismatches(run, "dense", sliced_cases()))
    assert not bad, f"{board_name}:\n" + "\n".join(bad[:10])
    assert {r["path"] for r in run.find("dense")} == {"sliced"}
    assert run.exit_code == 0
