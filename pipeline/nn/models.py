"""The fully-binarized network built from a config, and the float teacher.

A network is described by a plain, serialisable *architecture* dict (stored in checkpoints so a
pruned model can be rebuilt at its reduced width)::

    {"in_shape": [H, W, C], "classes": K, "encoding": {EncodingConfig fields},
     "layers": [{"conv": C, "kernel": 3, "stride": 1, "padding": 1, "groups": 1},
                {"pool": 2, "stride": 2}, {"dense": N}, ...]}

The output layer (a binary dense with one unit per class) is implied. Images enter as uint8 NHWC.
"""
from __future__ import annotations

import copy
import dataclasses
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import ir
from .layers import BinaryConv2d, BinaryDense
from .thermometer import build_encoding

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


class ArchitectureError(ValueError):
    pass


def make_arch(model_cfg, in_shape: tuple[int, int, int], classes: int) -> dict:
    layers = model_cfg.layers or DEFAULT_LAYERS.get(tuple(in_shape))
    if layers is None:
        raise ArchitectureError(f"no default topology for input {in_shape}; list model.layers")
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
    return arch["in_shape"][2] * arch["encoding"]["planes"]


def layer_shapes(arch: dict) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """(input, output) HWC shape of every listed layer, plus the implied output layer last."""
    h, w, _ = arch["in_shape"]
    c = encoding_channels(arch)
    out = []
    for spec in arch["layers"] + [{"dense": arch["classes"]}]:
        before = (h, w, c)
        if "conv" in spec:
            k, s, p = spec["kernel"], spec["stride"], spec["padding"]
            if c % spec["groups"] or spec["conv"] % spec["groups"]:
                raise ArchitectureError(f"conv {c}->{spec['conv']} channels cannot be split into "
                                        f"{spec['groups']} groups")
            h, w, c = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, spec["conv"]
        elif "pool" in spec:
            h, w = (h - spec["pool"]) // spec["stride"] + 1, (w - spec["pool"]) // spec["stride"] + 1
        else:
            h, w, c = 1, 1, spec["dense"]
        if min(h, w) < 1:
            raise ArchitectureError(f"layer {spec} leaves no pixels of input {before}")
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


class BNN(nn.Module):
    """Encoding -> binary convs / pools / dense -> binary output dense."""

    def __init__(self, arch: dict):
        super().__init__()
        self.arch = copy.deepcopy(arch)
        shapes = layer_shapes(self.arch)
        self.encoding = build_encoding(SimpleNamespace(**self.arch["encoding"]),
                                       self.arch["in_shape"][2])
        body = []
        for spec, ((h, w, c), _) in zip(self.arch["layers"], shapes):
            if "conv" in spec:
                body.append(BinaryConv2d(c, spec["conv"], spec["kernel"], spec["stride"],
                                         spec["padding"], spec["groups"]))
            elif "pool" in spec:
                body.append(nn.MaxPool2d(spec["pool"], spec["stride"]))
            else:
                body.append(BinaryDense(h * w * c, spec["dense"]))
        self.body = nn.ModuleList(body)
        (h, w, c), _ = shapes[-1]
        self.head = BinaryDense(h * w * c, self.arch["classes"], output=True)

    def _features(self, images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).to(dtype)  # uint8 NHWC -> pixel codes NCHW
        # channels-last activations: ~12 % faster mkldnn convolutions on CPU, same integers
        x = self.encoding(x).contiguous(memory_format=torch.channels_last)
        for layer in self.body:
            if isinstance(layer, BinaryDense) and x.dim() > 2:
                x = x.flatten(1)  # NCHW order: feature c*H*W + h*W + w
            x = layer(x)
        return x.flatten(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Float logits (the output affine in float): what the losses see."""
        return self.head(self._features(images, torch.float32))

    @torch.no_grad()
    def integer_logits(self, images: torch.Tensor) -> torch.Tensor:
        """int64[N, K] logits of the integer model (eval mode), as the IR computes them:
        ``dot * mult + bias``. float64 keeps every dot exact whatever the conv algorithm."""
        if self.training:
            raise RuntimeError("integer_logits needs eval mode (folded BatchNorm)")
        dot = self.head.dot(self._features(images, torch.float64))
        mult, bias, _ = self.head.fixed_point()
        dot = torch.round(dot).to(torch.int64)
        return dot * torch.as_tensor(mult, device=dot.device) + torch.as_tensor(bias, device=dot.device)

    def binary_layers(self) -> list[nn.Module]:
        return [m for m in self.body if isinstance(m, (BinaryConv2d, BinaryDense))] + [self.head]


class FloatTeacher(nn.Module):
    """A small float CNN (conv-BN-ReLU-pool stages) that the BNN distils from."""

    def __init__(self, in_shape: tuple[int, int, int], classes: int, width: int = 32):
        super().__init__()
        h, w, c = in_shape
        stages, ch = [], c
        stride = 2 if min(h, w) > 64 else 1  # large inputs: downsample early
        for i, out in enumerate((width, 2 * width, 4 * width)):
            stages += [nn.Conv2d(ch, out, 3, stride=stride if i == 0 else 1, padding=1, bias=False),
                       nn.BatchNorm2d(out), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            ch = out
        self.features = nn.Sequential(*stages)
        self.classifier = nn.Linear(ch, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float() / 255.0
        x = self.features(x)
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))
