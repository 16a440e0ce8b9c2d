"""A generic class-per-folder image dataset (PIL): ``root/<class>/*.png|jpg`` or, with fixed
splits, ``root/train/<class>/...`` and ``root/test/<class>/...`` (``val`` also names the test)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from .dataset import Dataset
from .errors import DatasetCorruptError, DatasetMissingError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".webp"}
FIX = "lay the images out as <root>/<class>/<image> (optionally under train/ and test/)"


def _class_dirs(root: Path, classes: Sequence[str] | None) -> list[tuple[str, Path]]:
    if classes is None:
        classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DatasetMissingError(f"{root}: no class folders; {FIX}")
    out = []
    for name in classes:
        d = root / name
        if not d.is_dir():
            raise DatasetMissingError(f"{root}: class folder '{name}' missing; {FIX}")
        out.append((name, d))
    return out


def _read_image(path: Path, size: int) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetCorruptError(f"{path}: not a readable image ({exc}); remove or replace "
                                  "it") from exc


def read_split(root: Path, classes: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for label, (name, d) in enumerate(_class_dirs(root, classes)):
        files = sorted(f for f in d.rglob("*") if f.suffix.lower() in EXTENSIONS)
        if not files:
            raise DatasetMissingError(f"{d}: no images in class folder '{name}'; {FIX}")
        images += [_read_image(f, size) for f in files]
        labels += [label] * len(files)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


def load(path: str | Path, size: int = 96, test_fraction: float = 0.2, seed: int = 0,
         classes: Sequence[str] | None = None) -> Dataset:
    root = Path(path)
    if not root.is_dir():
        raise DatasetMissingError(f"image folder {root} not found; {FIX}")
    test_dir = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
    if (root / "train").is_dir() and test_dir is not None:
        names = tuple(classes) if classes else tuple(d for d, _ in _class_dirs(root / "train", None))
        tx, ty = read_split(root / "train", names, size)
        vx, vy = read_split(test_dir, names, size)
        return Dataset(tx, ty, vx, vy, names)
    names = tuple(classes) if classes else tuple(d for d, _ in _class_dirs(root, None))
    x, y = read_split(root, names, size)
    # A seeded, stratified split: the same share of every class is held out.
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(len(y), dtype=bool)
    for label in range(len(names)):
        idx = rng.permutation(np.flatnonzero(y == label))
        test_mask[idx[:int(round(len(idx) * test_fraction))]] = True
    return Dataset(x[~test_mask], y[~test_mask], x[test_mask], y[test_mask], names)
