"""Bad arguments give the documented bnn_status codes, in every variant, before any access.

The dummy arrays are one word long, so a kernel that read its data before checking the shapes
would trip AddressSanitizer in the driver.
"""
import numpy as np
import pytest

from kernel_harness import BNN_ERR_ARGUMENT, BNN_ERR_BUFFER, BNN_ERR_SHAPE, BNN_OK, Case, run_cases

U32 = np.zeros(1, np.uint32)
I32 = np.zeros(1, np.int32)
U8 = np.zeros(4, np.uint8)
EMPTY = np.zeros(0, np.uint16)
EMPTY32, EMPTY_I32, EMPTY8 = np.zeros(0, np.uint32), np.zeros(0, np.int32), np.zeros(0, np.uint8)

# kernel -> [(description, params without the output size, arrays, expected status)]
BAD = {
    "thermometer": [
        ("no channels", [1, 1, 0, 2, 0, 1], [np.zeros(2, np.uint16), U8], BNN_ERR_ARGUMENT),
        ("unknown mode", [1, 1, 1, 2, 7, 1], [np.zeros(2, np.uint16), U8], BNN_ERR_ARGUMENT),
        ("missing thresholds", [1, 1, 1, 2, 0, 1], [EMPTY, U8], BNN_ERR_ARGUMENT),
        ("base2 with 9 planes", [1, 1, 1, 9, 1, 1], [EMPTY, U8], BNN_ERR_SHAPE),
        ("groups do not divide", [1, 1, 3, 2, 0, 4], [np.zeros(6, np.uint16), U8], BNN_ERR_SHAPE),
    ],
    "bconv2d": [
        ("stride 0", [3, 3, 4, 4, 3, 3, 0, 1, 1, 1, 0], [U32, I32, U8, U32], BNN_ERR_ARGUMENT),
        ("negative padding", [3, 3, 4, 4, 3, 3, 1, -1, 1, 1, 0], [U32, I32, U8, U32],
         BNN_ERR_ARGUMENT),
        ("groups do not divide in_c", [3, 3, 4, 6, 1, 1, 1, 0, 3, 1, 0], [U32, I32, U8, U32],
         BNN_ERR_SHAPE),
        ("groups do not divide out_c", [3, 3, 4, 5, 1, 1, 1, 0, 2, 1, 0], [U32, I32, U8, U32],
         BNN_ERR_SHAPE),
        ("kernel larger than padded input", [2, 2, 4, 4, 5, 5, 1, 1, 1, 1, 0],
         [U32, I32, U8, U32], BNN_ERR_SHAPE),
        ("output groups do not divide", [3, 3, 4, 4, 1, 1, 1, 0, 1, 3, 0], [U32, I32, U8, U32],
         BNN_ERR_SHAPE),
    ],
    "bmaxpool2d": [
        ("stride 0", [4, 4, 8, 2, 0, 1], [U32], BNN_ERR_ARGUMENT),
        ("kernel larger than input", [2, 4, 8, 3, 1, 1], [U32], BNN_ERR_SHAPE),
        ("groups do not divide", [4, 4, 8, 2, 2, 3], [U32], BNN_ERR_SHAPE),
    ],
    "bdense_hidden": [
        ("no outputs", [1, 1, 8, 1, 0, 1], [U32, I32, U8, U32], BNN_ERR_ARGUMENT),
        ("input groups do not divide", [1, 1, 8, 3, 4, 1], [U32, I32, U8, U32], BNN_ERR_SHAPE),
        ("output groups do not divide", [1, 1, 8, 1, 4, 3], [U32, I32, U8, U32], BNN_ERR_SHAPE),
        ("missing thresholds", [1, 1, 8, 1, 1, 1], [U32, np.zeros(0, np.int32), U8, U32],
         BNN_ERR_ARGUMENT),
    ],
    "bdense_sliced": [  # arrays: rows layout (weights, thresholds, flips), input, sliced
        ("no outputs", [1, 1, 8, 1, 0, 1], [U32, I32, U8, U32, U32], BNN_ERR_ARGUMENT),
        ("output groups do not divide", [1, 1, 8, 1, 4, 3], [U32, I32, U8, U32, U32],
         BNN_ERR_SHAPE),
        ("neither layout", [1, 1, 8, 1, 1, 1], [EMPTY32, EMPTY_I32, EMPTY8, U32, EMPTY32],
         BNN_ERR_ARGUMENT),
    ],
    "bdense_output": [
        ("no outputs", [1, 1, 8, 1, 0], [U32, I32, I32, U32], BNN_ERR_ARGUMENT),
        ("no input channels", [1, 1, 0, 1, 1], [U32, I32, I32, U32], BNN_ERR_ARGUMENT),
        ("input groups do not divide", [1, 1, 8, 3, 1], [U32, I32, I32, U32], BNN_ERR_SHAPE),
    ],
    "argmax": [
        ("no logits", [0], [I32], BNN_ERR_ARGUMENT),
    ],
}
CASES = [(k, desc, params, arrays, status) for k, rows in BAD.items()
         for desc, params, arrays, status in rows]


@pytest.mark.parametrize("variant", ["ref", "opt", "wrapper"])
def test_bad_arguments_give_status_codes(driver, tmp_path, variant):
    for kernel in BAD:
        rows = [c for c in CASES if c[0] == kernel]
        cases = [Case([*params, 0], arrays) for _, _, params, arrays, _ in rows]
        results = run_cases(driver, kernel, variant, cases, tmp_path)
        got = {desc: status for (_, desc, *_), (status, _) in zip(rows, results)}
        want = {desc: status for _, desc, _, _, status in rows}
        assert got == want, kernel


@pytest.mark.parametrize("shortfall, opt_status", [(0, BNN_OK), (-4, BNN_ERR_BUFFER)])
def test_bconv2d_scratch_size_is_checked(driver, tmp_path, shortfall, opt_status):
    """The optimized conv refuses a scratch buffer smaller than its query; the ref needs none."""
    weights = np.zeros((2, 3, 3, 1), np.uint32)
    params = [4, 4, 5, 2, 3, 3, 1, 1, 1, 1, shortfall, 4 * 4]
    case = Case(params, [weights, np.zeros(2, np.int32), np.zeros(2, np.uint8),
                         np.zeros(16, np.uint32)])
    for variant, want in (("ref", BNN_OK), ("opt", opt_status), ("wrapper", opt_status)):
        (status, _), = run_cases(driver, "bconv2d", variant, [case], tmp_path)
        assert status == want, variant


def test_sliced_layout_needs_no_rows_and_the_reference_needs_them(driver, tmp_path):
    """A hidden layer given in the sliced layout only (weights, thresholds and flips NULL): the
    optimized kernel and the wrapper compute it exactly, the reference (which reads the rows)
    refuses it with BNN_ERR_ARGUMENT."""
    import kernel_cases
    case, expected = kernel_cases.bdense_sliced_case(np.random.default_rng(7))
    weights, threshold, flip, x, sliced = case.arrays
    sliced_only = Case(case.params, [EMPTY32, EMPTY_I32, EMPTY8, x, sliced])
    for variant, want in (("ref", BNN_ERR_ARGUMENT), ("opt", BNN_OK), ("wrapper", BNN_OK)):
        (status, got), = run_cases(driver, "bdense_sliced", variant, [sliced_only], tmp_path)
        assert status == want, variant
        if want == BNN_OK:
            assert np.array_equal(got, expected), variant
