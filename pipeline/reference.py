"""The oracle: a plain numpy *integer* interpreter of the IR (:mod:`pipeline.ir`).

Every other representation of a model (torch in eval mode, ONNX Runtime, the LCE interpreter,
the C kernels on the host and the firmware under QEMU) is compared to this module exactly, so it
favours being obviously right over being fast; it is vectorised over the batch and the taps of a
kernel, and works through the batch in chunks so memory stays bounded.

Everything is batch-first: activations are ``uint32[N, H, W, words]`` packed as
:mod:`pipeline.bits` says (bit 1 = -1, channels LSB-first, per packing group, padding bits 0).
No float is used anywhere: dot products are ``K - 2*popcount(x XOR w)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import bits as B
from . import ir
from .errors import PipelineError

# Largest number of uint32 words one XOR/popcount step touches (8 MiB): small steps keep the
# temporaries of the SWAR popcount in cache (measured: several times faster than one big step).
CHUNK_WORDS = 1 << 21
# Images that run() pushes through the whole network at once (bounds the activations' memory).
RUN_CHUNK_IMAGES = 256


class OracleInputError(PipelineError, ValueError):
    """An input array has the wrong dtype or shape for the layer it is given to."""


@dataclass(frozen=True)
class Result:
    logits: np.ndarray  # int32[N, K]
    classes: np.ndarray  # int64[N]
    activations: list[np.ndarray] | None  # per-layer outputs, when asked for


# --- helpers ---------------------------------------------------------------------------------

def _check(x: np.ndarray, dtype: type, shape: tuple[int, ...], what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != dtype or x.ndim != 4 or x.shape[1:] != tuple(shape):
        raise OracleInputError(
            f"{what}: expected {np.dtype(dtype).name}[N, {', '.join(map(str, shape))}], "
            f"got {x.dtype}{list(x.shape)}; pass a batch-first array of the layer's input shape")
    return x


def _by_chunks(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
               words_per_item: int) -> np.ndarray:
    """Apply ``fn`` to slices of the batch holding about CHUNK_WORDS words of work each."""
    step = max(1, CHUNK_WORDS // max(1, words_per_item))
    if len(x) <= step:
        return fn(x)
    return np.concatenate([fn(x[i:i + step]) for i in range(0, len(x), step)])


def _threshold_and_pack(dot: np.ndarray, threshold: np.ndarray, flip: np.ndarray,
                        out_pack_groups: int) -> np.ndarray:
    """+1 where ``(dot >= threshold) != flip``; packed (bit 1 = -1) along the last axis."""
    plus_one = (dot >= threshold) != flip.astype(bool)
    return B.pack((~plus_one).astype(np.uint8), out_pack_groups)


# --- layers ----------------------------------------------------------------------------------

def thermometer(layer: ir.Thermometer, images: np.ndarray, out_pack_groups: int = 1) -> np.ndarray:
    """uint8[N, H, W, C] -> uint32[N, H, W, words]; channel ``c*M + k`` is plane k of channel c."""
    images = _check(images, np.uint8, layer.in_shape, layer.name)
    if layer.mode == "thresholds":
        # plane k of channel c is +1 when pixel >= T[c, k]  -> bool[N, H, W, C, M]
        plus_one = images[..., None].astype(np.int32) >= layer.thresholds
    elif layer.mode == "base2":
        # plane k is bit 7-k of the pixel code (most significant plane first)
        shifts = (7 - np.arange(layer.planes)).astype(np.uint8)
        plus_one = ((images[..., None] >> shifts) & 1).astype(bool)
    else:
        raise ir.ShapeError(f"{layer.name}: unknown thermometer mode {layer.mode!r}")
    n, h, w, c = images.shape
    plus_one = plus_one.reshape(n, h, w, c * layer.planes)
    return B.pack((~plus_one).astype(np.uint8), out_pack_groups)


def bconv2d(layer: ir.BConv2d, x: np.ndarray, out_pack_groups: int = 1) -> np.ndarray:
    """Binary grouped conv with one-padding, then the per-channel threshold/flip compare."""
    h, w, c = layer.in_shape
    g, cout = layer.groups, layer.out_channels
    wg = B.words_per_group(c // g)
    x = _check(x, np.uint32, (h, w, g * wg), layer.name)
    oh, ow, _ = layer.out_shape
    kh, kw = layer.kernel
    taps = kh * kw
    # weights [Cout, kh, kw, Wg] -> [G, Cout/G, taps*Wg]: output channel o reads group o // (Cout/G)
    weights = layer.weights.reshape(g, cout // g, taps * wg)

    def conv(xb: np.ndarray) -> np.ndarray:
        n = len(xb)
        p, s = layer.padding, layer.stride
        # One-padding: a padded tap is +1, i.e. all bits 0 (it still XORs with the weight bits).
        xp = np.pad(xb, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=0)
        windows = [xp[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]
                   for i in range(kh) for j in range(kw)]  # each [n, oh, ow, G*Wg]
        patches = np.stack(windows, axis=3).reshape(n, oh, ow, taps, g, wg)
        patches = patches.transpose(0, 1, 2, 4, 3, 5).reshape(n, oh, ow, g, 1, taps * wg)
        dot = B.binary_dot(patches, weights, layer.k)  # [n, oh, ow, G, Cout/G]
        dot = dot.reshape(n, oh, ow, cout)
        return _threshold_and_pack(dot, layer.threshold, layer.flip, out_pack_groups)

    return _by_chunks(conv, x, oh * ow * cout * taps * wg)


def bmaxpool2d(layer: ir.BMaxPool2d, x: np.ndarray) -> np.ndarray:
    """Max of +-1 values is +1 unless all are -1: the AND of the bits (packing unchanged)."""
    h, w, c = layer.in_shape
    x = _check(x, np.uint32, (h, w, B.words_per_pixel(c, layer.in_pack_groups)), layer.name)
    oh, ow, _ = layer.out_shape
    k, s = layer.kernel, layer.stride
    out = np.full((len(x), oh, ow, x.shape[-1]), 0xFFFFFFFF, dtype=np.uint32)
    for i in range(k):
        for j in range(k):
            out &= x[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]
    return out


def bdense(layer: ir.BDense, x: np.ndarray, out_pack_groups: int = 1) -> np.ndarray:
    """Hidden: uint32[N, 1, 1, words] after threshold/flip; output: int32 logits[N, classes]."""
    h, w, c = layer.in_shape
    wpp = B.words_per_pixel(c, layer.in_pack_groups)
    x = _check(x, np.uint32, (h, w, wpp), layer.name)
    flat = x.reshape(len(x), 1, h * w * wpp)  # the packed input as it lies in memory
    dot = _by_chunks(lambda xb: B.binary_dot(xb, layer.weights, layer.k), flat,
                     layer.weights.size)  # int64[N, out_features]
    if layer.output:
        logits = dot * layer.mult.astype(np.int64) + layer.bias.astype(np.int64)
        if logits.size and (logits.min() < ir.INT32_MIN or logits.max() > ir.INT32_MAX):
            raise ir.ThresholdRangeError(f"{layer.name}: logits overflow int32")
        return logits.astype(np.int32)
    bits = _threshold_and_pack(dot, layer.threshold, layer.flip, out_pack_groups)
    return bits.reshape(len(x), 1, 1, -1)


def argmax(logits: np.ndarray) -> np.ndarray:
    """Class of each row; numpy's argmax returns the first maximum, so ties go to the lowest index."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.dtype.kind not in "iu":
        raise OracleInputError(f"argmax takes integer logits[N, K], got {logits.dtype}"
                               f"{list(logits.shape)}")
    return np.argmax(logits, axis=1).astype(np.int64)


