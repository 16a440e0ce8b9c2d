"""Encodings: eval forward equals the IR's definition (the oracle) on every pixel code."""
import numpy as np
import pytest
import torch

from pipeline import bits as B
from pipeline import ir, reference
from pipeline.nn.thermometer import (GLT, Base2Planes, QuantileThermometer, UniformThermometer,
                                     fix_integer_thresholds, spread, tone_curve,
                                     uniform_thresholds)

ALL_CODES = np.arange(256, dtype=np.uint8)


def _all_pixels(channels):
    # every code in every channel, shifted per channel so channels differ: [1, 16, 16, C]
    cols = [np.roll(ALL_CODES, 37 * c) for c in range(channels)]
    return np.stack(cols, -1).reshape(1, 16, 16, channels)


def _oracle_planes(enc, images):
    layer = ir.Thermometer("t", images.shape[1:], enc.planes, enc.mode,
                           enc.integer_thresholds().astype(np.int32), enc.kind)
    words = reference.thermometer(layer, images, 1)
    return B.from_bits(B.unpack(words, layer.out_shape[2]))  # +-1, NHWC


def _torch_planes(enc, images):
    enc.eval()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return enc(x).permute(0, 2, 3, 1).numpy().astype(np.int8)


def _random_glt(channels, planes, shared, seed):
    torch.manual_seed(seed)
    g = GLT(channels, planes, shared=shared)
    with torch.no_grad():
        g.offset.uniform_(-0.2, 0.6)
        g.raw_increments.normal_(-3, 2)
    return g


@pytest.mark.parametrize("channels, planes, shared, seed",
                         [(1, 8, False, 0), (3, 5, False, 1), (3, 4, True, 2), (2, 16, False, 3),
                          (1, 1, False, 4)])
def test_glt_eval_equals_oracle(channels, planes, shared, seed):
    g = _random_glt(channels, planes, shared, seed)
    images = _all_pixels(channels)
    assert np.array_equal(_torch_planes(g, images), _oracle_planes(g, images))


@pytest.mark.parametrize("enc", [UniformThermometer(3, 7), Base2Planes(3, 8), Base2Planes(1, 3)],
                         ids=["uniform", "base2", "base2-3"])
def test_fixed_encodings_equal_oracle(enc):
    images = _all_pixels(enc.channels)
    assert np.array_equal(_torch_planes(enc, images), _oracle_planes(enc, images))


def test_channel_order_is_c_times_m_plus_k():
    enc = UniformThermometer(2, 3)
    img = np.zeros((1, 1, 1, 2), np.uint8)
    img[..., 1] = 255  # channel 1 all planes on, channel 0 all off
    out = _torch_planes(enc, img)[0, 0, 0]
    assert out.tolist() == [-1, -1, -1, 1, 1, 1]


def test_base2_plane_k_is_bit_7_minus_k():
    out = _torch_planes(Base2Planes(1, 8), np.full((1, 1, 1, 1), 0b10100001, np.uint8))[0, 0, 0]
    assert out.tolist() == [1, -1, 1, -1, -1, -1, -1, 1]


def test_glt_thresholds_sorted_by_construction():
    for seed in range(20):
        g = _random_glt(3, 8, False, seed)
        t = g.thresholds().detach().numpy()
        assert np.all(np.diff(t, axis=1) >= 1.0 - 1e-4)
        ti = g.integer_thresholds()
        assert np.all(np.diff(ti, axis=1) >= 1) and ti.min() >= 0 and ti.max() <= 256


def test_fix_integer_thresholds():
    t = np.array([[-5, -3, 0, 0, 300], [250, 251, 260, 270, 280]])
    fixed = fix_integer_thresholds(t)
    assert fixed.tolist() == [[0, 1, 2, 3, 256], [250, 251, 254, 255, 256]]


def test_uniform_thresholds_and_tone_curve():
    t = uniform_thresholds(3)
    assert t.tolist() == [64, 128, 192]
    curve = tone_curve(t)
    assert curve[63] == 0 and curve[64] == 1 and curve[255] == 3


def test_quantile_init():
    g = GLT(1, 3)
    px = np.repeat(np.arange(100, dtype=np.uint8), 10).reshape(-1, 1, 1, 1)
    g.init_from_data(px)
    q = np.quantile(np.arange(100), [0.25, 0.5, 0.75])
    assert np.allclose(g.thresholds().detach().numpy()[0], q + 0.5, atol=1e-3)


