"""Datasets (verb ``data``): load from disk, check, cache as arrays under build/<config>/data/.

Loaders return a :class:`Dataset` of uint8 NHWC images and int64 labels; every check that fails
raises :class:`DatasetMissingError` or :class:`DatasetCorruptError` with a fix in the message.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from .dataset import Dataset
from ..atomic import writable_dir, write_atomic
from .errors import DatasetCorruptError, DatasetError, DatasetMissingError
from .fingerprint import dataset_fingerprint

__all__ = ["Dataset", "DatasetError", "DatasetMissingError", "DatasetCorruptError",
           "load_dataset", "prepare", "input_spec", "cache_params", "add_arguments", "run"]

CACHE_FILE = "dataset.npz"
FINGERPRINT_MEMO = "files.json"  # content digests of the dataset files, by stat signature


def load_dataset(data_cfg, seed: int = 0) -> Dataset:
    """Read the dataset a DataConfig names, then apply its limits and, when enabled, the
    raw-sensor simulation (``data.sensor``)."""
    kind = data_cfg.dataset
    if kind == "fashion_mnist":
        from . import fashion_mnist
        ds = fashion_mnist.load(data_cfg.path)
    elif kind == "stl10":
        from . import stl10
        ds = stl10.load(data_cfg.path)
    elif kind in ("vww", "folder"):
        from . import folder, vww
        size = data_cfg.image_size or FOLDER_DEFAULT_SIZE
        loader = vww.load if kind == "vww" else folder.load
        ds = loader(data_cfg.path, size=size, test_fraction=data_cfg.test_fraction, seed=seed)
    else:
        raise DatasetMissingError(f"unknown dataset {kind!r}; use fashion_mnist, stl10, vww or "
                                  "folder")
    from .sensor import simulate_dataset
    ds = ds.limited(data_cfg.train_limit, data_cfg.test_limit, seed)
    return simulate_dataset(ds, data_cfg.sensor, run_seed=seed)


# Input shape and classes of the fixed-format datasets (their files are not read to know them).
FIXED_INPUTS = {"fashion_mnist": ((28, 28, 1), 10), "stl10": ((96, 96, 3), 10)}
FOLDER_DEFAULT_SIZE = 96


def input_spec(data_cfg) -> tuple[tuple[int, int, int], int]:
    """(H, W, C) and the class count of the dataset a DataConfig names, known without loading
    it, so that a config's architecture can be checked before any data is read. Folder datasets
    are RGB at ``image_size``; their class count is the number of class folders when the folder
    exists (a directory listing), else 2 (the fewest a classifier has)."""
    if data_cfg.dataset in FIXED_INPUTS:
        return FIXED_INPUTS[data_cfg.dataset]
    size = data_cfg.image_size or FOLDER_DEFAULT_SIZE
    if data_cfg.dataset == "vww":
        return (size, size, 3), 2
    root = Path(data_cfg.path)
    root = root / "train" if (root / "train").is_dir() else root
    try:
        classes = sum(1 for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    except OSError:
        classes = 0
    return (size, size, 3), max(2, classes)


def cache_params(data_cfg, seed: int, out_dir: str | Path) -> dict:
    """What the cached arrays depend on: the data settings (augmentation is applied later, at
    training time), the seed, and the content fingerprint of the dataset files."""
    fields = {k: v for k, v in vars(data_cfg).items() if k != "augment"}
    memo = Path(out_dir) / "data" / FINGERPRINT_MEMO
    memo.parent.mkdir(parents=True, exist_ok=True)
    return {"data": fields, "seed": seed, "files": dataset_fingerprint(data_cfg.dataset, data_cfg.path, memo)}


def _cache_key(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def prepare(cfg, out_dir: str | Path, refresh: bool = False) -> Dataset:
    """The dataset of a Config, from ``<out_dir>/data/`` when cached for the same data settings
    and the same dataset file contents; ``refresh`` re-reads the files whatever the cache."""
    cache = Path(out_dir) / "data" / CACHE_FILE
    key = _cache_key(cache_params(cfg.data, cfg.seed, out_dir))
    if cache.is_file() and not refresh:
        try:
            with np.load(cache) as z:
                if str(z["key"]) == key:
                    return Dataset(z["train_images"], z["train_labels"], z["test_images"],
                                   z["test_labels"], tuple(str(c) for c in z["classes"]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            pass  # a damaged cache is rebuilt from the dataset files
    ds = load_dataset(cfg.data, cfg.seed)
    write_atomic(cache, lambda f: np.savez(
        f, key=key, train_images=ds.train_images, train_labels=ds.train_labels,
        test_images=ds.test_images, test_labels=ds.test_labels, classes=np.asarray(ds.classes)))
    return ds


def add_arguments(parser) -> None:
    from .. import resources
    parser.add_argument("--config", default=str(resources.configs_dir() / "fashion_glt.yaml"),
                        help="training config (default: the shipped fashion_glt.yaml)")
    parser.add_argument("--out", default=None, help="build directory (default build/<config name>)")


def run(args) -> int:
    from ..config import load_config
    cfg = load_config(args.config)
    out = Path(args.out or Path("build") / cfg.name)
    writable_dir(out / "data")
    ds = prepare(cfg, out)
    print(f"{cfg.data.dataset}: train {ds.train_images.shape}, test {ds.test_images.shape}, "
          f"{ds.num_classes} classes -> {out / 'data' / CACHE_FILE}")
    return 0
