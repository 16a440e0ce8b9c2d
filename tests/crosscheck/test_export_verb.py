"""export_all and `python -m pipeline export`: files, export.json, 1000-image agreement, and a
failed agreement that leaves no export.json."""
import json

import numpy as np
import pytest

import pipeline.export as X
from pipeline import cli, reference
from pipeline import random_ir as R


@pytest.fixture(scope="module")
def model():
    return R.random_model(46, maxpool=True, hidden_dense=17, classes=10)


def test_export_all_agrees_on_1000_images(model, tmp_path):
    images = R.random_images(1, 1000, model.input_shape)
    report = X.export_all(model, tmp_path, images, "test images")
    assert json.loads((tmp_path / "export.json").read_text()) == report
    want = reference.run(model, images)
    assert len(np.unique(want.classes)) >= 3  # the class check is not trivially constant
    for kind, name in (("onnx", "model.onnx"), ("tflite", "model.tflite")):
        entry, agree = report["files"][kind], report["agreement"][kind]
        assert entry["bytes"] == (tmp_path / name).stat().st_size > 0
        assert agree["images"] == agree["logits_equal"] == agree["classes_equal"] == 1000
    # the installed files themselves reproduce the oracle
    for logits, classes in (X.run_onnx(tmp_path / "model.onnx", images),
                            X.run_tflite(tmp_path / "model.tflite", images)):
        assert np.array_equal(logits, want.logits) and np.array_equal(classes, want.classes)
    assert report["files"]["tflite"]["op_histogram"]["LceBconv2d"] >= 3
    assert report["ir_sha256"] == model.sha256()


def test_mismatch_raises_and_leaves_no_report(model, tmp_path, monkeypatch):
    (tmp_path / "export.json").write_text('{"stale": true}')

    def off_by_one(path, images):
        logits, classes = X.onnx_export.run_onnx(path, images)
        logits = logits.copy()
        logits[len(logits) // 2, 0] += 1
        return logits, classes

    monkeypatch.setattr(X, "run_onnx", off_by_one)
    images = R.random_images(2, 20, model.input_shape)
    with pytest.raises(X.ExportMismatchError, match="onnx: logits equal on 19/20"):
        X.export_all(model, tmp_path, images)
    assert not (tmp_path / "export.json").exists()
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "model.tflite").exists()
    assert not list(tmp_path.glob(".export.*"))


def test_cli_writes_exports_next_to_the_ir(model, tmp_path, capsys):
    ir_path = model.save(tmp_path / "model.ir.json")
    assert cli.main(["export", "--ir", str(ir_path), "--images", "50"]) == 0
    report = json.loads((tmp_path / "export.json").read_text())
    assert report["agreement"]["images"] == 50
    assert report["agreement"]["tflite"]["classes_equal"] == 50
    assert "model.tflite" in capsys.readouterr().out


def test_cli_reads_images_from_npz(model, tmp_path):
    ir_path = model.save(tmp_path / "model.ir.json")
    images = R.random_images(3, 30, model.input_shape)
    np.savez(tmp_path / "imgs.npz", images=images)
    out = tmp_path / "out"
    assert cli.main(["export", "--ir", str(ir_path), "--images-npz", str(tmp_path / "imgs.npz"),
                     "--out", str(out)]) == 0
    report = json.loads((out / "export.json").read_text())
    assert report["agreement"]["onnx"]["logits_equal"] == 30


def test_cli_bad_images_is_a_named_error(model, tmp_path, capsys):
    ir_path = model.save(tmp_path / "model.ir.json")
    np.savez(tmp_path / "imgs.npz", images=np.zeros((4, 3, 3, 7), np.uint8))
    assert cli.main(["export", "--ir", str(ir_path), "--images-npz",
                     str(tmp_path / "imgs.npz")]) == 2
    assert "ExportInputError" in capsys.readouterr().err
    assert not (tmp_path / "export.json").exists()
