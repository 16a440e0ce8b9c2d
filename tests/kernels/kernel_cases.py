"""Seeded random cases for the C kernels, each with the oracle's expected output words.

Layers are drawn with the makers of pipeline.random_ir over a wider shape range than whole
random models use: odd channel counts, channels per group across word boundaries (31, 32, 33,
64, 65), groups 1-8, kernels 1/3/5 and non-square ones, stride 1-3, padding 0-2, sizes down to 1,
thermometers with 1-40 planes and 1-4 channels, output packing groups independent of the conv
groups. Expected outputs come from pipeline.reference (the oracle), one case at a time.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from pipeline import bits as B
from pipeline import random_ir as R
from pipeline import reference as ref
from pipeline.ops.bdense import sliced_blocks

from kernel_harness import Case

THERMO_MODES = {"thresholds": 0, "base2": 1}


def _divisor(rng: np.random.Generator, n: int, largest: int = 8) -> int:
    return int(rng.choice([g for g in range(1, largest + 1) if n % g == 0]))


def _channels_per_group(rng: np.random.Generator) -> int:
    """Mostly small and odd, sometimes right at or across a 32-bit word boundary."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return int(rng.choice([31, 32, 33, 63, 64, 65]))
    if kind == 1:
        return int(rng.integers(9, 48))
    return int(rng.integers(1, 9))


def _words(arr: np.ndarray) -> np.ndarray:
    """Any integer output as the uint32 words the driver returns."""
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint32)


# --- thermometer -----------------------------------------------------------------------------

def thermometer_case(rng: np.random.Generator, group_per_channel: bool = False,
                     wide: bool = False) -> tuple[Case, np.ndarray]:
    """A random thermometer and image; ``group_per_channel``: 2-4 channels of at most 8 planes,
    the output packed in one group per channel; ``wide``: 5 channels of 7 or 8 planes (more
    than 32 bits a pixel) in 2 or 4 groups (8 planes) or 5 groups (7 planes)."""
    mode = "base2" if rng.random() < 0.3 else "thresholds"
    channels = int(rng.choice([2, 3, 4] if group_per_channel else [1, 3, 1, 3, 2, 4]))
    planes = int(rng.integers(1, 9)) if mode == "base2" or group_per_channel else int(
        rng.choice([rng.integers(1, 17), rng.integers(17, 41)], p=[0.85, 0.15]))
    if wide:
        channels, planes = 5, int(rng.choice([7, 8]))
    h, w = (int(v) for v in rng.integers(1, 11, size=2))
    layer = R.random_thermometer(rng, (h, w, channels), planes, mode)
    groups = channels if group_per_channel else _divisor(rng, channels * planes)
    if wide:
        groups = int(rng.choice([2, 4])) if planes == 8 else 5
    image = R.random_images(int(rng.integers(1 << 30)), 1, (h, w, channels))
    if mode == "thresholds":  # put pixels exactly on thresholds (the >= edge)
        hit = rng.random(image.shape) < 0.3
        pick = layer.thresholds[np.arange(channels), rng.integers(0, planes, size=channels)]
        on = np.broadcast_to(np.clip(pick, 0, 255), image.shape)
        image = np.where(hit, on, image).astype(np.uint8)
    expected = ref.thermometer(layer, image, groups)[0]
    params = [h, w, channels, planes, THERMO_MODES[mode], groups, expected.size]
    arrays = [layer.thresholds.astype(np.uint16), image[0]]
    return Case(params, arrays), _words(expected)


# --- bconv2d ---------------------------------------------------------------------------------

