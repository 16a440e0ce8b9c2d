"""Helpers of the library tests: two models of different shapes rendered as C libraries."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline import ir, random_ir, reference, render

HERE = Path(__file__).resolve().parent
BOARD = "mps2-an386"
VECTORS = 3


@dataclass
class RenderedModel:
    name: str
    model: ir.Model
    images: np.ndarray
    logits: np.ndarray  # the oracle's
    classes: np.ndarray
    out: render.Rendered


def two_models() -> dict[str, tuple[ir.Model, np.ndarray]]:
    """alpha: 12x10x1 image, 10 classes, two convs; beta: 8x8x3 image, 4 classes, one conv and a
    hidden dense layer (different shapes, arena sizes and layer counts)."""
    alpha = random_ir.random_model(101, height=12, width=10, in_channels=1, classes=10,
                                   conv_layers=2, max_channels=24, hidden_dense=0)
    beta = random_ir.random_model(202, height=8, width=8, in_channels=3, classes=4,
                                  conv_layers=1, max_channels=16, hidden_dense=12)
    assert alpha.input_shape != beta.input_shape and alpha.num_classes != beta.num_classes
    return {"alpha": (alpha, random_ir.random_images(1, VECTORS, alpha.input_shape)),
            "beta": (beta, random_ir.random_images(2, VECTORS, beta.input_shape))}


def render_two(root: Path) -> dict[str, RenderedModel]:
    """Render alpha and beta into root/alpha and root/beta (each with model/, runtime/, ...)."""
    out = {}
    for name, (model, images) in two_models().items():
        oracle = reference.run(model, images)
        rendered = render.render(model, BOARD, root / name, images, oracle.logits, name=name)
        out[name] = RenderedModel(name, model, images, oracle.logits, oracle.classes, rendered)
    return out


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command; a failure shows its output."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout}\n{proc.stderr}"
    return proc
