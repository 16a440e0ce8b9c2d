"""Binary layers: latent float weights, sign forward (sign(0) = +1), clipped STE backward.

A hidden binary layer is ``dot -> BatchNorm -> sign``; ``dot`` is the integer binary dot product
``K - 2*popcount`` computed as a float convolution of +-1 values (exact: integers far below
2**24). In eval mode the BatchNorm + sign pair is replaced by its folded integer form
(:func:`fold_bn_sign`), which is exactly what the IR stores, so torch and the IR agree bit for bit.
The output layer keeps a float affine (BatchNorm) for training and lowers it to fixed point.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .quantizers import binary_threshold, sign_ste

INT32_MAX = 2**31 - 1
MAX_SHIFT = 24  # fixed-point fraction bits of the output affine


def fold_bn_sign(bn: nn.modules.batchnorm._BatchNorm, k: int) -> tuple[np.ndarray, np.ndarray]:
    """BatchNorm (eval) followed by sign(>= 0 -> +1), on an integer dot in [-K, K], as the IR's
    ``(dot >= threshold) != flip``.

    z = gamma * (dot - mu) / sigma + beta >= 0 is, with tau = mu - beta * sigma / gamma:
    gamma > 0: dot >= ceil(tau); gamma < 0: dot <= tau, i.e. NOT dot >= floor(tau) + 1 (flip);
    gamma = 0: the constant sign of beta (threshold -K: always +1, K + 1: always -1).
    """
    gamma = bn.weight.detach().double().cpu().numpy()
    beta = bn.bias.detach().double().cpu().numpy()
    mu = bn.running_mean.detach().double().cpu().numpy()
    sigma = np.sqrt(bn.running_var.detach().double().cpu().numpy() + bn.eps)
    threshold = np.empty(gamma.shape, dtype=np.int64)
    flip = (gamma < 0).astype(np.uint8)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = mu - beta * sigma / gamma
    pos, neg, zero = gamma > 0, gamma < 0, gamma == 0
    threshold[pos] = np.clip(np.ceil(tau[pos]), -k, k + 1)
    threshold[neg] = np.clip(np.floor(tau[neg]) + 1, -k, k + 1)
    threshold[zero] = np.where(beta[zero] >= 0, -k, k + 1)
    return threshold, flip


def _latent(shape: tuple[int, ...]) -> nn.Parameter:
    # Small latent weights so that signs can flip early in training.
    return nn.Parameter(torch.empty(shape).uniform_(-0.1, 0.1))


class _Hidden(nn.Module):
    """dot -> BN -> sign, folded in eval mode."""

    def _out(self, dot: torch.Tensor) -> torch.Tensor:
        if self.training:
            return sign_ste(self.bn(dot))
        threshold, flip = fold_bn_sign(self.bn, self.k)
        return binary_threshold(dot, torch.as_tensor(threshold, device=dot.device),
                                torch.as_tensor(flip, device=dot.device))

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        return fold_bn_sign(self.bn, self.k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._out(self.dot(x))


class BinaryConv2d(_Hidden):
    """Grouped binary convolution with one-padding (padded taps are +1), BN, sign."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 padding: int = 0, groups: int = 1):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{in_channels} -> {out_channels} channels do not split into "
                             f"{groups} groups")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.padding, self.groups = kernel, stride, padding, groups
        self.latent_weight = _latent((out_channels, in_channels // groups, kernel, kernel))
        self.bn = nn.BatchNorm2d(out_channels)

    @property
    def k(self) -> int:
        return self.kernel * self.kernel * self.in_channels // self.groups

    def dot(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding:
            x = F.pad(x, [self.padding] * 4, value=1.0)
        w = sign_ste(self.latent_weight).to(x.dtype)
        return F.conv2d(x, w, stride=self.stride, groups=self.groups)


class BinaryDense(_Hidden):
    """Binary fully-connected layer; hidden (BN + sign) or output (BN as the logits' affine)."""

    flattens_input = True  # the BNN flattens NCHW activations before it (feature c*H*W + h*W + w)

    def __init__(self, in_features: int, out_features: int, output: bool = False):
        super().__init__()
        self.in_features, self.out_features, self.output = in_features, out_features, output
        self.latent_weight = _latent((out_features, in_features))
        self.bn = nn.BatchNorm1d(out_features)

    @property
    def k(self) -> int:
        return self.in_features

    def dot(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, sign_ste(self.latent_weight).to(x.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.output:
            return self.bn(self.dot(x))
        return self._out(self.dot(x))

    def fixed_point(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The output affine ``scale*dot + offset`` as int32 ``mult``, ``bias`` and the shift F
        (logits are scaled by 2**F): the largest F <= MAX_SHIFT for which no dot in [-K, K]
        overflows int32."""
        bn = self.bn
        scale = (bn.weight.detach().double() /
                 torch.sqrt(bn.running_var.detach().double() + bn.eps)).cpu().numpy()
        offset = bn.bias.detach().double().cpu().numpy() - \
            bn.running_mean.detach().double().cpu().numpy() * scale
        for shift in range(MAX_SHIFT, -32, -1):
            mult = np.rint(scale * 2.0**shift).astype(np.int64)
            bias = np.rint(offset * 2.0**shift).astype(np.int64)
            if self.k * np.abs(mult).max() + np.abs(bias).max() <= INT32_MAX:
                break
        return mult, bias, shift
