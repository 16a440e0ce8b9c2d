"""Class-per-folder and Visual Wake Words loaders on PNG files written here."""
import numpy as np
import pytest
from PIL import Image

from pipeline.data import DatasetCorruptError, DatasetMissingError, folder, vww


def _img(path, value, size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size[1], size[0], 3), value, np.uint8)
    arr[0, 0] = (value + 1) % 256
    Image.fromarray(arr).save(path)


def _vww(root, n=5):
    for i in range(n):
        _img(root / "person" / f"p{i}.png", 200)
        _img(root / "non_person" / f"n{i}.png", 30)


def test_vww_labels_and_shapes(tmp_path):
    _vww(tmp_path)
    ds = vww.load(tmp_path, size=12, test_fraction=0.4, seed=0)
    assert ds.classes == ("non_person", "person")
    assert ds.train_images.shape[1:] == (12, 12, 3) and ds.train_images.dtype == np.uint8
    assert len(ds.train_images) + len(ds.test_images) == 10 and len(ds.test_images) == 4
    # person images are bright, non_person dark: labels follow the folder
    for x, y in ((ds.train_images, ds.train_labels), (ds.test_images, ds.test_labels)):
        assert np.array_equal(x.reshape(len(x), -1).mean(1) > 100, y == 1)
    assert np.array_equal(np.bincount(ds.test_labels), [2, 2])  # stratified


def test_split_is_seeded(tmp_path):
    _vww(tmp_path, n=8)
    a, b = vww.load(tmp_path, size=8, seed=3), vww.load(tmp_path, size=8, seed=3)
    assert np.array_equal(a.test_images, b.test_images)


def test_fixed_splits_and_sorted_classes(tmp_path):
    for split in ("train", "val"):
        for cls, v in (("cat", 10), ("ant", 90)):
            _img(tmp_path / split / cls / "a.png", v)
            _img(tmp_path / split / cls / "b.jpg", v)
    ds = folder.load(tmp_path, size=8)
    assert ds.classes == ("ant", "cat")
    assert len(ds.train_images) == 4 and len(ds.test_images) == 4


def test_vww_missing_class_folder(tmp_path):
    _img(tmp_path / "person" / "a.png", 5)
    with pytest.raises(DatasetMissingError, match="non_person"):
        vww.load(tmp_path)


def test_empty_class(tmp_path):
    _vww(tmp_path)
    (tmp_path / "extra").mkdir()
    with pytest.raises(DatasetMissingError, match="no images"):
        folder.load(tmp_path)


def test_corrupt_image(tmp_path):
    _vww(tmp_path)
    (tmp_path / "person" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DatasetCorruptError, match="broken.png"):
        vww.load(tmp_path)


def test_missing_root(tmp_path):
    with pytest.raises(DatasetMissingError):
        folder.load(tmp_path / "absent")
