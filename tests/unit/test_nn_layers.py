"""Binary layers: BN folding is exact on every integer dot, one-padding, fixed-point logits."""
import numpy as np
import pytest
import torch

from pipeline.nn.layers import BinaryConv2d, BinaryDense, fold_bn_sign


def _bn(n, seed, gamma=None):
    g = torch.Generator().manual_seed(seed)
    bn = torch.nn.BatchNorm1d(n)
    with torch.no_grad():
        bn.weight.copy_(torch.randn(n, generator=g) if gamma is None else gamma)
        bn.bias.copy_(torch.randn(n, generator=g))
        bn.running_mean.copy_(torch.randn(n, generator=g) * 6)
        bn.running_var.copy_(torch.rand(n, generator=g) * 20 + 0.1)
    return bn.eval()


@pytest.mark.parametrize("seed", range(5))
def test_fold_equals_float_bn_sign_on_every_dot(seed):
    k = 27
    bn = _bn(16, seed)
    threshold, flip = fold_bn_sign(bn, k)
    dots = torch.arange(-k, k + 1, dtype=torch.float64)[:, None].expand(-1, 16)
    z = (dots - bn.running_mean.double()) / torch.sqrt(bn.running_var.double() + bn.eps) \
        * bn.weight.double() + bn.bias.double()
    want = (z >= 0).numpy()
    got = (dots.numpy() >= threshold) != flip.astype(bool)
    assert np.array_equal(got, want)
    assert threshold.min() >= -k and threshold.max() <= k + 1


def test_negative_gamma_flips_and_zero_gamma_is_constant():
    gamma = torch.tensor([2.0, -2.0, 0.0, 0.0])
    bn = _bn(4, 0, gamma)
    with torch.no_grad():
        bn.bias.copy_(torch.tensor([0.5, 0.5, 0.3, -0.3]))
    threshold, flip = fold_bn_sign(bn, 9)
    assert flip.tolist() == [0, 1, 0, 0]
    assert threshold[2] == -9 and threshold[3] == 10  # always +1 / always -1


def test_one_padding():
    conv = BinaryConv2d(2, 1, 3, padding=1)
    with torch.no_grad():
        conv.latent_weight.fill_(0.5)  # all weights +1
    x = -torch.ones(1, 2, 4, 4)
    dot = conv.dot(x)
    # corner: 4 real taps (-1) and 5 padded (+1) per channel -> 2 * (5 - 4)
    assert dot[0, 0, 0, 0].item() == 2 and dot[0, 0, 1, 1].item() == -18


def test_grouped_conv_reads_its_group():
    conv = BinaryConv2d(4, 2, 1, groups=2)
    with torch.no_grad():
        conv.latent_weight.fill_(1.0)
    x = torch.tensor([1.0, 1.0, -1.0, -1.0]).view(1, 4, 1, 1)
    assert conv.dot(x).flatten().tolist() == [2.0, -2.0]


def test_eval_forward_uses_folded_thresholds():
    conv = BinaryConv2d(3, 5, 3, padding=1)
    conv.bn = torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        conv.bn.running_mean.uniform_(-5, 5)
        conv.bn.weight.normal_()
    conv.eval()
    x = torch.where(torch.rand(2, 3, 6, 6) < 0.5, 1.0, -1.0)
    out = conv(x)
    threshold, flip = conv.folded()
    dot = conv.dot(x).detach().numpy()
    want = (dot >= threshold[None, :, None, None]) != flip[None, :, None, None].astype(bool)
    assert np.array_equal(out.numpy() == 1, want)


def test_fixed_point_logits_do_not_overflow_and_track_float():
    dense = BinaryDense(300, 10, output=True)
    dense.bn = _bn(10, 3)
    mult, bias, shift = dense.fixed_point()
    k = 300
    assert np.all(k * np.abs(mult) + np.abs(bias) <= 2**31 - 1)
    dots = torch.arange(-k, k + 1, 2, dtype=torch.float32)[:, None].expand(-1, 10)
    float_logits = dense.bn(dots).detach().double().numpy()
    int_logits = dots.numpy().astype(np.int64) * mult + bias
    assert np.allclose(int_logits / 2.0**shift, float_logits, atol=1e-3)
