"""The quantile thermometer through training: fixed at the training data's quantiles before,
during (pruning included) and after training, and torch eval == oracle after lowering."""
import numpy as np
import torch

from pipeline.data import prepare
from pipeline.lower import load_model, lower_checkpoint
from pipeline import reference
from pipeline.nn.thermometer import fix_integer_thresholds, quantile_thresholds
from pipeline.train import train

from train_helpers import tiny_config


def test_quantile_thresholds_fixed_through_training_and_lowered(tmp_path):
    cfg = tiny_config("tiny_quantile", model={"encoding": {"kind": "quantile", "planes": 4}},
                      teacher={"enabled": False}, distill={"enabled": False})
    ckpt = train(cfg, tmp_path)
    ds = prepare(cfg, tmp_path)
    # 512 training images < the 10,000-image quantile sample: the quantiles of all of them
    want = fix_integer_thresholds(np.ceil(quantile_thresholds(ds.train_images, 4)))
    model, _ = load_model(ckpt)
    assert np.array_equal(model.encoding.integer_thresholds(), want)
    saved = torch.load(ckpt, weights_only=False)
    assert saved["metrics"][-1]["phase"] == "final"
    assert any(r["phase"] == "prune" and r.get("removed") for r in saved["metrics"])
    model_ir = lower_checkpoint(ckpt)
    thermo = model_ir.layers[0]
    assert (thermo.encoding, thermo.mode) == ("quantile", "thresholds")
    assert np.array_equal(thermo.thresholds, want)
    logits = model.integer_logits(torch.from_numpy(ds.test_images)).numpy()
    result = reference.run(model_ir, ds.test_images)
    assert np.array_equal(logits, result.logits)
    # after the first unit (one epoch of training) the thresholds have not moved either
    cut = tmp_path / "cut"
    train(cfg, cut, stop_after_units=1)
    early, _ = load_model(cut / "checkpoint.pt")
    assert np.array_equal(early.encoding.integer_thresholds(), want)
