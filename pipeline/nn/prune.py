"""Block pruning: remove whole blocks of output channels until the model fits a bit budget.

A *unit* of layer i removes one block of ``b`` output channels from each of the L aligned
segments of its outputs, L = lcm(groups of layer i, groups of the layer that reads it), so every
group of both layers loses the same number of channels and the grouped structure survives.
Criterion: a block's mean |latent weight| (``weight``) or mean |BN scale| (``bn``), relative to
its layer's mean, divided by the bits the unit saves: the least important bits go first.
Removed channels are gone: the model is rebuilt narrower (weights of the reading layer lose the
matching inputs), nothing is zeroed.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import ops
from ..errors import PipelineError
from .arch import min_widths, prunable, prune_segments, reader_index, width_key
from .models import BNN, arch_bits, layer_shapes


class PruneBudgetError(PipelineError):
    """Pruning cannot bring the model under its bit budget."""


@dataclass(frozen=True)
class Unit:
    layer: int             # index into arch["layers"]
    keep: tuple[int, ...]  # output channels that stay
    score: float


def _channel_scores(module, criterion: str) -> np.ndarray:
    if criterion == "bn":
        bn = module.bn
        s = bn.weight.detach().abs() / torch.sqrt(bn.running_var + bn.eps)
    else:
        s = module.latent_weight.detach().abs().flatten(1).mean(1)
    return s.double().cpu().numpy()


def candidate_units(model: BNN, block: int, criterion: str, min_widths: dict[int, int]) -> list[Unit]:
    arch, units = model.arch, []
    bits = arch_bits(arch)
    for i, spec in enumerate(arch["layers"]):
        if not prunable(arch, i):
            continue
        width = spec[width_key(spec)]
        segments = prune_segments(arch, i)
        seg = width // segments
        b = math.gcd(block, seg)
        if width - segments * b < min_widths.get(i, 1) or seg - b < 1:
            continue
        scores = _channel_scores(model.body[i], criterion)
        drop = []
        for s in range(segments):
            blocks = scores[s * seg:(s + 1) * seg].reshape(-1, b).mean(1)
            k = int(np.argmin(blocks))  # lowest index on ties: deterministic
            drop += range(s * seg + k * b, s * seg + (k + 1) * b)
        keep = tuple(c for c in range(width) if c not in set(drop))
        relative = scores[drop].mean() / max(scores.mean(), 1e-12)
        saved = bits - arch_bits(_narrowed_arch(arch, i, len(keep)))
        units.append(Unit(i, keep, float(relative / saved)))
    return units


def _narrowed_arch(arch: dict, i: int, width: int) -> dict:
    out = copy.deepcopy(arch)
    out["layers"][i][width_key(out["layers"][i])] = width
    return out


def remove_channels(model: BNN, i: int, keep: tuple[int, ...]) -> BNN:
    """A new, narrower BNN without the output channels of layer i not in ``keep``."""
    arch = model.arch
    keep_t = torch.as_tensor(keep, dtype=torch.long)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    prefix = f"body.{i}."
    for key in list(state):
        if key.startswith(prefix) and state[key].dim() >= 1 and key != prefix + "bn.num_batches_tracked":
            state[key] = state[key][keep_t]
    j = reader_index(arch, i)
    reader = model.body[j] if j is not None else model.head
    spec = arch["layers"][j] if j is not None else {"dense": arch["classes"], "output": True}
    rkey = f"body.{j}.latent_weight" if j is not None else "head.latent_weight"
    in_shape, _ = layer_shapes(arch)[j if j is not None else len(arch["layers"])]
    state[rkey] = ops.for_spec(spec).prune_reader_weight(reader, state[rkey], keep, in_shape)
    narrowed = BNN(_narrowed_arch(arch, i, len(keep)))
    narrowed.load_state_dict(state)
    return narrowed


def prune_to(model: BNN, target_bits: int, block: int, criterion: str,
             min_widths: dict[int, int]) -> tuple[BNN, list[dict]]:
    """Remove the lowest-scoring unit, one at a time, until ``arch_bits <= target_bits``."""
    removed = []
    while arch_bits(model.arch) > target_bits:
        units = candidate_units(model, block, criterion, min_widths)
        if not units:
            raise PruneBudgetError(
                f"the model has {arch_bits(model.arch):,} bits and no layer can lose another "
                f"block (prune.min_keep); raise prune.budget_bits or use a smaller topology")
        best = min(units, key=lambda u: (u.score, u.layer))
        model = remove_channels(model, best.layer, best.keep)
        removed.append({"layer": best.layer, "width": len(best.keep),
                        "bits": arch_bits(model.arch)})
    return model, removed


def prune_target(bits: int, budget: int, steps_left: int) -> int:
    """This step's bit target: an equal share of the remaining excess per remaining step."""
    return bits - math.ceil((bits - budget) / max(steps_left, 1))


__all__ = ["PruneBudgetError", "Unit", "candidate_units", "remove_channels", "prune_to",
           "min_widths", "prune_target"]
