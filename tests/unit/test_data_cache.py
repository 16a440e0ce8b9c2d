"""The `data` verb caches prepared arrays under build/<config>/data/ and reuses them."""
import numpy as np
import pytest

from pipeline.cli import main
from pipeline.config import config_from_dict
from pipeline.data import DatasetMissingError, prepare
from pipeline.data.transforms import augment, gamma_shift, hflip, random_shift

from test_data_fashion_mnist import _valid  # same folder (rootdir import mode)


def test_data_verb_writes_cache(tmp_path, capsys):
    _valid(tmp_path, n_train=20, n_test=6)
    cfg = tmp_path / "small.yaml"
    cfg.write_text(f"data: {{path: {tmp_path}, train_limit: 10}}\n")
    assert main(["data", "--config", str(cfg), "--out", str(tmp_path / "build")]) == 0
    cache = tmp_path / "build" / "data" / "dataset.npz"
    assert cache.is_file()
    with np.load(cache) as z:
        assert z["train_images"].shape == (10, 28, 28, 1) and z["test_labels"].dtype == np.int64


def test_cache_is_reused_and_invalidated_by_settings(tmp_path):
    _valid(tmp_path, n_train=20, n_test=6)
    cfg = config_from_dict({"data": {"path": str(tmp_path)}})
    first = prepare(cfg, tmp_path / "b")
    cache = tmp_path / "b" / "data" / "dataset.npz"
    stamp = cache.stat().st_mtime_ns
    again = prepare(cfg, tmp_path / "b")  # same settings, same files: served from the cache
    assert np.array_equal(first.train_images, again.train_images)
    assert cache.stat().st_mtime_ns == stamp
    other = config_from_dict({"data": {"path": str(tmp_path), "train_limit": 5}})
    assert len(prepare(other, tmp_path / "b").train_images) == 5  # other settings: re-read
    for f in tmp_path.glob("*.gz"):
        f.unlink()  # the cache follows the files: gone files are not served from it
    with pytest.raises(DatasetMissingError):
        prepare(cfg, tmp_path / "b")


def test_missing_dataset_is_one_line_error(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: {tmp_path / 'none'}}}\n")
    assert main(["data", "--config", str(cfg), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "DatasetMissingError" in err and "make setup" in err
    assert not (tmp_path / "b" / "data" / "dataset.npz").exists()


def test_augmentation_is_seeded_and_shapes_kept():
    x = np.random.default_rng(0).integers(0, 256, (16, 28, 28, 1), dtype=np.uint8)
    aug = config_from_dict({"data": {"augment": {"hflip": True, "shift": 2,
                                                 "gamma": [0.7, 1.4]}}}).data.augment
    a = augment(x, aug, np.random.default_rng(5))
    b = augment(x, aug, np.random.default_rng(5))
    assert a.dtype == np.uint8 and a.shape == x.shape and np.array_equal(a, b)
    assert not np.array_equal(a, augment(x, aug, np.random.default_rng(6)))


def test_flip_shift_and_gamma():
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4, 1)
    flipped = hflip(x, np.random.default_rng(0))
    for i in range(2):
        assert np.array_equal(flipped[i], x[i]) or np.array_equal(flipped[i], x[i, :, ::-1])
    assert np.array_equal(random_shift(x, 0, np.random.default_rng(0)), x)
    codes = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    assert np.array_equal(gamma_shift(codes, 1.0), codes)
    darker = gamma_shift(codes, 2.0)
    assert np.all(darker <= codes) and np.all(np.diff(darker.ravel().astype(int)) >= 0)
    assert darker.ravel()[0] == 0 and darker.ravel()[255] == 255


def test_fingerprint_sees_symlinked_class_folders_and_hidden_images(tmp_path):
    """The folder loader follows symlinked class folders and reads hidden images: the
    fingerprint must see every file it reads (found in review)."""
    from pipeline.data.fingerprint import dataset_fingerprint
    real = tmp_path / "real"
    for cls in ("cat", "dog"):
        (real / cls).mkdir(parents=True)
        (real / cls / "a.png").write_bytes(cls.encode() * 10)
    ds = tmp_path / "ds"
    ds.mkdir()
    for cls in ("cat", "dog"):
        (ds / cls).symlink_to(real / cls, target_is_directory=True)
    before = dataset_fingerprint("folder", ds)
    a, b = real / "cat" / "a.png", real / "dog" / "a.png"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)  # swapped through the symlinks
    assert dataset_fingerprint("folder", ds) != before
    before = dataset_fingerprint("folder", ds)
    (real / "cat" / ".hidden.png").write_bytes(b"x")
    assert dataset_fingerprint("folder", ds) != before
