"""Seeded random, valid IRs (and their inputs) for tests and benchmarks.

Everything is drawn from one ``numpy.random.Generator``, so a seed names a model. The layer makers
(``random_bconv2d`` ...) are public so tests can draw single layers of chosen shapes.

Thresholds are realistic: most lie near the centre of the dot-product distribution (0, with
spread sqrt(K)) so outputs are not constant, a few anywhere in the valid range [-K, K+1]
(including the "always" / "never" ends), and both flips occur.
"""
from __future__ import annotations

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


def random_divisor(rng: np.random.Generator, channels: int, largest: int = 8) -> int:
    """A random divisor of ``channels`` up to ``largest`` (groups, packing groups)."""
    return int(rng.choice([g for g in range(1, largest + 1) if channels % g == 0]))


# The layer makers live with their kinds (pipeline/ops/<kind>.py); these names stay for callers.
def random_thermometer(rng: np.random.Generator, in_shape: tuple[int, int, int], planes: int,
                       mode: str = "thresholds", name: str = "thermo") -> ir.Layer:
    """See :func:`pipeline.ops.thermometer.random_thermometer`."""
    from .ops.thermometer import random_thermometer as make
    return make(rng, in_shape, planes, mode, name)


def random_bconv2d(rng: np.random.Generator, in_shape: tuple[int, int, int], out_channels: int,
                   kernel: int | tuple[int, int], stride: int, padding: int, groups: int,
                   name: str = "conv") -> ir.Layer:
    """See :func:`pipeline.ops.bconv2d.random_bconv2d`."""
    from .ops.bconv2d import random_bconv2d as make
    return make(rng, in_shape, out_channels, kernel, stride, padding, groups, name)


def random_bmaxpool2d(in_shape: tuple[int, int, int], kernel: int, stride: int,
                      in_pack_groups: int = 1, name: str = "pool") -> ir.Layer:
    """See :func:`pipeline.ops.bmaxpool2d.random_bmaxpool2d`."""
    from .ops.bmaxpool2d import random_bmaxpool2d as make
    return make(in_shape, kernel, stride, in_pack_groups, name)


def random_bdense(rng: np.random.Generator, in_shape: tuple[int, int, int], out_features: int,
                  output: bool, in_pack_groups: int = 1, name: str = "dense") -> ir.Layer:
    """See :func:`pipeline.ops.bdense.random_bdense`."""
    from .ops.bdense import random_bdense as make
    return make(rng, in_shape, out_features, output, in_pack_groups, name)


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
                                      in_pack_groups=random_divisor(rng, shape[2]), name="dense1"))
    shape = layers[-1].out_shape
    _append(layers, random_bdense(rng, shape, o["classes"], output=True,
                                  in_pack_groups=random_divisor(rng, shape[2]), name="logits"))
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


def _random_conv_layer(rng: np.random.Generator, in_shape: tuple[int, int, int],
                       max_channels: int, name: str) -> ir.Layer:
    from .ops.bconv2d import random_conv_layer
    return random_conv_layer(rng, in_shape, max_channels, name)


def _random_pool_layer(rng: np.random.Generator, in_shape: tuple[int, int, int],
                       wanted: bool | None, name: str) -> ir.Layer | None:
    from . import ops
    h, w, _ = in_shape
    if min(h, w) < 2 or wanted is False or (wanted is None and rng.random() < 0.5):
        return None
    return ops.get("bmaxpool2d").random_layer(rng, in_shape, name)


def _append(layers: list[ir.Layer], layer: ir.Layer) -> None:
    """Append ``layer``; a layer before it that keeps its packing reads what ``layer`` reads."""
    layers.append(layer)
    layers[:] = ir.settle_packing(layers)


def model_with(seed: int, kind: str, max_channels: int = 24) -> ir.Model:
    """A small random valid model holding at least one layer of ``kind`` (any registered kind,
    drawn by its op's ``random_layer``): the input encoder, a conv of up to ``max_channels``
    channels, the kind's layer (unless it is the encoder), another conv and the output dense.
    The tests that run over the registry (oracle, host C, QEMU, exports) draw their cases here;
    a ``max_channels`` above 32 gives channel groups that span several words."""
    from . import ops
    from .ops.bconv2d import random_conv_layer
    op = ops.get(kind)
    rng = np.random.default_rng([seed, 2])
    encoder = op if op.layer.reads_image else next(
        ops.get(k) for k in ops.kinds() if ops.get(k).layer.reads_image)
    shape = (int(rng.integers(4, 9)), int(rng.integers(4, 9)), int(rng.choice([1, 3])))
    layers: list[ir.Layer] = [encoder.random_layer(rng, shape, "thermo")]
    _append(layers, random_conv_layer(rng, layers[-1].out_shape, max_channels, "conv1"))
    if not op.layer.reads_image:
        for _ in range(100):
            layer = op.random_layer(rng, layers[-1].out_shape, f"{kind}1")
            if layer is not None:
                break
        else:
            raise ValueError(f"{kind}: random_layer found no layer for {layers[-1].out_shape}")
        _append(layers, layer)
    _append(layers, random_conv_layer(rng, layers[-1].out_shape, max_channels, "conv2"))
    shape = layers[-1].out_shape
    _append(layers, random_bdense(rng, shape, int(rng.integers(2, 11)), output=True,
                                  in_pack_groups=random_divisor(rng, shape[2]), name="logits"))
    return ir.Model(tuple(layers), {"generator": "pipeline.random_ir.model_with",
                                    "seed": int(seed), "kind": kind}).validate()
