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

def check_input(x: np.ndarray, dtype: type, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``x`` if it is ``dtype[N, *shape]``, else :class:`OracleInputError` naming ``what``."""
    x = np.asarray(x)
    if x.dtype != dtype or x.ndim != 4 or x.shape[1:] != tuple(shape):
        raise OracleInputError(
            f"{what}: expected {np.dtype(dtype).name}[N, {', '.join(map(str, shape))}], "
            f"got {x.dtype}{list(x.shape)}; pass a batch-first array of the layer's input shape")
    return x


def by_chunks(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
               words_per_item: int) -> np.ndarray:
    """Apply ``fn`` to slices of the batch holding about CHUNK_WORDS words of work each."""
    step = max(1, CHUNK_WORDS // max(1, words_per_item))
    if len(x) <= step:
        return fn(x)
    return np.concatenate([fn(x[i:i + step]) for i in range(0, len(x), step)])


def threshold_and_pack(dot: np.ndarray, threshold: np.ndarray, flip: np.ndarray,
                        out_pack_groups: int) -> np.ndarray:
    """+1 where ``(dot >= threshold) != flip``; packed (bit 1 = -1) along the last axis."""
    plus_one = (dot >= threshold) != flip.astype(bool)
    return B.pack((~plus_one).astype(np.uint8), out_pack_groups)


# --- layers ----------------------------------------------------------------------------------
# Each kind's step is the ``oracle`` part of its module in pipeline/ops/. ``reference.<kind>``
# (``reference.bconv2d(layer, x, out_pack_groups=1)``) still names it, for every registered kind.

def __getattr__(name: str):
    from . import ops
    if name not in ops.kinds():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    op = ops.get(name)

    def step(layer, x, out_pack_groups: int = 1):
        return op.oracle(layer, x, out_pack_groups)
    step.__name__ = name
    step.__doc__ = op.oracle.__doc__
    return step


def argmax(logits: np.ndarray) -> np.ndarray:
    """Class of each row; numpy's argmax returns the first maximum, so ties go to the lowest index."""
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.dtype.kind not in "iu":
        raise OracleInputError(f"argmax takes integer logits[N, K], got {logits.dtype}"
                               f"{list(logits.shape)}")
    return np.argmax(logits, axis=1).astype(np.int64)


# --- whole model -----------------------------------------------------------------------------

def apply_layer(layer: ir.Layer, x: np.ndarray, out_pack_groups: int) -> np.ndarray:
    """Run one layer of any registered kind (its op's ``oracle`` step); an object that is no
    registered layer is an :class:`pipeline.ir.IRError`."""
    from . import ops
    try:
        op = ops.op_for(layer)
    except ops.OpError as exc:
        raise ir.IRError(str(exc)) from None
    return op.oracle(layer, x, out_pack_groups)


def run(model: ir.Model, images: np.ndarray, keep_activations: bool = False) -> Result:
    """uint8[N, H, W, C] images -> logits, classes and (optionally) every layer's output."""
    model.validate()
    images = check_input(images, np.uint8, model.input_shape, "images")
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
