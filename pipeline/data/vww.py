"""Visual Wake Words as the common COCO-derived preparation writes it: ``person/`` and
``non_person/`` image folders (optionally under ``train/`` and ``val/``)."""
from __future__ import annotations

from pathlib import Path

from . import folder
from .dataset import Dataset

CLASSES = ("non_person", "person")


def load(path: str | Path, size: int = 96, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    return folder.load(path, size=size, test_fraction=test_fraction, seed=seed, classes=CLASSES)
