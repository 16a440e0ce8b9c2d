"""Datasets (verb ``data``): load from disk, check, cache as arrays under build/<config>/data/.

Loaders return a :class:`Dataset` of uint8 NHWC images and int64 labels; every check that fails
raises :class:`DatasetMissingError` or :class:`DatasetCorruptError` with a fix in the message.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .errors import DatasetCorruptError, DatasetError, DatasetMissingError

__all__ = ["Dataset", "DatasetError", "DatasetMissingError", "DatasetCorruptError",
           "load_dataset", "prepare", "add_arguments", "run"]

CACHE_FILE = "dataset.npz"


def load_dataset(data_cfg, seed: int = 0) -> Dataset:
    """Read the dataset a DataConfig names, then apply its limits."""
    kind = data_cfg.dataset
    if kind == "fashion_mnist":
        from . import fashion_mnist
        ds = fashion_mnist.load(data_cfg.path)
    elif kind == "stl10":
        from . import stl10
        ds = stl10.load(data_cfg.path)
    elif kind in ("vww", "folder"):
        from . import folder, vww
        size = data_cfg.image_size or 96
        loader = vww.load if kind == "vww" else folder.load
        ds = loader(data_cfg.path, size=size, test_fraction=data_cfg.test_fraction, seed=seed)
    else:
        raise DatasetMissingError(f"unknown dataset {kind!r}; use fashion_mnist, stl10, vww or "
                                  "folder")
    return ds.limited(data_cfg.train_limit, data_cfg.test_limit, seed)


def _cache_key(data_cfg, seed: int) -> str:
    fields = {k: v for k, v in vars(data_cfg).items() if k != "augment"}
    return hashlib.sha256(json.dumps([fields, seed], sort_keys=True, default=str).encode()).hexdigest()


def prepare(cfg, out_dir: str | Path) -> Dataset:
    """The dataset of a Config, from ``<out_dir>/data/`` when cached for the same data settings."""
    cache = Path(out_dir) / "data" / CACHE_FILE
    key = _cache_key(cfg.data, cfg.seed)
    if cache.is_file():
        with np.load(cache) as z:
            if str(z["key"]) == key:
                return Dataset(z["train_images"], z["train_labels"], z["test_images"],
                               z["test_labels"], tuple(str(c) for c in z["classes"]))
    ds = load_dataset(cfg.data, cfg.seed)
    cache.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, key=key, train_images=ds.train_images, train_labels=ds.train_labels,
                     test_images=ds.test_images, test_labels=ds.test_labels,
                     classes=np.asarray(ds.classes))
        os.replace(tmp, cache)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return ds


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="configs/fashion_glt.yaml", help="training config")
    parser.add_argument("--out", default=None, help="build directory (default build/<config name>)")


def run(args) -> int:
    from ..config import load_config
    cfg = load_config(args.config)
    out = Path(args.out or Path("build") / cfg.name)
    ds = prepare(cfg, out)
    print(f"{cfg.data.dataset}: train {ds.train_images.shape}, test {ds.test_images.shape}, "
          f"{ds.num_classes} classes -> {out / 'data' / CACHE_FILE}")
    return 0
