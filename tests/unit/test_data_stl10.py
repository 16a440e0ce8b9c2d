"""STL-10 binary loader on small files written in the real (column-major) format."""
import numpy as np
import pytest

from pipeline.data import DatasetCorruptError, DatasetMissingError, stl10


def _write(root, split, images, labels_1_based):
    # The file stores each image as [channel][x][y] (column-major): NHWC -> N, C, W, H.
    images.transpose(0, 3, 2, 1).astype(np.uint8).tofile(root / f"{split}_X.bin")
    np.asarray(labels_1_based, np.uint8).tofile(root / f"{split}_y.bin")


def _valid(root):
    rng = np.random.default_rng(1)
    out = {}
    for split, n in (("train", 3), ("test", 2)):
        x = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        y = rng.integers(1, 11, n)
        _write(root, split, x, y)
        out[split] = (x, y)
    return out


def test_round_trip_orientation(tmp_path):
    arrays = _valid(tmp_path)
    ds = stl10.load(tmp_path)
    assert ds.train_images.shape == (3, 96, 96, 3) and ds.train_images.dtype == np.uint8
    assert np.array_equal(ds.train_images, arrays["train"][0])  # rows stay rows
    assert np.array_equal(ds.test_labels, arrays["test"][1] - 1)
    assert ds.test_labels.dtype == np.int64


def test_column_major_means_transposed_bytes(tmp_path):
    _valid(tmp_path)
    img = np.zeros((1, 96, 96, 3), np.uint8)
    img[0, 0, 5, 0] = 255  # row 0, column 5, red
    _write(tmp_path, "test", img, [1])
    raw = np.fromfile(tmp_path / "test_X.bin", np.uint8)
    assert raw[5 * 96] == 255  # column-major: x (column) varies slowest within a channel
    assert stl10.load(tmp_path).test_images[0, 0, 5, 0] == 255


def test_truncated_images(tmp_path):
    _valid(tmp_path)
    raw = np.fromfile(tmp_path / "train_X.bin", np.uint8)
    raw[:-7].tofile(tmp_path / "train_X.bin")
    with pytest.raises(DatasetCorruptError, match="truncated"):
        stl10.load(tmp_path)


@pytest.mark.parametrize("bad", [0, 11])
def test_label_range(tmp_path, bad):
    _valid(tmp_path)
    np.array([1, bad, 3], np.uint8).tofile(tmp_path / "train_y.bin")
    with pytest.raises(DatasetCorruptError, match="1..10"):
        stl10.load(tmp_path)


def test_count_mismatch(tmp_path):
    _valid(tmp_path)
    np.array([1, 2], np.uint8).tofile(tmp_path / "train_y.bin")
    with pytest.raises(DatasetCorruptError, match="3 images but 2 labels"):
        stl10.load(tmp_path)


def test_missing(tmp_path):
    with pytest.raises(DatasetMissingError, match="data.path"):
        stl10.load(tmp_path / "none")
    _valid(tmp_path)
    (tmp_path / "test_y.bin").unlink()
    with pytest.raises(DatasetMissingError, match="test_y.bin"):
        stl10.load(tmp_path)
