"""The architecture of a network as plain data, without torch: shapes, bits, defaults.

An *architecture* is a serialisable dict (stored in checkpoints so a pruned model can be rebuilt
at its reduced width)::

    {"in_shape": [H, W, C], "classes": K, "encoding": {EncodingConfig fields},
     "layers": [{"conv": C, "kernel": 3, "stride": 1, "padding": 1, "groups": 1},
                {"pool": 2, "stride": 2}, {"shuffle": G}, {"dense": N}, ...]}

The output layer (a binary dense with one unit per class) is implied. Each config layer's kind
is found by its key in the registry (:func:`pipeline.ops.for_spec`), which also gives its
defaults, output shape, bit count and pruning rules. This module is torch-free
so that a config can be checked whole (shapes, groups, bit budget) when it is loaded, before any
data is read or any training starts.
"""
from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np

from .. import ir, ops
from ..errors import PipelineError

# Default topologies per input shape (used when a config lists no layers).
DEFAULT_LAYERS = {
    (28, 28, 1): [{"conv": 32, "kernel": 3, "padding": 1}, {"pool": 2},
                  {"conv": 64, "kernel": 3, "padding": 1}, {"pool": 2},
                  {"conv": 128, "kernel": 3, "padding": 1}, {"pool": 2}],
    (96, 96, 3): [{"conv": 32, "kernel": 3, "stride": 2, "padding": 1}, {"pool": 2},
                  {"conv": 64, "kernel": 3, "padding": 1}, {"pool": 2},
                  {"conv": 128, "kernel": 3, "padding": 1, "groups": 2}, {"pool": 2},
                  {"conv": 256, "kernel": 3, "padding": 1, "groups": 4}, {"pool": 2}],
}


class ArchitectureError(PipelineError, ValueError):
    """The layers of a config do not fit together (groups, sizes, pooling to nothing)."""


def make_arch(model_cfg, in_shape: tuple[int, int, int], classes: int) -> dict:
    """The architecture dict of a ModelConfig on an input of ``in_shape`` (H, W, C) with
    ``classes`` outputs; the config's layers, or the default topology for that input shape.
    Raises :class:`ArchitectureError` when there is no default for the shape."""
    layers = model_cfg.layers or DEFAULT_LAYERS.get(tuple(in_shape))
    if layers is None:
        raise ArchitectureError(f"layers: no default topology for input {'x'.join(map(str, in_shape))}"
                                f" (defaults exist for {', '.join('x'.join(map(str, k)) for k in DEFAULT_LAYERS)}); "
                                "list them")
    return {"in_shape": list(in_shape), "classes": int(classes),
            "encoding": dataclasses.asdict(model_cfg.encoding),
            "layers": [_normalise(dict(s)) for s in layers]}


def _normalise(spec: dict) -> dict:
    return ops.for_spec(spec).normalise(spec)


def encoding_channels(arch: dict) -> int:
    """Channels after the thermometer: input channels x planes (channel ``c*M + k``)."""
    return arch["in_shape"][2] * arch["encoding"]["planes"]


def layer_shapes(arch: dict) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """(input, output) HWC shape of every listed layer, plus the implied output layer last."""
    h, w, _ = arch["in_shape"]
    c = encoding_channels(arch)
    out = []
    for i, spec in enumerate(arch["layers"] + [{"dense": arch["classes"]}]):
        before = (h, w, c)
        h, w, c = ops.for_spec(spec).arch_shape(spec, before, i)
        if min(h, w) < 1:
            raise ArchitectureError(f"layers[{i}] {spec} leaves no pixels of its input "
                                    f"{'x'.join(map(str, before))}", i)
        out.append((before, (h, w, c)))
    return out


def arch_bits(arch: dict) -> int:
    """Bits of the lowered model, counted by :func:`pipeline.ir.layer_bits` itself on a
    skeleton IR (right shapes, zero arrays), so the two can never disagree."""
    return sum(sum(ir.layer_bits(layer).values()) for layer in _skeleton_layers(arch))


def _skeleton_layers(arch: dict) -> list:
    enc = arch["encoding"]
    h, w, c = arch["in_shape"]
    m = enc["planes"]
    base2 = enc["kind"] == "base2"
    layers: list = [ops.get("thermometer").layer(
        "t", (h, w, c), m, "base2" if base2 else "thresholds",
        np.zeros((c, 0 if base2 else m), np.int32))]
    specs = arch["layers"] + [{"dense": arch["classes"], "output": True}]
    for spec, (shape, _) in zip(specs, layer_shapes(arch)):
        layer = ops.for_spec(spec).skeleton(spec, shape)
        if layer is not None:
            layers.append(layer)
    return layers


def width_key(spec: dict) -> str | None:
    """The key holding a prunable layer's width (``conv``, ``dense``); None: not prunable."""
    return ops.for_spec(spec).prune_width_key


def reader_index(arch: dict, i: int) -> int | None:
    """Index of the layer that reads layer i's channels, looking past layers they pass through
    unchanged (``prune_transparent``, e.g. a max-pool); None: the output layer reads them."""
    for j in range(i + 1, len(arch["layers"])):
        if not ops.for_spec(arch["layers"][j]).prune_transparent:
            return j
    return None


def prune_segments(arch: dict, i: int) -> int:
    """Aligned segments of layer i's outputs that pruning shrinks evenly: the lcm of its own
    groups and its reader's (the output dense reads in one segment)."""
    j = reader_index(arch, i)
    reader = arch["layers"][j] if j is not None else None
    own = ops.for_spec(arch["layers"][i]).prune_groups(arch["layers"][i])
    return math.lcm(own, ops.for_spec(reader).prune_groups(reader) if reader else 1)


def prunable(arch: dict, i: int) -> bool:
    """True when layer i has a width to prune and its reader can lose input channels."""
    if width_key(arch["layers"][i]) is None:
        return False
    j = reader_index(arch, i)
    return j is None or ops.for_spec(arch["layers"][j]).prune_narrows_inputs


def min_widths(arch: dict, min_keep: float) -> dict[int, int]:
    """The fewest channels each prunable layer may keep (of its unpruned width)."""
    return {i: max(1, math.ceil(min_keep * s[width_key(s)]))
            for i, s in enumerate(arch["layers"]) if prunable(arch, i)}


def narrowed_to_min(arch: dict, min_keep: float) -> dict:
    """The architecture with every prunable layer at its minimum width: a lower bound on the
    bits block pruning can reach (used to reject an unreachable budget before training)."""
    out = copy.deepcopy(arch)
    layers = out["layers"]
    for i, width in min_widths(arch, min_keep).items():
        # pruning keeps a width divisible by this layer's groups and its reader's groups
        segments = prune_segments(arch, i)
        layers[i][width_key(layers[i])] = -(-width // segments) * segments
    return out
