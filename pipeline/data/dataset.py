"""The in-memory dataset every loader returns: uint8 NHWC images, int64 labels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DatasetCorruptError


@dataclass(frozen=True)
class Dataset:
    train_images: np.ndarray  # uint8[N, H, W, C]
    train_labels: np.ndarray  # int64[N]
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if x.dtype != np.uint8 or x.ndim != 4:
                raise DatasetCorruptError(f"{split} images must be uint8[N, H, W, C], got "
                                          f"{x.dtype}{list(x.shape)}")
            if y.dtype != np.int64 or y.shape != (len(x),):
                raise DatasetCorruptError(f"{split}: {len(x)} images but labels {y.dtype}"
                                          f"{list(y.shape)}")
            if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
                raise DatasetCorruptError(f"{split}: labels must lie in [0, {len(self.classes)})")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.train_images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def limited(self, train_limit: int | None, test_limit: int | None, seed: int) -> "Dataset":
        """A seeded subset of the training set and the first images of the test set."""
        tx, ty, vx, vy = self.train_images, self.train_labels, self.test_images, self.test_labels
        if train_limit is not None and train_limit < len(tx):
            idx = np.sort(np.random.default_rng(seed).permutation(len(tx))[:train_limit])
            tx, ty = tx[idx], ty[idx]
        if test_limit is not None and test_limit < len(vx):
            vx, vy = vx[:test_limit], vy[:test_limit]
        return Dataset(tx, ty, vx, vy, self.classes)