# --- whole model -----------------------------------------------------------------------------

def apply_layer(layer: ir.Layer, x: np.ndarray, out_pack_groups: int) -> np.ndarray:
    """Run one layer of any kind."""
    if isinstance(layer, ir.Thermometer):
        return thermometer(layer, x, out_pack_groups)
    if isinstance(layer, ir.BConv2d):
        return bconv2d(layer, x, out_pack_groups)
    if isinstance(layer, ir.BMaxPool2d):
        return bmaxpool2d(layer, x)
    if isinstance(layer, ir.BDense):
        return bdense(layer, x, out_pack_groups)
    raise ir.IRError(f"unknown layer {layer!r}")


def run(model: ir.Model, images: np.ndarray, keep_activations: bool = False) -> Result:
    """uint8[N, H, W, C] images -> logits, classes and (optionally) every layer's output."""
    model.validate()
    images = _check(images, np.uint8, model.input_shape, "images")
    starts = range(0, len(images), RUN_CHUNK_IMAGES) if len(images) else [0]
    chunks = [_run_chunk(model, images[i:i + RUN_CHUNK_IMAGES], keep_activations) for i in starts]
    outputs = [np.concatenate(per_layer) for per_layer in zip(*chunks)]
    logits = outputs[-1]
    return Result(logits=logits, classes=argmax(logits),
                  activations=outputs if keep_activations else None)


def _run_chunk(model: ir.Model, images: np.ndarray, keep_activations: bool) -> list[np.ndarray]:
    """Outputs of every layer (or only the logits) for one slice of the batch."""
    outputs, x = [], images
    for i, layer in enumerate(model.layers):
        x = apply_layer(layer, x, model.out_pack_groups(i))
        if keep_activations:
            outputs.append(x)
    return outputs if keep_activations else [x]
