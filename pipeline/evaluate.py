"""Evaluate stage: accuracy of the trained torch model and of the oracle on the whole test split,
and their exact agreement (same integer logits on every image), plus robustness to exposure
shifts (gamma) of the test images.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import ir, reference
from .errors import PipelineError

GAMMAS = (0.5, 0.75, 1.5, 2.0)
GAMMA_IMAGES = 2000  # robustness on a prefix of the test split: the oracle takes ~8 s per 1000
CHUNK = 500


class TorchOracleMismatchError(PipelineError):
    """The trained torch model (eval mode) and the oracle disagree on some test image."""


def torch_integer_logits(model, images: np.ndarray) -> np.ndarray:
    import torch
    out = []
    for start in range(0, len(images), CHUNK):
        batch = torch.from_numpy(np.ascontiguousarray(images[start:start + CHUNK]))
        out.append(model.integer_logits(batch).numpy())
    return np.concatenate(out).astype(np.int64)


def evaluate_model(cfg, checkpoint: Path, ir_path: Path, out_dir: Path,
                   gammas: tuple[float, ...] = GAMMAS) -> dict:
    """Torch-eval and oracle accuracy on the test split (their logits must agree exactly on every
    image, else :class:`TorchOracleMismatchError`), the model's bits, and the oracle's accuracy
    on the first ``GAMMA_IMAGES`` test images gamma-shifted by each of ``gammas`` (none: skipped;
    the oracle is the slow part)."""
    from .data import prepare
    from .data.transforms import gamma_shift
    from .lower import load_model

    ds = prepare(cfg, out_dir)
    torch_model, _ = load_model(checkpoint)
    model = ir.Model.load(ir_path)
    images, labels = ds.test_images, ds.test_labels
    t_logits = torch_integer_logits(torch_model, images)
    o = reference.run(model, images)
    same = np.all(t_logits == o.logits.astype(np.int64), axis=1)
    if not same.all():
        bad = np.flatnonzero(~same)
        raise TorchOracleMismatchError(
            f"torch eval and the oracle give different logits on {len(bad)} of {len(images)} test "
            f"images (first: {bad[:10].tolist()}); lowering is wrong: re-run `python -m pipeline "
            "lower` after fixing it")
    t_classes = reference.argmax(t_logits)
    robustness = {}
    sub, sub_labels = images[:GAMMA_IMAGES], labels[:GAMMA_IMAGES]
    for g in gammas:
        shifted = gamma_shift(sub, g)
        robustness[str(g)] = float(np.mean(reference.run(model, shifted).classes == sub_labels))
    return {
        "test_images": int(len(images)),
        "torch_accuracy": float(np.mean(t_classes == labels)),
        "oracle_accuracy": float(np.mean(o.classes == labels)),
        "torch_oracle_equal_logits": int(same.sum()),
        "gamma_accuracy": robustness,
        "gamma_images": int(len(sub)) if gammas else 0,
        "model_bits": model.bits(),
    }
