"""Checkpoint -> integer IR (verb ``lower``): ``model.ir.json`` + ``model.ir.npz``.

Floats stop here. BatchNorm + sign folds into integer thresholds with a flip flag, the GLT's
thresholds become integer pixel codes, the output affine becomes int32 fixed point, and pruned
blocks are simply absent (the checkpoint's architecture is already the reduced one).
Packing: a conv with G groups reads its input packed in G groups; a max-pool keeps the packing of
the layer after it; dense layers read packing 1.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import bits as B
from . import ir
from .atomic import writable_dir
from .errors import PipelineError
from .nn.layers import BinaryConv2d, BinaryDense
from .nn.models import BNN, layer_shapes


class CheckpointError(PipelineError):
    """The checkpoint is missing or is not a finished training checkpoint."""


def _packed_sign_bits(latent: torch.Tensor, groups: int = 1) -> np.ndarray:
    """Latent weights [..., C] -> packed words (bit 1 = -1, sign(0) = +1)."""
    return B.pack(B.to_bits(latent.detach().cpu().numpy()), groups)


def _encoding_layer(model: BNN) -> ir.Thermometer:
    enc = model.encoding
    return ir.Thermometer(name="thermometer", in_shape=tuple(model.arch["in_shape"]),
                          planes=enc.planes, mode=enc.mode,
                          thresholds=enc.integer_thresholds().astype(np.int32), encoding=enc.kind)


def _conv_layer(name: str, m: BinaryConv2d, in_shape) -> ir.BConv2d:
    w = m.latent_weight.permute(0, 2, 3, 1)  # [Cout, Cin/G, kh, kw] -> [Cout, kh, kw, Cin/G]
    threshold, flip = m.folded()
    return ir.BConv2d(name=name, in_shape=in_shape, out_channels=m.out_channels,
                      kernel=(m.kernel, m.kernel), stride=m.stride, padding=m.padding,
                      groups=m.groups, weights=_packed_sign_bits(w), threshold=threshold,
                      flip=flip)


def _dense_layer(name: str, m: BinaryDense, in_shape) -> ir.BDense:
    h, w, c = in_shape
    # torch flattens NCHW (feature c*H*W + h*W + w); the IR reads the packed NHWC input as it
    # lies in memory: (H, W, words).
    lw = m.latent_weight.reshape(m.out_features, c, h, w).permute(0, 2, 3, 1)
    words = _packed_sign_bits(lw).reshape(m.out_features, -1)
    if m.output:
        mult, bias, _ = m.fixed_point()
        return ir.BDense(name=name, in_shape=in_shape, out_features=m.out_features,
                         weights=words, output=True, mult=mult, bias=bias)
    threshold, flip = m.folded()
    return ir.BDense(name=name, in_shape=in_shape, out_features=m.out_features, weights=words,
                     output=False, threshold=threshold, flip=flip)


@torch.no_grad()
def to_ir(model: BNN, metadata: dict | None = None) -> ir.Model:
    """The integer IR of a (pruned) BNN in eval mode."""
    model = model.eval()
    shapes = layer_shapes(model.arch)
    specs = model.arch["layers"] + [{"dense": model.arch["classes"]}]
    modules = list(model.body) + [model.head]
    layers: list = [_encoding_layer(model)]
    for i, (spec, module, (in_shape, _)) in enumerate(zip(specs, modules, shapes)):
        name = f"{next(iter(spec))}{i}"
        if "conv" in spec:
            layers.append(_conv_layer(name, module, in_shape))
        elif "pool" in spec:
            layers.append(ir.BMaxPool2d(name=name, in_shape=in_shape, kernel=spec["pool"],
                                        stride=spec["stride"]))
        else:
            layers.append(_dense_layer("output" if module is model.head else name, module,
                                       in_shape))
    layers = _set_pool_packing(layers)
    meta = {"encoding": model.encoding.kind, "planes": model.encoding.planes,
            "logit_shift": int(model.head.fixed_point()[2]), **(metadata or {})}
    return ir.Model(tuple(layers), meta).validate()


def _set_pool_packing(layers: list) -> list:
    """A max-pool keeps its input's packing: that of the next layer that is not a pool."""
    out = list(layers)
    groups = 1
    for i in range(len(out) - 1, 0, -1):
        layer = out[i]
        if isinstance(layer, ir.BMaxPool2d):
            out[i] = ir.BMaxPool2d(name=layer.name, in_shape=layer.in_shape, kernel=layer.kernel,
                                   stride=layer.stride, in_pack_groups=groups)
        else:
            groups = layer.in_pack_groups
    return out


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
