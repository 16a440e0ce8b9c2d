"""Fashion-MNIST in its IDX gzip files (the Debian package dataset-fashion-mnist)."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .errors import DatasetCorruptError, DatasetMissingError

CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle boot")
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
FIX = "run `make setup` (installs the Debian package dataset-fashion-mnist) or set data.path"


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise DatasetMissingError(f"{path} not found; {FIX}")
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as exc:
        raise DatasetCorruptError(f"{path}: not a readable gzip file ({exc}); {FIX}") from exc


def read_idx_images(path: Path) -> np.ndarray:
    raw = _read(path)
    if len(raw) < 16:
        raise DatasetCorruptError(f"{path}: truncated IDX header; {FIX}")
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != IMAGES_MAGIC:
        raise DatasetCorruptError(f"{path}: bad magic 0x{magic:08x} (want 0x{IMAGES_MAGIC:08x}, "
                                  f"IDX uint8 images); {FIX}")
    if len(raw) != 16 + n * rows * cols:
        raise DatasetCorruptError(f"{path}: header says {n}x{rows}x{cols} bytes but the file "
                                  f"holds {len(raw) - 16} (truncated or padded); {FIX}")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows, cols, 1).copy()


def read_idx_labels(path: Path, num_classes: int) -> np.ndarray:
    raw = _read(path)
    if len(raw) < 8:
        raise DatasetCorruptError(f"{path}: truncated IDX header; {FIX}")
    magic, n = struct.unpack(">II", raw[:8])
    if magic != LABELS_MAGIC:
        raise DatasetCorruptError(f"{path}: bad magic 0x{magic:08x} (want 0x{LABELS_MAGIC:08x}, "
                                  f"IDX uint8 labels); {FIX}")
    if len(raw) != 8 + n:
        raise DatasetCorruptError(f"{path}: header says {n} labels but the file holds "
                                  f"{len(raw) - 8}; {FIX}")
    labels = np.frombuffer(raw, np.uint8, offset=8).astype(np.int64)
    if n and labels.max() >= num_classes:
        raise DatasetCorruptError(f"{path}: label {labels.max()} outside 0..{num_classes - 1}; "
                                  f"{FIX}")
    return labels


def load(path: str | Path) -> Dataset:
    root = Path(path)
    if not root.is_dir():
        raise DatasetMissingError(f"Fashion-MNIST directory {root} not found; {FIX}")
    splits = {}
    for split, (images_file, labels_file) in FILES.items():
        x = read_idx_images(root / images_file)
        y = read_idx_labels(root / labels_file, len(CLASSES))
        if len(x) != len(y):
            raise DatasetCorruptError(f"{root}: {split} has {len(x)} images but {len(y)} labels; "
                                      f"{FIX}")
        splits[split] = (x, y)
    return Dataset(*splits["train"], *splits["test"], CLASSES)
