"""Every C kernel, reference and optimized, against the numpy oracle, bit for bit.

500 seeded random cases per kernel; each (kernel, variant) runs in one sanitizer-instrumented
driver process. The output buffer is pre-filled with a pattern, so a word the kernel forgets to
write (or a padding bit left set) is a mismatch.
"""
from functools import lru_cache

import numpy as np
import pytest

import kernel_cases
from kernel_harness import BNN_OK, run_cases

CASES_PER_KERNEL = 500
SEED = 20240611
KERNELS = ("thermometer", "bconv2d", "bmaxpool2d", "bdense_hidden", "bdense_sliced",
           "bdense_output", "argmax")


@lru_cache(maxsize=None)
def cases_of(kernel: str):
    return kernel_cases.random_cases(kernel, SEED, CASES_PER_KERNEL)


def assert_all_equal(kernel, variant, cases, results):
    assert len(results) == len(cases)
    bad = []
    for i, ((case, expected), (status, got)) in enumerate(zip(cases, results)):
        if status != BNN_OK or not np.array_equal(got, expected):
            bad.append(f"case {i} params={case.params}: status {status}, "
                       f"got {got[:8]}... expected {expected[:8]}...")
    assert not bad, f"{kernel} {variant}: {len(bad)} of {len(cases)} cases differ:\n" + \
        "\n".join(bad[:10])


@pytest.mark.parametrize("variant", ["ref", "opt", "wrapper"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_matches_oracle(driver, tmp_path, kernel, variant):
    cases = cases_of(kernel)
    results = run_cases(driver, kernel, variant, [c for c, _ in cases], tmp_path)
    assert_all_equal(kernel, variant, cases, results)


def test_xor_popcount_matches_numpy(driver, tmp_path):
    cases = cases_of("xor_popcount")
    results = run_cases(driver, "xor_popcount", "opt", [c for c, _ in cases], tmp_path)
    assert_all_equal("xor_popcount", "opt", cases, results)


@pytest.mark.parametrize("variant", ["ref", "opt"])
def test_bconv2d_benchmark_geometry(driver, tmp_path, variant):
    """The layer bench/bconv_m4.py measures (3x3, 64->64, 16x16, padding 1) is exact too."""
    rng = np.random.default_rng(SEED)
    cases = [kernel_cases.bconv2d_case_for(rng, kernel_cases.bench_layer(seed)) for seed in range(3)]
    results = run_cases(driver, "bconv2d", variant, [c for c, _ in cases], tmp_path)
    assert_all_equal("bconv2d", variant, cases, results)


def test_cases_cover_the_shapes_they_claim():
    """The random bconv2d cases really include the shapes the kernels must get right."""
    params = np.array([c.params for c, _ in cases_of("bconv2d")])
    in_c, groups = params[:, 2], params[:, 8]
    assert set(groups) == set(range(1, 9))
    assert {1, 3, 5} <= set(params[:, 4]) and {1, 2, 3} <= set(params[:, 6])
    assert {0, 1, 2} <= set(params[:, 7])
    assert np.any(in_c % 2 == 1) and np.any((in_c // groups) > 32)
    assert np.any(params[:, 4] != params[:, 5])  # non-square kernels
    assert np.any(params[:, 9] != groups)  # output packing differs from the conv groups
    # receptive-field words n = kh*kw*Wg: every popcount path of bnn_bconv2d_opt is taken
    n = params[:, 4] * params[:, 5] * ((in_c // groups + 31) // 32)
    assert {9, 18} <= set(n) and np.any((n < 16) & (n != 9)) and np.any(n > 31)
    assert np.any((n > 16) & (n < 32) & (n != 18))
    thermo = np.array([c.params for c, _ in cases_of("thermometer")])
    assert set(thermo[:, 4]) == {0, 1} and thermo[:, 3].max() > 31 and {1, 3} <= set(thermo[:, 2])


def test_sliced_cases_cover_the_path_boundaries():
    """The sliced dense cases reach the boundaries of dense_sliced_word: the 64-word chunk,
    blocks of 16 carries and the leftovers, several output words per group, words of fewer
    than 32 rows, one to more than 12 counter planes, and thresholds at both ends."""
    cases = cases_of("bdense_sliced")
    params = np.array([c.params for c, _ in cases])
    h, w, c, in_groups, n_out, out_groups = (params[:, i] for i in range(6))
    words = h * w * in_groups * ((c // in_groups + 31) // 32)
    assert {15, 16, 17, 31, 32, 33, 54, 63, 64, 65, 128, 129} <= set(words)
    assert words.min() == 1
    opg = n_out // out_groups
    assert np.any(opg > 32) and np.any(opg % 32 != 0) and np.any(opg == 32)
    assert np.any(out_groups > 1)
    k = h * w * c
    planes = np.array([int(v + 1).bit_length() for v in k])
    assert planes.min() <= 5 and planes.max() >= 13
    at_ends = [np.isin(case.arrays[1], [-kk, kk + 1]).any() for case, kk in zip((c for c, _ in cases), k)]
    assert sum(at_ends) > len(cases) // 4


@pytest.mark.parametrize("variant", ["opt", "wrapper"])
def test_sliced_dense_with_many_planes(driver, tmp_path, variant):
    """K = 8192, 65535 and 65536 inputs (14, 16 and 17 counter planes; 256 to 2048 input words,
    so 4 to 32 chunks of 64), thresholds anywhere and at both ends of [-K, K+1]."""
    rng = np.random.default_rng(SEED + 5)
    cases = []
    for c, rows in ((8192, 40), (65535, 33), (65536, 32)):
        cases.append(kernel_cases.bdense_sliced_case_for(rng, (1, 1, c), rows, 1))
    results = run_cases(driver, "bdense_sliced", variant, [c for c, _ in cases], tmp_path)
    assert_all_equal("bdense_sliced", variant, cases, results)
