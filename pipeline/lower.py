"""Checkpoint -> integer IR (verb ``lower``): ``model.ir.json`` + ``model.ir.npz``.

Floats stop here. BatchNorm + sign folds into integer thresholds with a flip flag, the GLT's
thresholds become integer pixel codes, the output affine becomes int32 fixed point, and pruned
blocks are simply absent (the checkpoint's architecture is already the reduced one).
Each layer comes from its kind's ``lower`` part (:mod:`pipeline.ops`). Packing: a conv with G
groups reads its input packed in G groups; a max-pool keeps the packing of the layer after it
(:func:`pipeline.ir.settle_packing`); dense layers read packing 1.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from . import ir, ops
from .atomic import writable_dir
from .errors import PipelineError
from .nn.models import BNN, layer_shapes


class CheckpointError(PipelineError):
    """The checkpoint is missing or is not a finished training checkpoint."""


@torch.no_grad()
def to_ir(model: BNN, metadata: dict | None = None) -> ir.Model:
    """The integer IR of a (pruned) BNN in eval mode."""
    model = model.eval()
    shapes = layer_shapes(model.arch)
    specs = model.arch["layers"] + [{"dense": model.arch["classes"]}]
    modules = list(model.body) + [model.head]
    layers: list = [ops.get("thermometer").lower("thermometer", model.encoding, None,
                                                 tuple(model.arch["in_shape"]))]
    for i, (spec, module, (in_shape, _)) in enumerate(zip(specs, modules, shapes)):
        name = "output" if module is model.head else f"{next(iter(spec))}{i}"
        layers.append(ops.for_spec(spec).lower(name, module, spec, in_shape))
    layers = ir.settle_packing(layers)
    meta = {"encoding": model.encoding.kind, "planes": model.encoding.planes,
            "logit_shift": int(model.head.fixed_point()[2]), **(metadata or {})}
    return ir.Model(tuple(layers), meta).validate()


def load_model(ckpt_path: str | Path) -> tuple[BNN, dict]:
    """The BNN a training checkpoint holds (eval mode) and the checkpoint's metadata."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise CheckpointError(f"{path} not found; run `python -m pipeline train` first")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        model = BNN(ckpt["arch"])
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, EOFError, ValueError, TypeError, AttributeError,
            pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: not a BNN training checkpoint ({exc}); re-run "
                              "`python -m pipeline train`") from exc
    return model.eval(), {k: ckpt.get(k) for k in ("config_name", "test_accuracy", "finished")}


def lower_checkpoint(ckpt_path: str | Path) -> ir.Model:
    model, meta = load_model(ckpt_path)
    if not meta.get("finished"):
        raise CheckpointError(f"{ckpt_path}: training has not finished; run `python -m pipeline "
                              "train --resume`")
    return to_ir(model, {"config": meta.get("config_name"),
                         "torch_test_accuracy": meta.get("test_accuracy")})


def add_arguments(parser) -> None:
    from . import resources
    parser.add_argument("--config", default=str(resources.configs_dir() / "fashion_glt.yaml"),
                        help="training config (default: the shipped fashion_glt.yaml)")
    parser.add_argument("--checkpoint", default=None, help="default build/<config>/checkpoint.pt")
    parser.add_argument("--out", default=None, help="IR JSON path (default beside the checkpoint)")


def run(args) -> int:
    from .config import load_config
    ckpt = Path(args.checkpoint) if args.checkpoint else \
        Path("build") / load_config(args.config).name / "checkpoint.pt"
    out = Path(args.out) if args.out else ckpt.parent / "model.ir.json"
    writable_dir(out.parent, create=False)  # before the checkpoint is read; creates nothing
    model = lower_checkpoint(ckpt)
    model.save(out)
    print(f"{out}: {len(model.layers)} layers, {model.bits():,} bits, sha256 {model.sha256()[:12]}")
    return 0
