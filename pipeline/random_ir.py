"""Seeded random, valid IRs (and their inputs) for tests and benchmarks.

Everything is drawn from one ``numpy.random.Generator``, so a seed names a model. The layer makers
(``random_bconv2d`` ...) are public so tests can draw single layers of chosen shapes.

Thresholds are realistic: most lie near the centre of the dot-product distribution (0, with
spread sqrt(K)) so outputs are not constant, a few anywhere in the valid range [-K, K+1]
(including the "always" / "never" ends), and both flips occur.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import bits as B
from . import ir

# What random_model draws when not overridden (ranges are inclusive).
_DEFAULT_RANGES = {
    "height": (5, 14), "width": (5, 14), "planes": (1, 16), "conv_layers": (1, 3),
    "max_channels": (8, 48), "classes": (2, 12),
}
_OVERRIDES = ("height", "width", "in_channels", "planes", "mode", "conv_layers", "max_channels",
              "maxpool", "hidden_dense", "classes")


# --- inputs ----------------------------------------------------------------------------------

def random_images(seed: int, n: int, shape: tuple[int, int, int]) -> np.ndarray:
    """``n`` uniform random uint8 images of shape (H, W, C), batch-first."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


def random_activations(rng: np.random.Generator, n: int, shape: tuple[int, int, int],
                       groups: int = 1) -> np.ndarray:
    """Random packed activations uint32[n, H, W, words] (padding bits 0)."""
    bits = rng.integers(0, 2, size=(n, *shape), dtype=np.uint8)
    return B.pack(bits, groups)


# --- layers ----------------------------------------------------------------------------------

