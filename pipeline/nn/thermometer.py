"""Input encodings: the Generic Learned Thermometer (GLT) and its baselines.

All of them share one interface (:class:`Encoding`): input is a float NCHW tensor of integer pixel
codes 0..255, output is a +-1 NCHW tensor with ``C*M`` channels where channel ``c*M + k`` is
plane k of input channel c, exactly as :class:`pipeline.ir.Thermometer` defines it:

* thresholds mode (GLT, uniform, quantile): plane k of channel c is +1 when ``pixel >= T[c, k]``;
* base2 mode: plane k is +1 when bit ``7 - k`` of the pixel code is set.

The quantile thermometer is fixed at the training data's quantiles (the GLT's quantile
initialisation, frozen): it adapts to the histogram but learns nothing end to end.

In eval mode the forward pass uses the integer thresholds of :meth:`integer_thresholds` (what the
IR stores), so torch and the IR agree by construction on every pixel.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

PIXEL_MAX = 255
MIN_GAP = 1.0  # pixels between consecutive learned thresholds: their ceils stay strictly apart


def fix_integer_thresholds(t: np.ndarray) -> np.ndarray:
    """Clamp integer thresholds to [0, 256] and make every row strictly increasing (the IR's
    rule), moving as few values as needed."""
    t = np.clip(np.asarray(t, dtype=np.int64), 0, PIXEL_MAX + 1).copy()
    m = t.shape[1]
    for k in range(1, m):
        t[:, k] = np.maximum(t[:, k], t[:, k - 1] + 1)
    t[:, m - 1] = np.minimum(t[:, m - 1], PIXEL_MAX + 1)
    for k in range(m - 2, -1, -1):
        t[:, k] = np.minimum(t[:, k], t[:, k + 1] - 1)
    return t


def spread(t: np.ndarray, gap: float, top: float = PIXEL_MAX - 0.5) -> np.ndarray:
    """Rows of increasing thresholds moved apart to at least ``gap``, the last kept <= top."""
    t = np.array(t, dtype=np.float64)
    m = t.shape[1]
    gap = min(gap, top / max(m, 1))
    for k in range(1, m):
        t[:, k] = np.maximum(t[:, k], t[:, k - 1] + gap)
    t[:, m - 1] = np.minimum(t[:, m - 1], top)
    for k in range(m - 2, -1, -1):
        t[:, k] = np.minimum(t[:, k], t[:, k + 1] - gap)
    return t


def uniform_thresholds(planes: int) -> np.ndarray:
    """The fixed thermometer: M thresholds evenly spaced over the pixel range (ceil)."""
    return np.ceil(PIXEL_MAX * np.arange(1, planes + 1) / (planes + 1)).astype(np.int64)


class Encoding(nn.Module):
    kind = "abstract"
    mode = "thresholds"

    def __init__(self, channels: int, planes: int):
        super().__init__()
        self.channels, self.planes = channels, planes

    @property
    def out_channels(self) -> int:
        return self.channels * self.planes

    def integer_thresholds(self) -> np.ndarray:
        """int64[C, M] pixel-code thresholds for the IR ((C, 0) in base2 mode)."""
        raise NotImplementedError

    def set_progress(self, progress: float) -> None:
        """Training progress in [0, 1] (anneals a surrogate's temperature)."""

    def hard(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(self.integer_thresholds(), dtype=x.dtype, device=x.device)
        n, c, h, w = x.shape
        plus = x.unsqueeze(2) >= t.view(1, c, self.planes, 1, 1)
        return torch.where(plus, 1.0, -1.0).to(x.dtype).reshape(n, c * self.planes, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hard(x)


class UniformThermometer(Encoding):
    kind = "uniform"

    def integer_thresholds(self) -> np.ndarray:
        return np.tile(uniform_thresholds(self.planes), (self.channels, 1))


def quantile_thresholds(images: np.ndarray, planes: int, shared: bool = False) -> np.ndarray:
    """Thresholds (pixel units, float64 [rows, M], rows = 1 when ``shared`` else C) at the
    (k+1)/(M+1) quantiles of the pixel values of uint8 NHWC ``images``, +0.5 so plane k separates
    pixels above the quantile from those at or below it.

    Quantiles of data with a dominant value (a black background) coincide; they are pushed apart
    to at least a quarter of the uniform spacing (255 / (4 (M + 1)) pixels), because coinciding
    planes carry no information (and learned thresholds that start one pixel apart sit where
    softplus has almost no slope and would stay bunched)."""
    levels = np.arange(1, planes + 1) / (planes + 1)
    px = images.reshape(-1, images.shape[-1]).astype(np.float64)
    q = np.quantile(px, levels)[None, :] if shared else np.quantile(px, levels, axis=0).T
    return spread(q + 0.5, PIXEL_MAX / (4 * (planes + 1)))


class QuantileThermometer(Encoding):
    """A thermometer fixed at the training data's quantiles (:func:`quantile_thresholds`), per
    channel or shared: the integer thresholds live in a buffer, so they are saved with the model
    but no optimizer ever moves them. Until :meth:`init_from_data` runs they are uniform."""
    kind = "quantile"

    def __init__(self, channels: int, planes: int, shared: bool = False):
        super().__init__(channels, planes)
        self.shared = shared
        self.register_buffer("fixed", torch.as_tensor(
            np.tile(uniform_thresholds(planes), (channels, 1)), dtype=torch.int64))

    @torch.no_grad()
    def init_from_data(self, images: np.ndarray) -> None:
        """Fix the thresholds at the quantiles of ``images`` (uint8 NHWC): integer
        ``ceil(quantile_thresholds)``, made strictly increasing within [0, 256]."""
        t = quantile_thresholds(images, self.planes, self.shared)
        t = np.broadcast_to(np.ceil(t), (self.channels, self.planes))
        self.fixed.copy_(torch.as_tensor(fix_integer_thresholds(t), dtype=torch.int64))

    def integer_thresholds(self) -> np.ndarray:
        return self.fixed.detach().cpu().numpy().astype(np.int64)


class Base2Planes(Encoding):
    kind = "base2"
    mode = "base2"

    def integer_thresholds(self) -> np.ndarray:
        return np.zeros((self.channels, 0), dtype=np.int64)

    def hard(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        shifts = torch.arange(7, 7 - self.planes, -1, device=x.device).view(1, 1, -1, 1, 1)
        bit = (x.to(torch.int32).unsqueeze(2) >> shifts) & 1
        return torch.where(bit == 1, 1.0, -1.0).to(x.dtype).reshape(n, c * self.planes, h, w)


class _StepSurrogate(torch.autograd.Function):
    """Hard step ``+1 if x >= t else -1`` forward; gradient of ``tanh((x - t)/tau)`` backward."""

    @staticmethod
    def forward(ctx, x, t, tau):
        ctx.save_for_backward(x, t)
        ctx.tau = tau
        return torch.where(x >= t, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        d = (1 - torch.tanh((x - t) / ctx.tau) ** 2) / ctx.tau
        g = grad * d
        grad_t = -g.sum_to_size(t.shape) if ctx.needs_input_grad[1] else None
        return (g if ctx.needs_input_grad[0] else None), grad_t, None


class GLT(Encoding):
    """Learned thresholds ``t_k = 255 * (u_0 + sum_{j<=k} (gap + softplus(r_j)))``: sorted by
    construction with at least one pixel between neighbours; per channel or shared."""
    kind = "glt"

    def __init__(self, channels: int, planes: int, shared: bool = False,
                 surrogate: str = "ste", temperature: tuple[float, float] = (16.0, 0.5)):
        super().__init__(channels, planes)
        self.shared, self.surrogate = shared, surrogate
        self.temperature = tuple(float(v) for v in temperature)
        rows = 1 if shared else channels
        self.offset = nn.Parameter(torch.zeros(rows))
        self.raw_increments = nn.Parameter(torch.zeros(rows, max(planes - 1, 0)))
        self.register_buffer("progress", torch.zeros(()))
        self.init_thresholds(np.tile(uniform_thresholds(planes) - 0.5, (rows, 1)))

    @torch.no_grad()
    def init_thresholds(self, t: np.ndarray) -> None:
        """Set the thresholds (pixel units, rows x M) nearest to ``t`` the parametrisation allows."""
        t = np.asarray(t, dtype=np.float64).reshape(self.offset.shape[0], self.planes)
        u = t / PIXEL_MAX
        gaps = np.diff(u, axis=1) - MIN_GAP / PIXEL_MAX
        gaps = np.maximum(gaps, 1e-4)
        self.offset.copy_(torch.as_tensor(u[:, 0], dtype=torch.float32))
        self.raw_increments.copy_(torch.as_tensor(np.log(np.expm1(gaps)), dtype=torch.float32))

    def init_from_data(self, images: np.ndarray) -> None:
        """Start at the data's quantiles (uint8 NHWC images; see :func:`quantile_thresholds`)."""
        self.init_thresholds(quantile_thresholds(images, self.planes, self.shared))

    def thresholds(self) -> torch.Tensor:
        """Float thresholds in pixel units, [C, M]."""
        gaps = MIN_GAP / PIXEL_MAX + F.softplus(self.raw_increments)
        u = torch.cat([self.offset[:, None], self.offset[:, None] + torch.cumsum(gaps, 1)], 1)
        t = PIXEL_MAX * u
        return t.expand(self.channels, self.planes) if self.shared else t

    def integer_thresholds(self) -> np.ndarray:
        # x >= t for an integer x is x >= ceil(t); float64 keeps the ceil of the float32 value.
        t = self.thresholds().detach().cpu().double().numpy()
        return fix_integer_thresholds(np.ceil(t))

    def set_progress(self, progress: float) -> None:
        self.progress.fill_(float(min(max(progress, 0.0), 1.0)))

    def tau(self) -> float:
        start, end = self.temperature
        return start * (end / start) ** float(self.progress)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.hard(x)
        n, c, h, w = x.shape
        t = self.thresholds().view(1, c, self.planes, 1, 1)
        xs = x.unsqueeze(2)
        if self.surrogate == "soft":
            out = torch.tanh((xs - t) / self.tau())
        else:
            out = _StepSurrogate.apply(xs, t, self.tau())
        return out.reshape(n, c * self.planes, h, w)


def build_encoding(cfg, channels: int) -> Encoding:
    """The encoding an EncodingConfig names."""
    if cfg.kind == "glt":
        return GLT(channels, cfg.planes, cfg.shared, cfg.surrogate, tuple(cfg.temperature))
    if cfg.kind == "uniform":
        return UniformThermometer(channels, cfg.planes)
    if cfg.kind == "base2":
        return Base2Planes(channels, cfg.planes)
    if cfg.kind == "quantile":
        return QuantileThermometer(channels, cfg.planes, cfg.shared)
    raise ValueError(f"unknown encoding {cfg.kind!r}")


def tone_curve(thresholds: np.ndarray) -> np.ndarray:
    """Planes on (0..M) for each pixel code 0..255: the staircase a thermometer applies."""
    px = np.arange(PIXEL_MAX + 1)
    return (px[:, None] >= np.asarray(thresholds)[None, :]).sum(axis=1)
