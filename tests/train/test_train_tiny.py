"""Training on configs/tiny.yaml: outputs, pruning, teacher reuse, and torch == oracle on the
1000 held-out test images for every encoding."""
import json

import numpy as np
import pytest
import torch

from pipeline import ir, reference
from pipeline.cli import main
from pipeline.data import prepare
from pipeline.lower import CheckpointError, load_model, lower_checkpoint
from pipeline.nn.models import arch_bits, make_arch
from pipeline.train import train

from train_helpers import TINY, tiny_config


def _held_out(cfg, out):
    ds = prepare(cfg, out)
    assert len(ds.test_images) >= 1000
    return ds.test_images, ds.test_labels


def _torch_equals_oracle(ckpt, cfg, out):
    images, labels = _held_out(cfg, out)
    model, _ = load_model(ckpt)
    torch_logits = model.integer_logits(torch.from_numpy(images)).numpy()
    model_ir = lower_checkpoint(ckpt)
    result = reference.run(model_ir, images)
    assert np.array_equal(torch_logits, result.logits)
    assert np.array_equal(torch_logits.argmax(1), result.classes)
    return model, model_ir, (result.classes == labels).mean()


def test_outputs_of_a_run(trained_tiny):
    ckpt, out = trained_tiny
    assert ckpt == out / "checkpoint.pt"
    for name in ("teacher.pt", "metrics.jsonl", "plots/curves.png", "plots/tone_curve.png"):
        assert (out / name).is_file(), name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    phases = [r["phase"] for r in records]
    assert phases[0] == "teacher" and "student" in phases and "prune" in phases
    assert phases[-1] == "final"
    saved = torch.load(ckpt, weights_only=False)
    assert saved["finished"] and saved["test_accuracy"] == records[-1]["test_acc_integer"]


def test_glt_grouped_pruned_torch_equals_oracle(trained_tiny):
    from pipeline.config import load_config
    ckpt, out = trained_tiny
    cfg = load_config(TINY)
    model, model_ir, acc = _torch_equals_oracle(ckpt, cfg, out)
    assert acc > 0.3  # learned something in one tiny epoch (chance is 0.1)
    # pruned: under budget, narrower than configured, channels absent from the IR
    full = make_arch(cfg.model, (28, 28, 1), 10)
    assert arch_bits(full) > cfg.prune.budget_bits >= model_ir.bits() == arch_bits(model.arch)
    convs = [layer for layer in model_ir.layers if isinstance(layer, ir.BConv2d)]
    assert any(layer.groups > 1 for layer in convs)
    widths_ir = [layer.out_channels if isinstance(layer, ir.BConv2d) else layer.out_features
                 for layer in model_ir.layers[1:-1] if not isinstance(layer, (ir.BMaxPool2d,))]
    widths_arch = [s.get("conv", s.get("dense")) for s in model.arch["layers"] if "pool" not in s]
    assert widths_ir == widths_arch
    assert sum(widths_arch) < sum(s.get("conv", s.get("dense")) for s in full["layers"]
                                  if "pool" not in s)


@pytest.mark.parametrize("kind, planes", [("uniform", 4), ("base2", 4)])
def test_baseline_encodings_torch_equals_oracle(tmp_path, kind, planes):
    cfg = tiny_config(f"tiny_{kind}", model={"encoding": {"kind": kind, "planes": planes}},
                      teacher={"enabled": False}, distill={"enabled": False})
    ckpt = train(cfg, tmp_path)
    _, model_ir, _ = _torch_equals_oracle(ckpt, cfg, tmp_path)
    assert model_ir.layers[0].encoding == kind
    assert model_ir.layers[0].mode == ("base2" if kind == "base2" else "thresholds")
    assert not (tmp_path / "teacher.pt").exists()


def test_lower_verb_writes_ir(trained_tiny, tmp_path):
    ckpt, _ = trained_tiny
    out = tmp_path / "model.ir.json"
    assert main(["lower", "--checkpoint", str(ckpt), "--out", str(out)]) == 0
    loaded = ir.Model.load(out)
    assert (tmp_path / "model.ir.npz").is_file()
    assert loaded.sha256() == lower_checkpoint(ckpt).sha256()


def test_lower_refuses_missing_or_unfinished(tmp_path):
    with pytest.raises(CheckpointError, match="pipeline train"):
        lower_checkpoint(tmp_path / "none.pt")
    cfg = tiny_config("tiny_cut", teacher={"enabled": False}, distill={"enabled": False})
    ckpt = train(cfg, tmp_path, stop_after_units=1)
    with pytest.raises(CheckpointError, match="--resume"):
        lower_checkpoint(ckpt)


def test_teacher_is_reused_when_present(trained_tiny, tmp_path):
    import shutil
    _, out = trained_tiny
    shutil.copy(out / "teacher.pt", tmp_path / "teacher.pt")
    before = (tmp_path / "teacher.pt").stat().st_mtime_ns
    from pipeline.config import load_config
    train(load_config(TINY), tmp_path)
    assert (tmp_path / "teacher.pt").stat().st_mtime_ns == before
