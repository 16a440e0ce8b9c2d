"""The architecture of a network as plain data, without torch: shapes, bits, defaults.

An *architecture* is a serialisable dict (stored in checkpoints so a pruned model can be rebuilt
at its reduced width)::

    {"in_shape": [H, W, C], "classes": K, "encoding": {EncodingConfig fields},
     "layers": [{"conv": C, "kernel": 3, "stride": 1, "padding": 1, "groups": 1},
                {"pool": 2, "stride": 2}, {"dense": N}, ...]}

The output layer (a binary dense with one unit per class) is implied. This module is torch-free
so that a config can be checked whole (shapes, groups, bit budget) when it is loaded, before any
data is read or any training starts.
"""
from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np

from .. import ir
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
    if "conv" in spec:
        return {"conv": spec["conv"], "kernel": spec.get("kernel", 3),
                "stride": spec.get("stride", 1), "padding": spec.get("padding", 0),
                "groups": spec.get("groups", 1)}
    if "pool" in spec:
        return {"pool": spec["pool"], "stride": spec.get("stride", spec["pool"])}
    return {"dense": spec["dense"]}


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
        if "conv" in spec:
            k, s, p = spec["kernel"], spec["stride"], spec["padding"]
            if c % spec["groups"] or spec["conv"] % spec["groups"]:
                raise ArchitectureError(f"layers[{i}]: conv {c}->{spec['conv']} channels cannot be "
                                        f"split into {spec['groups']} groups", i)
            h, w, c = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, spec["conv"]
        elif "pool" in spec:
            h, w = (h - spec["pool"]) // spec["stride"] + 1, (w - spec["pool"]) // spec["stride"] + 1
        else:
            h, w, c = 1, 1, spec["dense"]
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
    layers: list = [ir.Thermometer("t", (h, w, c), m, "base2" if enc["kind"] == "base2" else
                                   "thresholds", np.zeros((c, 0 if enc["kind"] == "base2" else m),
                                                          np.int32))]
    specs = arch["layers"] + [{"dense": arch["classes"], "output": True}]
    for spec, (shape, _) in zip(specs, layer_shapes(arch)):
        n = spec.get("conv", spec.get("dense"))
        if "conv" in spec:
            k = spec["kernel"]
            layers.append(ir.BConv2d("c", shape, n, (k, k), spec["stride"], spec["padding"],
                                     spec["groups"], np.zeros((n, k, k, 1), np.uint32),
                                     np.zeros(n, np.int32), np.zeros(n, np.uint8)))
        elif "dense" in spec:
            layers.append(ir.BDense("d", shape, n, np.zeros((n, 1), np.uint32),
                                    output=bool(spec.get("output"))))
    return layers



def width_key(spec: dict) -> str:
    """The key holding a prunable layer's width (``conv`` or ``dense``)."""
    return "conv" if "conv" in spec else "dense"


def min_widths(arch: dict, min_keep: float) -> dict[int, int]:
    """The fewest channels each prunable layer may keep (of its unpruned width)."""
    return {i: max(1, math.ceil(min_keep * s[width_key(s)]))
            for i, s in enumerate(arch["layers"]) if "pool" not in s}


def narrowed_to_min(arch: dict, min_keep: float) -> dict:
    """The architecture with every prunable layer at its minimum width: a lower bound on the
    bits block pruning can reach (used to reject an unreachable budget before training)."""
    out = copy.deepcopy(arch)
    layers = out["layers"]
    for i, width in min_widths(arch, min_keep).items():
        # pruning keeps a width divisible by this layer's groups and its reader's groups
        reader = next((s for s in layers[i + 1:] if "pool" not in s), None)
        segments = math.lcm(layers[i].get("groups", 1) if "conv" in layers[i] else 1,
                            reader.get("groups", 1) if reader and "conv" in reader else 1)
        layers[i][width_key(layers[i])] = -(-width // segments) * segments
    return out
