"""The fast paths of bnn_bconv2d_opt, each called directly, against the oracle bit for bit.

bnn_bconv2d_opt dispatches CMSIS-NN style: a named predicate per path (bnn_bconv2d_is_<path>)
and a path function (bnn_bconv2d_<path>_opt). Here every path function runs on every case: where
its predicate holds it must match the oracle exactly, elsewhere it must refuse with
BNN_ERR_SHAPE (and write nothing out of bounds: the driver runs under ASan/UBSan). The cases are
the seeded random bconv2d cases plus geometries at each path's boundaries (channels per group
around 8/9, 16/17, 32/33, 64/65; K = kh*kw*cg around the bit-sliced plane limits 126/254 and
the 36-block limit; runs of 1 and 33 channels; odd channel counts, so padding bits are in
play).
"""
from functools import lru_cache

import numpy as np
import pytest

import kernel_cases
from kernel_harness import BNN_ERR_SHAPE, BNN_OK, Case, run_cases

SEED = 20261130
RANDOM_CASES = 300
# bnn_bconv2d_path values (also the predicates' order in the driver's bconv2d_paths output)
PATHS = ("mve", "bitsliced", "lanes", "field9", "field18", "words", "bitsliced_mve")
ORDER = ("bitsliced_mve", "bitsliced", "mve", "lanes", "field9", "field18", "words")  # dispatch
# (in_shape, out_c, kernel, stride, padding, groups)
BOUNDARY = [
    ((28, 28, 8), 32, 3, 1, 1, 1),    # the default model's first layer: bitsliced, K = 72
    ((9, 7, 8), 33, 3, 1, 1, 1),      # bitsliced, a run of 32 and a run of 1
    ((6, 6, 16), 40, 3, 2, 1, 1),     # cg = 16: K = 144
    ((6, 5, 7), 20, 5, 1, 2, 1),      # cg = 7 5x5: K = 175, a tap straddles words
    ((7, 7, 10), 32, 5, 1, 2, 1),     # K = 250 <= 254
    ((7, 7, 11), 32, 5, 1, 2, 1),     # K = 275 > 254: lanes
    ((6, 6, 3), 24, 3, 1, 1, 1),      # cg = 3: K = 27
    ((5, 5, 9), 1, 3, 1, 1, 1),       # one output channel: lanes by the cost model
    ((6, 6, 2), 4, (1, 3), 1, 1, 2),  # groups 2, cg = 1, non-square kernel
    ((6, 6, 15), 45, 3, 1, 1, 3),     # groups 3, cg = 5
    ((6, 6, 17), 8, 3, 1, 1, 1),      # cg = 17, 8 channels: field9 by the cost model
    ((6, 6, 17), 40, 3, 1, 1, 1),     # cg = 17, 40 channels: bitsliced (32 inputs a tap), K = 153
    ((5, 4, 20), 32, (3, 1), 1, 1, 1),  # cg = 20, non-square: bitsliced
    ((4, 4, 32), 36, 1, 1, 0, 1),     # 1x1, cg = 32: bitsliced, K = 32
    ((6, 6, 24), 32, 5, 1, 2, 1),     # 5x5 cg = 24: 100 blocks > 36, not bitsliced
    ((14, 14, 32), 64, 3, 1, 1, 1),   # the default model's conv2: bitsliced, K = 288 (9 planes)
    ((7, 7, 64), 192, 3, 1, 1, 2),    # the default model's conv4: bitsliced, groups 2
    ((6, 5, 31), 33, 3, 2, 1, 1),     # field9, odd channels, stride 2
    ((6, 6, 33), 16, 3, 1, 1, 1),     # cg = 33: field18
    ((6, 6, 64), 40, 3, 1, 0, 1),     # field18, no padding
    ((6, 6, 65), 16, 3, 1, 1, 1),     # cg = 65: n = 27, words
    ((4, 4, 32), 16, 1, 1, 0, 1),     # n = 1, words
    ((5, 5, 32), 8, (3, 1), 1, 1, 1), # n = 3, words
]


@lru_cache(maxsize=None)
def cases():
    rng = np.random.default_rng(SEED)
    layers = [kernel_cases.R.random_bconv2d(rng, *spec) for spec in BOUNDARY]
    layers += [kernel_cases.bconv2d_layer(rng) for _ in range(RANDOM_CASES)]
    return [kernel_cases.bconv2d_case_for(rng, layer) for layer in layers]


@lru_cache(maxsize=None)
def choices(driver, tmp_path):
    """Per case: (selected path index, {path: predicate})."""
    probe = [Case([*c.params[:-1], 7], c.arrays) for c, _ in cases()]
    out = []
    for status, words in run_cases(driver, "bconv2d_paths", "opt", probe, tmp_path):
        assert status == BNN_OK
        preds = dict(zip(PATHS[:5] + PATHS[6:], (bool(w) for w in words[1:])))
        out.append((int(words[0]), {**preds, "words": True}))
    return out


@pytest.fixture(scope="module")
def path_choices(driver, tmp_path_factory):
    return choices(driver, tmp_path_factory.mktemp("paths"))


def test_select_path_is_the_first_predicate_that_holds(path_choices):
    for selected, preds in path_choices:
        assert PATHS[selected] == next(p for p in ORDER if preds[p])
        assert not preds["mve"] and not preds["bitsliced_mve"]  # the host has no Helium


def test_every_scalar_path_is_taken(path_choices):
    taken = {PATHS[s] for s, _ in path_choices}
    assert {"bitsliced", "lanes", "field9", "field18", "words"} <= taken


@pytest.mark.parametrize("path", PATHS)
def test_path_matches_oracle_or_refuses(driver, tmp_path, path_choices, path):
    all_cases = cases()
    results = run_cases(driver, "bconv2d", path, [c for c, _ in all_cases], tmp_path)
    bad, ran = [], 0
    for i, ((case, expected), (status, got), (_, preds)) in enumerate(
            zip(all_cases, results, path_choices)):
        if preds[path]:
            ran += 1
            if status != BNN_OK or not np.array_equal(got, expected):
                bad.append(f"case {i} params={case.params}: status {status}")
        elif status != BNN_ERR_SHAPE:
            bad.append(f"case {i} params={case.params}: status {status}, want BNN_ERR_SHAPE")
    assert not bad, f"{path}: {len(bad)} cases wrong:\n" + "\n".join(bad[:10])
    assert path in ("mve", "bitsliced_mve") or ran >= 5, f"{path} ran on only {ran} cases"
