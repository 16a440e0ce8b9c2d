"""The channel shuffle (pipeline/ops/bshuffle.py), the kind added through the registry alone.
The registry-wide tests (test_ops_registry.py, render, QEMU, exports) run it as they run every
kind; these check what is particular to it: the permutation, configs and pruning."""
import numpy as np
import pytest
import torch
import yaml

from pipeline import bits as B
from pipeline import ir, reference
from pipeline.config import ConfigError, ModelConfig, load_config
from pipeline.lower import to_ir
from pipeline.nn.models import BNN, arch_bits, make_arch
from pipeline.nn.prune import candidate_units, min_widths, prune_to
from pipeline.ops.bshuffle import BShuffle, source_channels


def test_the_permutation_is_shufflenets():
    # 6 channels in 2 groups: blocks [0 1 2] [3 4 5] interleave to 0 3 1 4 2 5
    assert source_channels(6, 2).tolist() == [0, 3, 1, 4, 2, 5]
    assert source_channels(6, 3).tolist() == [0, 2, 4, 1, 3, 5]
    assert source_channels(5, 1).tolist() == [0, 1, 2, 3, 4]
    x = torch.arange(12.0).reshape(1, 12, 1, 1)
    assert torch.nn.ChannelShuffle(4)(x).flatten().tolist() == source_channels(12, 4).tolist()


@pytest.mark.parametrize("in_groups, out_groups", [(1, 1), (2, 3), (6, 1), (3, 2)])
def test_oracle_moves_bits_and_repacks(in_groups, out_groups):
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(3, 2, 2, 6), dtype=np.uint8)
    layer = BShuffle("s", (2, 2, 6), groups=2, in_pack_groups=in_groups)
    layer.validate(out_groups)
    out = reference.bshuffle(layer, B.pack(bits, in_groups), out_groups)
    assert out.dtype == np.uint32
    assert np.array_equal(B.unpack(out, 6, out_groups), bits[..., [0, 3, 1, 4, 2, 5]])


def test_validate_names_groups_that_do_not_divide():
    with pytest.raises(ir.ShapeError, match="cannot be shuffled in 4 groups"):
        BShuffle("s", (2, 2, 6), groups=4).validate(1)
    with pytest.raises(ir.ShapeError):
        BShuffle("s", (2, 2, 6), groups=0).validate(1)


def test_config_accepts_a_shuffle_and_names_a_bad_one(tmp_path):
    p = tmp_path / "s.yaml"
    layers = [{"conv": 16, "kernel": 3, "padding": 1, "groups": 2}, {"shuffle": 2}, {"pool": 2},
              {"conv": 16, "kernel": 3, "groups": 4}, {"shuffle": 4}]
    p.write_text(yaml.safe_dump({"model": {"layers": layers}}))
    assert load_config(p).model.layers[1] == {"shuffle": 2}
    p.write_text(yaml.safe_dump({"model": {"layers": [{"conv": 6}, {"shuffle": 4}]}}))
    with pytest.raises(ConfigError, match=r"layers\[1\].*shuffled in 4 groups"):
        load_config(p)
    p.write_text(yaml.safe_dump({"model": {"layers": [{"conv": 6}, {"shuffle": 2, "kernel": 3}]}}))
    with pytest.raises(ConfigError, match="unknown key 'kernel'"):
        load_config(p)


LAYERS = [{"conv": 16, "kernel": 3, "padding": 1, "groups": 2}, {"shuffle": 2}, {"pool": 2},
          {"conv": 16, "kernel": 3, "padding": 1, "groups": 4}, {"pool": 2}, {"dense": 24}]


def _model(seed):
    torch.manual_seed(seed)
    m = BNN(make_arch(ModelConfig(layers=LAYERS), (12, 12, 1), 10))
    for mod in m.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                mod.running_mean.normal_(0, 3)
                mod.weight.normal_()
    return m.eval()


def test_pruning_leaves_the_layer_before_a_shuffle_alone_and_stays_exact():
    m = _model(0)
    assert 0 not in min_widths(m.arch, 0.25)  # the conv the shuffle reads keeps its width
    assert {unit.layer for unit in candidate_units(m, 2, "weight", {})} == {3, 5}
    small, removed = prune_to(m, arch_bits(m.arch) * 3 // 4, 2, "weight",
                              min_widths(m.arch, 0.25))
    assert removed and small.arch["layers"][0] == m.arch["layers"][0]
    images = np.random.default_rng(1).integers(0, 256, (50, 12, 12, 1), dtype=np.uint8)
    lowered = to_ir(small.eval())
    assert [layer.kind for layer in lowered.layers][:4] == ["thermometer", "bconv2d", "bshuffle",
                                                            "bmaxpool2d"]
    assert np.array_equal(small.integer_logits(torch.from_numpy(images)).numpy(),
                          reference.run(lowered, images).logits)
