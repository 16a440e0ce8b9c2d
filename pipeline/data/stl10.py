"""STL-10 binary format: ``{train,test}_X.bin`` (uint8 N x 3 x 96 x 96, column-major) and
``{train,test}_y.bin`` (uint8 labels 1..10)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import Dataset
from .errors import DatasetCorruptError, DatasetMissingError

SIZE = 96
CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
FIX = ("put the STL-10 binary files (stl10_binary/*.bin from the official archive) in that "
       "directory or set data.path")


def _raw(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DatasetMissingError(f"{path} not found; {FIX}")
    return np.fromfile(path, dtype=np.uint8)


def read_images(path: Path) -> np.ndarray:
    raw = _raw(path)
    per_image = 3 * SIZE * SIZE
    if raw.size == 0 or raw.size % per_image:
        raise DatasetCorruptError(f"{path}: {raw.size} bytes is not a whole number of "
                                  f"3x{SIZE}x{SIZE} images (truncated?); {FIX}")
    # Each image is stored column-major (channel, then x, then y): reverse the axes to NHWC.
    return np.ascontiguousarray(raw.reshape(-1, 3, SIZE, SIZE).transpose(0, 3, 2, 1))


def read_labels(path: Path) -> np.ndarray:
    raw = _raw(path).astype(np.int64)
    if raw.size and (raw.min() < 1 or raw.max() > len(CLASSES)):
        raise DatasetCorruptError(f"{path}: labels must lie in 1..{len(CLASSES)}, found "
                                  f"{raw.min()}..{raw.max()}; {FIX}")
    return raw - 1


def load(path: str | Path) -> Dataset:
    root = Path(path)
    if not root.is_dir():
        raise DatasetMissingError(f"STL-10 directory {root} not found; {FIX}")
    splits = {}
    for split in ("train", "test"):
        x = read_images(root / f"{split}_X.bin")
        y = read_labels(root / f"{split}_y.bin")
        if len(x) != len(y):
            raise DatasetCorruptError(f"{root}: {split} has {len(x)} images but {len(y)} labels; "
                                      f"{FIX}")
        splits[split] = (x, y)
    names = root / "class_names.txt"
    classes = tuple(names.read_text().split()) if names.is_file() else CLASSES
    if len(classes) != len(CLASSES):
        raise DatasetCorruptError(f"{names}: expected {len(CLASSES)} class names; {FIX}")
    return Dataset(*splits["train"], *splits["test"], classes)