def bconv2d_layer(rng: np.random.Generator):
    groups = int(rng.choice([1, 1, 1, 2, 3, 4, 5, 6, 7, 8]))
    in_c = groups * _channels_per_group(rng)
    while in_c > 160:
        in_c //= 2
        in_c -= in_c % groups
    in_c = max(in_c, groups)
    out_c = groups * int(rng.integers(1, max(2, 40 // groups) + 1))
    if rng.random() < 0.8:
        kh = kw = int(rng.choice([1, 3, 5]))
    else:
        kh, kw = (int(v) for v in rng.choice([1, 2, 3, 5], size=2))
    padding = int(rng.choice([0, 1, 1, 2]))
    stride = int(rng.choice([1, 1, 2, 2, 3]))
    h = int(rng.integers(max(1, kh - 2 * padding), 11))
    w = int(rng.integers(max(1, kw - 2 * padding), 11))
    return R.random_bconv2d(rng, (h, w, in_c), out_c, (kh, kw), stride, padding, groups)


def bconv2d_case_for(rng: np.random.Generator, layer, scratch_delta: int = 0) -> tuple[Case, np.ndarray]:
    h, w, in_c = layer.in_shape
    out_groups = _divisor(rng, layer.out_channels)
    x = R.random_activations(rng, 1, layer.in_shape, layer.groups)
    expected = ref.bconv2d(layer, x, out_groups)[0]
    kh, kw = layer.kernel
    params = [h, w, in_c, layer.out_channels, kh, kw, layer.stride, layer.padding, layer.groups,
              out_groups, scratch_delta, expected.size]
    arrays = [layer.weights, layer.threshold, layer.flip, x[0]]
    return Case(params, arrays), _words(expected)


def bconv2d_case(rng: np.random.Generator) -> tuple[Case, np.ndarray]:
    return bconv2d_case_for(rng, bconv2d_layer(rng))


def bench_layer(seed: int = 0):
    """The benchmark geometry: 3x3, 64 -> 64 channels, 16x16, one-padding 1, stride 1, groups 1."""
    rng = np.random.default_rng(seed)
    return R.random_bconv2d(rng, (16, 16, 64), 64, 3, 1, 1, 1)


# --- bmaxpool2d ------------------------------------------------------------------------------

def bmaxpool2d_case(rng: np.random.Generator) -> tuple[Case, np.ndarray]:
    h, w = (int(v) for v in rng.integers(1, 13, size=2))
    channels = int(rng.choice([rng.integers(1, 9), rng.integers(9, 100), 32, 64, 65]))
    groups = _divisor(rng, channels)
    kernel = int(rng.integers(1, min(4, h, w) + 1))
    stride = int(rng.integers(1, 4))
    layer = R.random_bmaxpool2d((h, w, channels), kernel, stride, groups)
    x = R.random_activations(rng, 1, (h, w, channels), groups)
    if rng.random() < 0.5:  # mostly -1 inputs, so that the AND of a window is often 1 too
        x = x | R.random_activations(rng, 1, (h, w, channels), groups)
    expected = ref.bmaxpool2d(layer, x)[0]
    params = [h, w, channels, kernel, stride, groups, expected.size]
    return Case(params, [x[0]]), _words(expected)


# --- bdense ----------------------------------------------------------------------------------

def _dense_input_shape(rng: np.random.Generator) -> tuple[int, int, int]:
    h, w = (int(v) for v in rng.integers(1, 5, size=2))
    c = int(rng.choice([rng.integers(1, 9), rng.integers(9, 80), 32, 64, 33]))
    return h, w, c


def bdense_hidden_case(rng: np.random.Generator) -> tuple[Case, np.ndarray]:
    shape = _dense_input_shape(rng)
    in_groups = _divisor(rng, shape[2])
    layer = R.random_bdense(rng, shape, int(rng.integers(1, 41)), output=False,
                            in_pack_groups=in_groups)
    out_groups = _divisor(rng, layer.out_features)
    x = R.random_activations(rng, 1, shape, in_groups)
    expected = ref.bdense(layer, x, out_groups)[0]
    params = [*shape, in_groups, layer.out_features, out_groups, expected.size]
    arrays = [layer.weights, layer.threshold, layer.flip, x[0]]
    return Case(params, arrays), _words(expected)


# Input words of the sliced cases beyond the small shapes: the carry blocks of 16 (15-17, 31-33),
# the 64-word chunk (63-65, 128-129) and the default model's 54.
SLICED_WORDS = (15, 16, 17, 31, 32, 33, 54, 63, 64, 65, 128, 129)


def bdense_sliced_case(rng: np.random.Generator) -> tuple[Case, np.ndarray]:
    """A hidden dense layer in the sliced layout (arrays: weights, threshold, flip, input,
    sliced blocks): half the small shapes of bdense_hidden_case, half the SLICED_WORDS input
    words (a row of 32-channel pixels, or 31 channels so that K is not a multiple of 32, or
    33 channels in two words per pixel); 1-70 rows in 1-8 packing groups (words of fewer than
    32 rows, several words per group); a third of the thresholds at the ends of [-K, K+1]."""
    if rng.random() < 0.5:
        shape = _dense_input_shape(rng)
    else:
        n = int(rng.choice(SLICED_WORDS))
        c = int(rng.choice([32, 31, 33]))
        shape = (1, n // 2 if c == 33 and n % 2 == 0 else n, c)
    in_groups = _divisor(rng, shape[2])
    n_out = int(rng.integers(1, 71))
    return bdense_sliced_case_for(rng, shape, n_out, in_groups)


def bdense_sliced_case_for(rng: np.random.Generator, shape: tuple[int, int, int], n_out: int,
                           in_groups: int) -> tuple[Case, np.ndarray]:
    """The sliced case of one geometry (see bdense_sliced_case): random weights, thresholds
    (a third at the ends of [-K, K+1]), output packing and input."""
    layer = R.random_bdense(rng, shape, n_out, output=False, in_pack_groups=in_groups)
    k = layer.k
    threshold = layer.threshold.copy()
    ends = rng.random(layer.out_features) < 0.33
    threshold[ends] = rng.choice([-k, -k + 1, k, k + 1], size=int(ends.sum()))
    layer = dataclasses.replace(layer, threshold=threshold)
    out_groups = _divisor(rng, layer.out_features)
    x = R.random_activations(rng, 1, shape, in_groups)
    expected = ref.bdense(layer, x, out_groups)[0]
    params = [*shape, in_groups, layer.out_features, out_groups, expected.size]
    arrays = [layer.weights, layer.threshold, layer.flip, x[0],
              sliced_blocks(layer, out_groups)]
    return Case(params, arrays), _words(expected)


def bdense_output_case(rng: np.random.Generator) -> tuple[Case, np.ndarray]:
    shape = _dense_input_shape(rng)
    in_groups = _divisor(rng, shape[2])
    layer = R.random_bdense(rng, shape, int(rng.integers(1, 13)), output=True,
                            in_pack_groups=in_groups)
    x = R.random_activations(rng, 1, shape, in_groups)
    expected = ref.bdense(layer, x)[0]
    assert expected.dtype == np.int32
    params = [*shape, in_groups, layer.out_features, expected.size]
    arrays = [layer.weights, layer.mult, layer.bias, x[0]]
    return Case(params, arrays), _words(expected)


# --- argmax and the popcount block -----------------------------------------------------------

def argmax_case(rng: np.random.Generator) -> tuple[Case, np.ndarray]:
    n = int(rng.integers(1, 21))
    if rng.random() < 0.5:  # a small range makes ties frequent
        logits = rng.integers(-3, 4, size=n)
    else:
        logits = rng.integers(-(2**31), 2**31, size=n)
    logits = logits.astype(np.int32)
    expected = ref.argmax(logits[None])[0:1].astype(np.int32)
    return Case([n, 1], [logits]), _words(expected)


def xor_popcount_case(rng: np.random.Generator) -> tuple[Case, np.ndarray]:
    n = int(rng.choice([rng.integers(0, 40), rng.integers(40, 300)]))
    a = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)
    if rng.random() < 0.2:  # every bit different: the largest per-byte partial sums
        a, b = np.full(n, 0xFFFFFFFF, np.uint32), np.zeros(n, np.uint32)
    expected = np.array([B.popcount(a ^ b).sum()], dtype=np.int32)
    return Case([n, 1], [a, b]), _words(expected)


GENERATORS = {
    "thermometer": thermometer_case,
    "bconv2d": bconv2d_case,
    "bmaxpool2d": bmaxpool2d_case,
    "bdense_hidden": bdense_hidden_case,
    "bdense_sliced": bdense_sliced_case,
    "bdense_output": bdense_output_case,
    "argmax": argmax_case,
    "xor_popcount": xor_popcount_case,
}


# Each kernel's stream of cases is seeded by its place here (new kernels go at the end, so the
# cases of the others stay the same).
SEED_ORDER = ("argmax", "bconv2d", "bdense_hidden", "bdense_output", "bmaxpool2d",
              "thermometer", "xor_popcount", "bdense_sliced")


def random_cases(kernel: str, seed: int, count: int) -> list[tuple[Case, np.ndarray]]:
    rng = np.random.default_rng([seed, SEED_ORDER.index(kernel)])
    return [GENERATORS[kernel](rng) for _ in range(count)]
