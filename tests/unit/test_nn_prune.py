"""Block pruning: channels are removed (the model shrinks), groups stay aligned, the readers
lose exactly the removed inputs, and the budget is reached."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pipeline import reference
from pipeline.config import ModelConfig
from pipeline.lower import to_ir
from pipeline.nn.models import BNN, arch_bits, make_arch
from pipeline.nn.prune import (PruneBudgetError, candidate_units, min_widths, prune_target,
                               prune_to, remove_channels)

LAYERS = [{"conv": 16, "kernel": 3, "padding": 1, "groups": 2}, {"pool": 2},
          {"conv": 24, "kernel": 3, "padding": 1, "groups": 4}, {"pool": 2},
          {"dense": 40}, {"dense": 32}]


def _model(seed=0):
    torch.manual_seed(seed)
    m = BNN(make_arch(ModelConfig(layers=LAYERS), (28, 28, 1), 10))
    for mod in m.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                mod.running_mean.normal_(0, 3)
                mod.weight.normal_()
    return m.eval()


def _reader_input(model, j):
    seen = {}
    target = model.body[j] if j < len(model.body) else model.head
    handle = target.register_forward_pre_hook(lambda mod, args: seen.setdefault("x", args[0]))
    images = torch.from_numpy(np.random.default_rng(3).integers(0, 256, (20, 28, 28, 1),
                                                                dtype=np.uint8))
    model(images)
    handle.remove()
    return seen["x"]


@pytest.mark.parametrize("layer, reader", [(0, 2), (2, 4), (4, 5), (5, 6)])
def test_reader_loses_exactly_the_removed_inputs(layer, reader):
    m = _model()
    width = m.body[layer].out_channels if hasattr(m.body[layer], "out_channels") \
        else m.body[layer].out_features
    segments = {0: 4, 2: 4, 4: 1, 5: 1}[layer]  # lcm of the groups on both sides
    seg = width // segments
    keep = tuple(c for c in range(width) if c % seg not in (1, 2))  # 2 per segment
    small = remove_channels(m, layer, keep).eval()
    assert small.arch["layers"][layer].get("conv", small.arch["layers"][layer].get("dense")) \
        == len(keep)
    x_big, x_small = _reader_input(m, reader), _reader_input(small, reader)
    mask = torch.zeros(width)
    mask[list(keep)] = 1
    big_mod = m.body[reader] if reader < len(m.body) else m.head
    small_mod = small.body[reader] if reader < len(small.body) else small.head
    if x_big.dim() == 4:
        assert torch.equal(x_small, x_big[:, list(keep)])
        p = big_mod.padding
        padded = F.pad(x_big, [p] * 4, value=1.0) * mask.view(1, -1, 1, 1)
        want = F.conv2d(padded, torch.where(big_mod.latent_weight >= 0, 1.0, -1.0),
                        stride=big_mod.stride, groups=big_mod.groups)
    else:
        hw = x_big.shape[1] // width
        feature_mask = mask.repeat_interleave(hw)
        assert torch.equal(x_small, x_big[:, feature_mask.bool()])
        want = F.linear(x_big * feature_mask, torch.where(big_mod.latent_weight >= 0, 1.0, -1.0))
    assert torch.equal(small_mod.dot(x_small), want)


def test_units_keep_groups_aligned():
    m = _model()
    for unit in candidate_units(m, 2, "weight", {}):
        spec = m.arch["layers"][unit.layer]
        removed = set(range(spec.get("conv", spec.get("dense")))) - set(unit.keep)
        if unit.layer in (0, 2):  # 4 aligned segments: each loses one block of 2
            seg = spec["conv"] // 4
            assert sorted(len([c for c in removed if c // seg == s]) for s in range(4)) == [2] * 4


def test_prune_to_budget_and_oracle_agree():
    m = _model(1)
    start = arch_bits(m.arch)
    target = prune_target(start, start // 2, 1)
    assert target == start // 2
    small, removed = prune_to(m, target, 4, "bn", min_widths(m.arch, 0.25))
    assert arch_bits(small.arch) <= target and removed
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in m.parameters())
    small.eval()
    images = np.random.default_rng(4).integers(0, 256, (100, 28, 28, 1), dtype=np.uint8)
    model_ir = to_ir(small)
    assert model_ir.bits() == arch_bits(small.arch)
    assert np.array_equal(small.integer_logits(torch.from_numpy(images)).numpy(),
                          reference.run(model_ir, images).logits)


def test_min_keep_respected_and_impossible_budget_is_named_error():
    m = _model(2)
    widths = min_widths(m.arch, 0.5)
    with pytest.raises(PruneBudgetError, match="budget_bits"):
        prune_to(m, 1000, 2, "weight", widths)
    small, _ = prune_to(m, arch_bits(m.arch) * 3 // 4, 2, "weight", widths)
    for i, w in widths.items():
        spec = small.arch["layers"][i]
        assert spec.get("conv", spec.get("dense")) >= w


def test_pruning_is_deterministic():
    a, _ = prune_to(_model(3), 30000, 4, "weight", {})
    b, _ = prune_to(_model(3), 30000, 4, "weight", {})
    assert a.arch == b.arch
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
