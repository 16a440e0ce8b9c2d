"""BNN in eval mode against the oracle: integer logits equal for every encoding and topology."""
import dataclasses

import numpy as np
import pytest
import torch

from pipeline import reference
from pipeline.config import EncodingConfig, ModelConfig
from pipeline.lower import to_ir
from pipeline.nn.models import BNN, arch_bits, make_arch

TOPOLOGIES = {
    "default": [],
    "grouped": [{"conv": 12, "kernel": 3, "padding": 1, "groups": 4}, {"pool": 2},
                {"conv": 20, "kernel": 3, "stride": 2, "padding": 1, "groups": 2},
                {"pool": 2, "stride": 1}, {"conv": 10, "kernel": 1, "groups": 5},
                {"dense": 37}, {"dense": 33}],
    "odd": [{"conv": 7, "kernel": 5, "padding": 2}, {"pool": 3, "stride": 2},
            {"conv": 35, "kernel": 3}, {"dense": 45}],
}


def randomised(arch, seed):
    torch.manual_seed(seed)
    m = BNN(arch)
    for mod in m.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                mod.running_mean.normal_(0, 4)
                mod.running_var.uniform_(0.5, 30)
                mod.weight.normal_()
                mod.bias.normal_()
    return m.eval()


@pytest.mark.parametrize("kind", ["glt", "uniform", "base2", "quantile"])
@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_integer_logits_equal_oracle(kind, topology):
    enc = EncodingConfig(kind=kind, planes=8 if kind == "base2" else 4)
    arch = make_arch(ModelConfig(encoding=enc, layers=TOPOLOGIES[topology]), (28, 28, 1), 10)
    m = randomised(arch, 1)
    images = np.random.default_rng(2).integers(0, 256, (150, 28, 28, 1), dtype=np.uint8)
    logits = m.integer_logits(torch.from_numpy(images)).numpy()
    model_ir = to_ir(m)
    result = reference.run(model_ir, images)
    assert np.array_equal(logits, result.logits)
    assert np.array_equal(logits.argmax(1), result.classes)
    assert model_ir.bits() == arch_bits(arch)


def test_rgb_default_topology_equals_oracle():
    enc = EncodingConfig(kind="glt", planes=3)
    arch = make_arch(ModelConfig(encoding=enc), (96, 96, 3), 10)
    m = randomised(arch, 4)
    images = np.random.default_rng(5).integers(0, 256, (6, 96, 96, 3), dtype=np.uint8)
    assert np.array_equal(m.integer_logits(torch.from_numpy(images)).numpy(),
                          reference.run(to_ir(m), images).logits)


def test_float_eval_forward_tracks_integer_logits():
    arch = make_arch(ModelConfig(layers=TOPOLOGIES["grouped"]), (28, 28, 1), 10)
    m = randomised(arch, 7)
    images = torch.from_numpy(np.random.default_rng(8).integers(0, 256, (200, 28, 28, 1),
                                                                dtype=np.uint8))
    mult, bias, shift = m.head.fixed_point()
    float_logits = m(images).detach().double().numpy()
    int_logits = m.integer_logits(images).numpy()
    assert np.allclose(int_logits / 2.0**shift, float_logits, atol=1e-3 * np.abs(float_logits).max())


def test_integer_logits_refuses_training_mode():
    m = BNN(make_arch(ModelConfig(), (28, 28, 1), 10))
    with pytest.raises(RuntimeError, match="eval"):
        m.integer_logits(torch.zeros(1, 28, 28, 1, dtype=torch.uint8))


def test_pruned_widths_survive_architecture_round_trip():
    arch = make_arch(ModelConfig(layers=TOPOLOGIES["odd"]), (28, 28, 1), 10)
    m = BNN(arch)
    again = BNN(m.arch)
    again.load_state_dict(m.state_dict())
    assert again.arch == m.arch and arch_bits(again.arch) == arch_bits(arch)
    assert dataclasses.asdict(EncodingConfig()) == arch["encoding"]