def test_quantile_init_spreads_a_dominant_value():
    g = GLT(1, 8)
    px = np.zeros((1000, 1, 1, 1), np.uint8)
    px[:100] = np.arange(100, 200).reshape(-1, 1, 1, 1)  # 90 % black background
    g.init_from_data(px)
    t = g.thresholds().detach().numpy()[0]
    gap = 255 / (4 * 9)
    assert np.all(np.diff(t) >= gap - 1e-3) and t[0] >= 0.5 - 1e-4 and t[-1] <= 254.5 + 1e-3


@pytest.mark.parametrize("surrogate", ["ste", "soft"])
def test_gradient_reaches_thresholds(surrogate):
    g = GLT(1, 4, surrogate=surrogate)
    g.train()
    x = torch.arange(256.0).view(1, 1, 16, 16)
    g(x).sum().backward()
    assert g.offset.grad is not None and g.offset.grad.abs().sum() > 0
    assert g.raw_increments.grad.abs().sum() > 0


def test_soft_surrogate_anneals_to_hard_step():
    g = GLT(1, 4, surrogate="soft", temperature=(16.0, 1e-3))
    x = torch.arange(256.0).view(1, 1, 16, 16) + 0.25  # away from the thresholds
    g.train()
    g.set_progress(0.0)
    soft = g(x)
    g.set_progress(1.0)
    annealed = g(x)
    t = g.thresholds().detach().view(1, 1, 4, 1, 1)
    hard = torch.where(x.unsqueeze(2) >= t, 1.0, -1.0).reshape(annealed.shape)
    assert not torch.equal(soft.sign(), soft)  # a soft step at the start
    assert torch.allclose(annealed, hard, atol=1e-3)


def test_spread_keeps_order_and_bounds():
    t = spread(np.array([[0.5, 0.5, 0.5, 254.0, 254.0]]), 10.0)
    assert np.all(np.diff(t) >= 10 - 1e-9) and t.max() <= 254.5 and t.min() >= 0


def _quantile_data():
    # channel 0: every code equally often; channel 1: 90 % zeros (a black background), then
    # 10 % spread over 100..199 -> the three quartile thresholds of channel 1 all fall on 0
    c0 = np.tile(ALL_CODES, 10)
    c1 = np.concatenate([np.zeros(2304, np.uint8), np.repeat(np.arange(100, 200, dtype=np.uint8),
                                                              256 * 10 // 100 - 0)[:256]])
    return np.stack([c0, c1], -1).reshape(10, 16, 16, 2)


def test_quantile_thermometer_sits_at_the_data_quantiles():
    enc = QuantileThermometer(2, 3)
    assert np.array_equal(enc.integer_thresholds(), np.tile(uniform_thresholds(3), (2, 1)))
    images = _quantile_data()
    enc.init_from_data(images)
    t = enc.integer_thresholds()
    # channel 0: quartiles of 0..255 are 63.75, 127.5, 191.25; +0.5 then ceil
    assert t[0].tolist() == [65, 128, 192]
    assert t[0].tolist() == np.ceil(np.quantile(np.arange(256), [.25, .5, .75]) + 0.5).tolist()
    # channel 1: all three quartiles are 0 -> 0.5, pushed apart by 255 / 16 -> ceil
    assert t[1].tolist() == [1, 17, 33]
    # fraction of channel-0 pixels each plane turns on: 3/4, 1/2, 1/4 of the histogram
    on = (images[..., 0].reshape(-1, 1) >= t[0]).mean(0)
    assert np.allclose(on, [191 / 256, 128 / 256, 64 / 256])
    shared = QuantileThermometer(2, 3, shared=True)
    shared.init_from_data(images)
    st = shared.integer_thresholds()
    assert np.array_equal(st[0], st[1])
    flat = images.reshape(-1).astype(np.float64)
    want = np.ceil(spread(np.quantile(flat, [.25, .5, .75])[None] + 0.5, 255 / 16))
    assert st[0].tolist() == want[0].tolist()


def test_quantile_thermometer_has_no_parameters_and_equals_oracle():
    enc = QuantileThermometer(2, 3)
    enc.init_from_data(_quantile_data())
    assert list(enc.parameters()) == []  # nothing an optimizer could move
    assert "fixed" in enc.state_dict()  # saved with the model
    images = _all_pixels(2)
    assert np.array_equal(_torch_planes(enc, images), _oracle_planes(enc, images))
    enc.train()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    assert torch.equal(enc(x), enc.eval()(x))  # no surrogate: training forward is the hard step
