"""The pretrained model zoo (zoo/<name>/): every entry's files, hashes and figures agree with its
metrics.json, its config builds exactly its topology, and the oracle on the whole Fashion-MNIST
test split gives exactly the recorded accuracy (the oracle is deterministic); `deploy --model`
deploys an entry without training, and an unknown name fails listing the zoo."""
import json
from pathlib import Path

import numpy as np
import pytest

from pipeline import cli, ir, reference, resources, zoo
from pipeline.config import load_config
from pipeline.nn.arch import arch_bits, make_arch

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "zoo"
MODELS = sorted(p.name for p in ZOO.iterdir() if p.is_dir()) if ZOO.is_dir() else []
ENTRY_FILES = ("model.ir.json", "model.ir.npz", "config.yaml", "metrics.json", "README.md")


def metrics(name: str) -> dict:
    return json.loads((ZOO / name / "metrics.json").read_text())


def test_the_zoo_has_models_and_resources_finds_them():
    assert MODELS, "zoo/ holds no model"
    assert resources.zoo_models() == MODELS
    for name in MODELS:
        assert resources.zoo_model(name) == ZOO / name / "model.ir.json"


@pytest.mark.parametrize("name", ["no-such-model", "../configs", ""])
def test_an_unknown_zoo_model_fails_listing_the_zoo(name):
    with pytest.raises(resources.UnknownZooModelError, match=MODELS[0] if MODELS else "none"):
        resources.zoo_model(name)


@pytest.mark.parametrize("name", MODELS)
def test_entry_files_hashes_and_figures(name):
    folder = ZOO / name
    for f in ENTRY_FILES:
        assert (folder / f).is_file(), f"{folder / f} is missing"
    doc = metrics(name)
    assert doc["name"] == name
    for f, digest in doc["files"].items():
        assert zoo.file_sha256(folder / f) == digest, f"{name}/{f} changed since it was published"
    model = ir.Model.load(folder / "model.ir.json")  # checks the arrays' sha256 against the JSON
    assert model.sha256() == doc["ir_sha256"]
    figures = zoo.model_figures(model)
    assert figures["bits"] == doc["bits"] and figures["macs"] == doc["macs"]
    assert doc["bits"]["largest_layer_share"] <= 0.5  # capacity spread over the layers
    cfg = load_config(ROOT / "configs" / "zoo" / f"{name}.yaml")  # the copy's name is "config"
    assert cfg.name == name
    assert arch_bits(make_arch(cfg.model, model.input_shape, model.num_classes)) == model.bits()
    assert model.bits() <= cfg.prune.budget_bits
    assert (ROOT / "configs" / "zoo" / f"{name}.yaml").read_bytes() == \
        (folder / "config.yaml").read_bytes()
    card = (folder / "README.md").read_text()
    assert f"{100 * doc['accuracy']:.2f} %" in card and f"{model.bits():,} bits" in card


@pytest.fixture(scope="module")
def fashion_test():
    return zoo.load_test_split("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize("name", MODELS)
def test_recorded_accuracy_is_the_oracles_on_the_whole_test_split(name, fashion_test):
    images, labels = fashion_test
    doc = metrics(name)
    model = ir.Model.load(ZOO / name / "model.ir.json")
    assert load_config(ZOO / name / "config.yaml").data.dataset == doc["dataset"] == "fashion_mnist"
    classes = reference.run(model, images).classes
    assert doc["test_images"] == len(images) == 10_000
    assert int(np.sum(classes == labels)) == doc["correct"]
    assert doc["accuracy"] == doc["correct"] / doc["test_images"]


def test_deploy_a_zoo_model_without_training(tmp_path, capsys):
    name = min(MODELS, key=lambda m: metrics(m)["bits"]["total"])
    assert cli.main(["deploy", "--board", "mps2-an386", "--model", name, "--build-dir",
                     str(tmp_path), "--vectors", "3"]) == 0
    out = capsys.readouterr().out
    assert "[train]" not in out
    board = tmp_path / name / "mps2-an386"
    rep = json.loads((board / "report.json").read_text())
    assert rep["mismatches"] == 0 and rep["emulated"] and rep["vectors"] == 3
    assert rep["model_bits"] == metrics(name)["bits"]["total"]
    c_name = name.replace("-", "_")
    assert (board / "model" / f"{c_name}.h").is_file()
    assert not (tmp_path / name / "checkpoint.pt").exists()


def test_deploy_model_and_ir_together_is_an_error(tmp_path, capsys):
    assert cli.main(["deploy", "--board", "mps2-an386", "--model", MODELS[0], "--ir",
                     str(ZOO / MODELS[0] / "model.ir.json"), "--build-dir", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
