"""The fully-binarized network built from a config, and the float teacher.

A network is built from an *architecture* dict (:mod:`pipeline.nn.arch`, torch-free). Images
enter as uint8 NHWC.
"""
from __future__ import annotations

import copy
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from .arch import (DEFAULT_LAYERS, ArchitectureError, arch_bits, encoding_channels, layer_shapes,
                   make_arch)
from .. import ops
from .thermometer import build_encoding

class BNN(nn.Module):
    """Encoding -> binary convs / pools / dense -> binary output dense."""

    def __init__(self, arch: dict):
        super().__init__()
        self.arch = copy.deepcopy(arch)
        shapes = layer_shapes(self.arch)
        self.encoding = build_encoding(SimpleNamespace(**self.arch["encoding"]),
                                       self.arch["in_shape"][2])
        # each config layer's module: the ``torch_module`` part of its kind (pipeline.ops)
        self.body = nn.ModuleList(ops.for_spec(spec).torch_module(spec, in_shape)
                                  for spec, (in_shape, _) in zip(self.arch["layers"], shapes))
        head = {"dense": self.arch["classes"], "output": True}
        self.head = ops.for_spec(head).torch_module(head, shapes[-1][0])

    def _features(self, images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).to(dtype)  # uint8 NHWC -> pixel codes NCHW
        # channels-last activations: ~12 % faster mkldnn convolutions on CPU, same integers
        x = self.encoding(x).contiguous(memory_format=torch.channels_last)
        for layer in self.body:
            if getattr(layer, "flattens_input", False) and x.dim() > 2:
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
        """Modules with latent binary weights (the body's and the head)."""
        return [m for m in self.body if hasattr(m, "latent_weight")] + [self.head]


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


__all__ = ["BNN", "FloatTeacher", "DEFAULT_LAYERS", "ArchitectureError", "arch_bits",
           "encoding_channels", "layer_shapes", "make_arch"]
