"""Seeded augmentation of uint8 NHWC batches, and an exposure/gamma shift of the tone curve."""
from __future__ import annotations

import numpy as np


def gamma_shift(images: np.ndarray, gamma: float | np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """``255 * clip(exposure * (p/255) ** gamma)`` rounded: a camera's tone-curve change.

    ``gamma`` may be one value or one per image."""
    g = np.asarray(gamma, dtype=np.float64).reshape(-1, *([1] * (images.ndim - 1)))
    x = images.astype(np.float64) / 255.0
    return np.clip(np.rint(255.0 * exposure * x ** g), 0, 255).astype(np.uint8)


def hflip(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    flip = rng.random(len(images)) < 0.5
    out = images.copy()
    out[flip] = out[flip, :, ::-1]
    return out


def random_shift(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Translate each image by up to ``max_shift`` pixels; the border is edge-replicated."""
    n, h, w, _ = images.shape
    s = max_shift
    padded = np.pad(images, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")
    dy, dx = rng.integers(0, 2 * s + 1, size=(2, n))
    return np.stack([padded[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def augment(images: np.ndarray, cfg, rng: np.random.Generator) -> np.ndarray:
    """Apply the augmentations of ``cfg`` (an AugmentConfig) with the generator ``rng``."""
    if cfg.hflip:
        images = hflip(images, rng)
    if cfg.shift:
        images = random_shift(images, cfg.shift, rng)
    if cfg.gamma is not None:
        lo, hi = cfg.gamma
        images = gamma_shift(images, np.exp(rng.uniform(np.log(lo), np.log(hi), len(images))))
    return images
