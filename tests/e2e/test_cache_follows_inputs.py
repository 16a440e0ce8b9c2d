"""The stage cache never hands out a stale model: dataset *content* is an input (a swap of two
class folders' files, same names and count, retrains), and --force re-reads the data."""
import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from pipeline import cli

CONFIG = """name: folder_tiny
data: {{dataset: folder, path: {path}, image_size: 8, test_fraction: 0.25}}
model:
  encoding: {{kind: glt, planes: 2}}
  layers:
    - {{conv: 8, kernel: 3, padding: 1}}
    - {{pool: 2}}
teacher: {{epochs: 1, width: 4, batch_size: 8}}
train: {{epochs: 1, batch_size: 8, threads: 1}}
prune: {{enabled: false}}
deploy: {{vectors: 2}}
"""


def write_folder_dataset(root):
    """Two classes of 12 8x8 RGB images: dark ones in a/, bright ones in b/."""
    rng = np.random.default_rng(0)
    for cls, level in (("a", 40), ("b", 200)):
        (root / cls).mkdir(parents=True)
        for i in range(12):
            img = np.clip(rng.normal(level, 30, (8, 8, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / cls / f"{i}.png")


def deploy(config, build, *extra):
    return cli.main(["deploy", "--board", "nucleo-f446re", "--config", str(config),
                     "--build-dir", str(build), *extra])


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_mean_by_label(root):
    with np.load(root / "data" / "dataset.npz") as z:
        x, y = z["train_images"], z["train_labels"]
    return [float(x[y == c].mean()) for c in (0, 1)]


@pytest.mark.slow
def test_swapped_class_folders_retrain_and_force_rereads(tmp_path, capsys):
    data = tmp_path / "data"
    write_folder_dataset(data)
    config = tmp_path / "folder_tiny.yaml"
    config.write_text(CONFIG.format(path=data))
    build = tmp_path / "build"
    root = build / "folder_tiny"

    assert deploy(config, build) == 0
    dark, bright = cached_mean_by_label(root)
    assert dark < 100 < bright
    checkpoint = digest(root / "checkpoint.pt")
    capsys.readouterr()

    # swap the files of the two class folders: same names, same count, same sizes on disk
    for i in range(12):
        a, b, tmp = data / "a" / f"{i}.png", data / "b" / f"{i}.png", data / f"{i}.swap"
        os.rename(a, tmp)
        os.rename(b, a)
        os.rename(tmp, b)
    assert deploy(config, build) == 0
    out = capsys.readouterr().out
    for stage in ("data", "train", "lower", "render", "build"):
        assert f"[{stage}] running" in out, (stage, out)
    dark, bright = cached_mean_by_label(root)
    assert bright < 100 < dark  # the labels follow the files now
    assert digest(root / "checkpoint.pt") != checkpoint

    assert deploy(config, build) == 0  # nothing changed: nothing runs
    out = capsys.readouterr().out
    assert "running" not in out and "[train] up to date" in out

    cache = root / "data" / "dataset.npz"
    before = cache.stat().st_mtime_ns
    assert deploy(config, build, "--force") == 0
    out = capsys.readouterr().out
    assert "[data] running" in out and "[train] running" in out
    assert cache.stat().st_mtime_ns != before  # re-read from the files, not the old arrays