def random_threshold_table(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds in [-K, K+1] for dot products over K terms, and flip flags."""
    threshold = np.rint(rng.normal(0.0, max(1.0, np.sqrt(k)), size=n))
    anywhere = rng.random(n) < 0.1
    threshold[anywhere] = rng.integers(-k, k + 2, size=int(anywhere.sum()))
    threshold = np.clip(threshold, -k, k + 1).astype(np.int32)
    flip = rng.integers(0, 2, size=n, dtype=np.uint8)
    return threshold, flip


def random_thermometer(rng: np.random.Generator, in_shape: tuple[int, int, int], planes: int,
                       mode: str = "thresholds", name: str = "thermo") -> ir.Thermometer:
    c = in_shape[2]
    if mode == "base2":
        thresholds = np.zeros((c, 0), dtype=np.int32)
        encoding = "base2"
    else:  # strictly increasing pixel codes in [0, 256] for every channel
        thresholds = np.stack([np.sort(rng.choice(257, size=planes, replace=False))
                               for _ in range(c)]).astype(np.int32)
        encoding = "glt"
    return ir.Thermometer(name=name, in_shape=in_shape, planes=planes, mode=mode,
                          thresholds=thresholds, encoding=encoding)


def random_bconv2d(rng: np.random.Generator, in_shape: tuple[int, int, int], out_channels: int,
                   kernel: int | tuple[int, int], stride: int, padding: int, groups: int,
                   name: str = "conv") -> ir.BConv2d:
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    cg = in_shape[2] // groups
    weight_bits = rng.integers(0, 2, size=(out_channels, kh, kw, cg), dtype=np.uint8)
    threshold, flip = random_threshold_table(rng, out_channels, kh * kw * cg)
    return ir.BConv2d(name=name, in_shape=in_shape, out_channels=out_channels, kernel=(kh, kw),
                      stride=stride, padding=padding, groups=groups,
                      weights=B.pack(weight_bits), threshold=threshold, flip=flip)


def random_bmaxpool2d(in_shape: tuple[int, int, int], kernel: int, stride: int,
                      in_pack_groups: int = 1, name: str = "pool") -> ir.BMaxPool2d:
    return ir.BMaxPool2d(name=name, in_shape=in_shape, kernel=kernel, stride=stride,
                         in_pack_groups=in_pack_groups)


def random_bdense(rng: np.random.Generator, in_shape: tuple[int, int, int], out_features: int,
                  output: bool, in_pack_groups: int = 1, name: str = "dense") -> ir.BDense:
    h, w, c = in_shape
    k = h * w * c
    weight_bits = rng.integers(0, 2, size=(out_features, h, w, c), dtype=np.uint8)
    weights = B.pack(weight_bits, in_pack_groups).reshape(out_features, -1)
    if not output:
        threshold, flip = random_threshold_table(rng, out_features, k)
        return ir.BDense(name=name, in_shape=in_shape, out_features=out_features, weights=weights,
                         output=False, in_pack_groups=in_pack_groups, threshold=threshold,
                         flip=flip)
    # |dot*mult| <= INT32_MAX/2 and |bias| <= INT32_MAX/2, so logits never overflow int32.
    mult_max = max(1, min(1 << 12, ir.INT32_MAX // (2 * k)))
    mult = rng.integers(-mult_max, mult_max + 1, size=out_features)
    bias = np.rint(rng.normal(0.0, np.sqrt(k) * mult_max / 2, size=out_features))
    bias = np.clip(bias, -(ir.INT32_MAX // 2), ir.INT32_MAX // 2)
    return ir.BDense(name=name, in_shape=in_shape, out_features=out_features, weights=weights,
                     output=True, in_pack_groups=in_pack_groups,
                     mult=mult.astype(np.int32), bias=bias.astype(np.int32))


# --- models ----------------------------------------------------------------------------------

def random_model(seed: int, **overrides) -> ir.Model:
    """A random valid model: thermometer -> 1-3 convs (each maybe followed by a max-pool) ->
    maybe a hidden dense -> output dense.

    Overrides (else drawn at random): height, width, in_channels (1|3), planes (1-16), mode
    ("thresholds"|"base2"), conv_layers, max_channels, maxpool (bool: a pool after every conv
    that allows one / none), hidden_dense (0 = none, else its width), classes.
    """
    unknown = set(overrides) - set(_OVERRIDES)
    if unknown:
        raise TypeError(f"random_model() got unknown overrides {sorted(unknown)}; "
                        f"known: {list(_OVERRIDES)}")
    rng = np.random.default_rng(seed)
    o = _draw_settings(rng, overrides)

    layers: list[ir.Layer] = [random_thermometer(rng, (o["height"], o["width"], o["in_channels"]),
                                                 o["planes"], o["mode"])]
    for i in range(1, o["conv_layers"] + 1):
        _append(layers, _random_conv_layer(rng, layers[-1].out_shape, o["max_channels"], f"conv{i}"))
        pool = _random_pool_layer(rng, layers[-1].out_shape, o["maxpool"], f"pool{i}")
        if pool is not None:
            layers.append(pool)
    if o["hidden_dense"]:
        shape = layers[-1].out_shape
        _append(layers, random_bdense(rng, shape, o["hidden_dense"], output=False,
                                      in_pack_groups=_random_divisor(rng, shape[2]), name="dense1"))
    shape = layers[-1].out_shape
    _append(layers, random_bdense(rng, shape, o["classes"], output=True,
                                  in_pack_groups=_random_divisor(rng, shape[2]), name="logits"))
    return ir.Model(tuple(layers), {"generator": "pipeline.random_ir", "seed": int(seed),
                                    "settings": o}).validate()


def small_model(seed: int) -> ir.Model:
    """A random model small enough for fast tests (<= 8x8 images, <= 2 convs of <= 24 channels)."""
    rng = np.random.default_rng([seed, 1])
    return random_model(seed, height=int(rng.integers(3, 9)), width=int(rng.integers(3, 9)),
                        planes=int(rng.integers(1, 9)), conv_layers=int(rng.integers(1, 3)),
                        max_channels=int(rng.integers(4, 25)),
                        hidden_dense=int(rng.choice([0, rng.integers(1, 20)])),
                        classes=int(rng.integers(2, 11)))


def _draw_settings(rng: np.random.Generator, overrides: dict) -> dict:
    o = {name: int(rng.integers(lo, hi + 1)) for name, (lo, hi) in _DEFAULT_RANGES.items()}
    o["in_channels"] = int(rng.choice([1, 3]))
    o["mode"] = "base2" if rng.random() < 0.25 else "thresholds"
    o["maxpool"] = None  # None: decided per conv at random
    o["hidden_dense"] = int(rng.integers(1, 40)) if rng.random() < 0.5 else 0
    o.update(overrides)
    if o["mode"] == "base2" and "planes" not in overrides:
        o["planes"] = min(o["planes"], 8)
    return o


def _random_divisor(rng: np.random.Generator, channels: int, largest: int = 8) -> int:
    return int(rng.choice([g for g in range(1, largest + 1) if channels % g == 0]))


def _random_conv_layer(rng: np.random.Generator, in_shape: tuple[int, int, int],
                       max_channels: int, name: str) -> ir.BConv2d:
    h, w, c = in_shape
    groups = _random_divisor(rng, c)
    out_channels = groups * int(rng.integers(1, max(1, max_channels // groups) + 1))
    padding = int(rng.integers(0, 2))
    kernels = [k for k in (1, 3, 5) if k <= min(h, w) + 2 * padding]
    kernel = int(rng.choice(kernels))
    stride = int(rng.integers(1, 3))
    return random_bconv2d(rng, in_shape, out_channels, kernel, stride, padding, groups, name)


def _random_pool_layer(rng: np.random.Generator, in_shape: tuple[int, int, int],
                       wanted: bool | None, name: str) -> ir.BMaxPool2d | None:
    h, w, _ = in_shape
    if min(h, w) < 2 or wanted is False or (wanted is None and rng.random() < 0.5):
        return None
    kernel = int(rng.integers(2, min(3, h, w) + 1))
    stride = int(rng.integers(1, 3))
    return random_bmaxpool2d(in_shape, kernel, stride, name=name)


def _append(layers: list[ir.Layer], layer: ir.Layer) -> None:
    """Append ``layer``; a max-pool before it keeps the packing that ``layer`` reads."""
    if isinstance(layers[-1], ir.BMaxPool2d):
        layers[-1] = dataclasses.replace(layers[-1], in_pack_groups=layer.in_pack_groups)
    layers.append(layer)
