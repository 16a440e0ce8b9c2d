"""The images a deploy checks its model on: the firmware's test vectors and the exports'
cross-check images. Its own module so that the stages using them depend on this code only."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import ir
from .atomic import write_atomic
from .errors import PipelineError

EXPORT_CHECK_IMAGES = 1000


def write_vectors(cfg, ir_path: Path, root: Path, out: Path, n: int) -> None:
    """Write ``out`` (npz: ``images`` uint8[n,H,W,C], ``labels`` int64[n], -1 when unknown):
    the first ``n`` test images of the config's dataset (cached under ``root``), or, for an IR
    deployed without a config, ``n`` seeded random images."""
    model = ir.Model.load(ir_path)
    if cfg is not None:
        from .data import prepare
        ds = prepare(cfg, root)
        images, labels = ds.test_images[:n], ds.test_labels[:n]
        if len(images) < n:
            raise PipelineError(f"the test split has {len(images)} images, fewer than the "
                                f"{n} vectors asked for")
    else:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (n, *model.input_shape), dtype=np.uint8)
        labels = np.full(n, -1, np.int64)
    write_atomic(out, lambda f: np.savez(f, images=images, labels=labels))


def export_images(dataset_cache: Path, vectors: np.ndarray):
    """Images to cross-check the exports on: the first test images when a dataset is cached,
    else the (random) vectors. Returns (images, labels or None, description)."""
    if dataset_cache.is_file():
        with np.load(dataset_cache) as z:
            n = min(EXPORT_CHECK_IMAGES, len(z["test_images"]))
            return (z["test_images"][:n], z["test_labels"][:n],
                    f"first {n} test images of the dataset")
    return vectors, None, "the deploy's random test vectors"
