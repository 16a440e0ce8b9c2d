"""Fashion-MNIST IDX loader: real files, and small valid/corrupt files written here."""
import gzip
import struct

import numpy as np
import pytest

from pipeline.data import DatasetCorruptError, DatasetMissingError, fashion_mnist
from pipeline.errors import PipelineError


def _write_idx(root, split, images, labels, img_magic=0x803, lbl_magic=0x801, cut=0):
    names = fashion_mnist.FILES[split]
    n, h, w = images.shape
    data = struct.pack(">IIII", img_magic, n, h, w) + images.tobytes()
    with gzip.open(root / names[0], "wb") as f:
        f.write(data[:len(data) - cut])
    with gzip.open(root / names[1], "wb") as f:
        f.write(struct.pack(">II", lbl_magic, len(labels)) + labels.astype(np.uint8).tobytes())


def _valid(root, n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n)
        _write_idx(root, split, x, y)
        arrays[split] = (x, y)
    return arrays


def test_small_valid_files_round_trip(tmp_path):
    arrays = _valid(tmp_path)
    ds = fashion_mnist.load(tmp_path)
    assert ds.train_images.dtype == np.uint8 and ds.train_images.shape == (12, 28, 28, 1)
    assert ds.train_labels.dtype == np.int64
    assert np.array_equal(ds.train_images[..., 0], arrays["train"][0])
    assert np.array_equal(ds.test_labels, arrays["test"][1])
    assert ds.num_classes == 10


def test_bad_image_magic(tmp_path):
    _valid(tmp_path)
    x = np.zeros((3, 28, 28), np.uint8)
    _write_idx(tmp_path, "train", x, np.zeros(3), img_magic=0x801)
    with pytest.raises(DatasetCorruptError, match="bad magic"):
        fashion_mnist.load(tmp_path)


def test_bad_label_magic(tmp_path):
    _valid(tmp_path)
    _write_idx(tmp_path, "test", np.zeros((3, 28, 28), np.uint8), np.zeros(3), lbl_magic=0x803)
    with pytest.raises(DatasetCorruptError, match="bad magic"):
        fashion_mnist.load(tmp_path)


def test_truncated_images(tmp_path):
    _valid(tmp_path)
    _write_idx(tmp_path, "train", np.zeros((3, 28, 28), np.uint8), np.zeros(3), cut=100)
    with pytest.raises(DatasetCorruptError, match="truncated"):
        fashion_mnist.load(tmp_path)


def test_label_out_of_range(tmp_path):
    _valid(tmp_path)
    _write_idx(tmp_path, "train", np.zeros((3, 28, 28), np.uint8), np.array([1, 10, 2]))
    with pytest.raises(DatasetCorruptError, match="label 10"):
        fashion_mnist.load(tmp_path)


def test_count_mismatch(tmp_path):
    _valid(tmp_path)
    _write_idx(tmp_path, "train", np.zeros((3, 28, 28), np.uint8), np.zeros(4))
    with pytest.raises(DatasetCorruptError, match="3 images but 4 labels"):
        fashion_mnist.load(tmp_path)


def test_not_gzip(tmp_path):
    _valid(tmp_path)
    (tmp_path / fashion_mnist.FILES["test"][0]).write_bytes(b"plain bytes, not gzip")
    with pytest.raises(DatasetCorruptError, match="gzip"):
        fashion_mnist.load(tmp_path)


def test_missing_directory_says_how_to_fix(tmp_path):
    with pytest.raises(DatasetMissingError, match="make setup") as exc:
        fashion_mnist.load(tmp_path / "absent")
    assert isinstance(exc.value, PipelineError)


def test_missing_file(tmp_path):
    _valid(tmp_path)
    (tmp_path / fashion_mnist.FILES["test"][1]).unlink()
    with pytest.raises(DatasetMissingError, match="dataset-fashion-mnist"):
        fashion_mnist.load(tmp_path)


def test_installed_dataset():
    ds = fashion_mnist.load("/usr/share/datasets/fashion-mnist")
    assert ds.train_images.shape == (60000, 28, 28, 1)
    assert ds.test_images.shape == (10000, 28, 28, 1)
    assert np.array_equal(np.bincount(ds.test_labels), np.full(10, 1000))
