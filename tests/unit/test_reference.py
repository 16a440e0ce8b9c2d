"""The oracle (pipeline.reference) against an independent float computation.

The independent side works on +-1 values in torch float64 (exact for these small integers): plain
F.conv2d / F.max_pool2d / matmul, one-padding with F.pad(value=1), then the integer compare with
flip. It shares nothing with the oracle but the unpacking of the inputs (pipeline.bits.unpack,
pinned down by tests/unit/test_bits.py).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pipeline import bits as B
from pipeline import ir
from pipeline import random_ir as R
from pipeline import reference as O

CASES = 250


# --- the independent computation, on +-1 float arrays (NHWC) ---------------------------------

def plus_minus(packed, channels, groups=1):
    """Packed words -> +-1 float64 values (bit 1 = -1)."""
    return 1.0 - 2.0 * B.unpack(packed, channels, groups).astype(np.float64)


def compare(dot, threshold, flip):
    """+1 where (dot >= threshold) XOR flip, else -1; dot must be exact integers."""
    dot = np.rint(dot).astype(np.int64)
    plus = (dot >= threshold.astype(np.int64)) != flip.astype(bool)
    return np.where(plus, 1.0, -1.0)


def float_thermometer(layer, images):
    n, h, w, c = images.shape
    out = np.empty((n, h, w, c * layer.planes))
    for ch in range(c):
        for k in range(layer.planes):
            if layer.mode == "thresholds":
                on = images[..., ch].astype(int) >= int(layer.thresholds[ch, k])
            else:
                on = (images[..., ch].astype(int) // 2 ** (7 - k)) % 2 == 1
            out[..., ch * layer.planes + k] = np.where(on, 1.0, -1.0)
    return out


def float_bconv2d(layer, x):
    cg = layer.in_shape[2] // layer.groups
    weights = plus_minus(layer.weights, cg)  # [Cout, kh, kw, Cg]
    p = layer.padding
    xt = F.pad(torch.from_numpy(x).permute(0, 3, 1, 2), (p, p, p, p), value=1.0)
    dot = F.conv2d(xt, torch.from_numpy(weights).permute(0, 3, 1, 2), stride=layer.stride,
                   groups=layer.groups)
    return compare(dot.permute(0, 2, 3, 1).numpy(), layer.threshold, layer.flip)


def float_bmaxpool2d(layer, x):
    out = F.max_pool2d(torch.from_numpy(x).permute(0, 3, 1, 2), layer.kernel, layer.stride)
    return out.permute(0, 2, 3, 1).numpy()


def float_bdense(layer, x):
    h, w, c = layer.in_shape
    wpp = B.words_per_pixel(c, layer.in_pack_groups)
    weights = plus_minus(layer.weights.reshape(layer.out_features, h, w, wpp), c,
                         layer.in_pack_groups)
    dot = torch.from_numpy(x.reshape(len(x), -1)) @ torch.from_numpy(
        weights.reshape(layer.out_features, -1)).T
    dot = dot.numpy()
    if layer.output:
        return np.rint(dot).astype(np.int64) * layer.mult.astype(np.int64) + layer.bias
    return compare(dot, layer.threshold, layer.flip).reshape(len(x), 1, 1, -1)


FLOAT_LAYERS = {"thermometer": float_thermometer, "bconv2d": float_bconv2d,
                "bmaxpool2d": float_bmaxpool2d, "bdense": float_bdense}


def assert_packed_equals(words, expected_pm, groups):
    """Oracle output words == the +-1 values, packed in ``groups``; padding bits 0."""
    channels = expected_pm.shape[-1]
    assert words.dtype == np.uint32
    assert words.shape == expected_pm.shape[:-1] + (B.words_per_pixel(channels, groups),)
    assert B.padding_bits_are_zero(words, channels, groups)
    assert np.array_equal(B.unpack(words, channels, groups), (expected_pm < 0).astype(np.uint8))


def divisors(n, largest=8):
    return [g for g in range(1, largest + 1) if n % g == 0]


# --- per-layer tests ---------------------------------------------------------------------------

def random_conv_case(rng):
    groups = int(rng.integers(1, 9))
    cg = int(rng.choice([rng.integers(1, 33), rng.integers(33, 80)]))
    cout = groups * int(rng.integers(1, 6))
    padding = int(rng.integers(0, 3))
    kh, kw = (int(rng.choice([1, 3, 5])) for _ in range(2))
    if rng.random() < 0.6:
        kw = kh
    h = int(rng.integers(max(1, kh - 2 * padding), 10))
    w = int(rng.integers(max(1, kw - 2 * padding), 10))
    layer = R.random_bconv2d(rng, (h, w, groups * cg), cout, (kh, kw), int(rng.integers(1, 4)),
                             padding, groups)
    return layer, int(rng.choice(divisors(cout))), int(rng.integers(1, 4))


def test_bconv2d_matches_float_convolution():
    rng = np.random.default_rng(101)
    saw_plus_and_minus = 0
    for case in range(CASES):
        layer, out_groups, n = random_conv_case(rng)
        x = R.random_activations(rng, n, layer.in_shape, layer.groups)
        got = O.bconv2d(layer, x, out_groups)
        expected = float_bconv2d(layer, plus_minus(x, layer.in_shape[2], layer.groups))
        assert expected.shape[1:] == layer.out_shape, case
        assert_packed_equals(got, expected, out_groups)
        saw_plus_and_minus += len(np.unique(expected)) == 2
    assert saw_plus_and_minus > CASES // 2  # realistic thresholds: outputs are not constant


def test_bconv2d_one_padding_counts_weight_bits():
    """A 3x3 conv over an all -1 input with padding 1: the corner sees 4 real taps and 5 +1 taps."""
    layer = ir.BConv2d(name="c", in_shape=(3, 3, 1), out_channels=1, kernel=(3, 3), stride=1,
                       padding=1, groups=1, weights=B.pack(np.zeros((1, 3, 3, 1), np.uint8)),
                       threshold=np.array([0]), flip=np.array([0]))
    x = B.pack(np.ones((1, 3, 3, 1), np.uint8))  # all -1
    expected = float_bconv2d(layer, plus_minus(x, 1))
    # all-+1 weights: corner dot = 5 - 4 = +1 (>= 0, +1), centre dot = -9 (-1)
    assert expected[0, 0, 0, 0] == 1 and expected[0, 1, 1, 0] == -1
    assert_packed_equals(O.bconv2d(layer, x), expected, 1)


def test_bdense_matches_float_matmul():
    rng = np.random.default_rng(202)
    for case in range(CASES):
        h, w = (int(v) for v in rng.integers(1, 5, size=2))
        pack_groups = int(rng.integers(1, 9))
        c = pack_groups * int(rng.integers(1, 40))
        output = bool(case % 2)
        features = int(rng.integers(1, 40))
        layer = R.random_bdense(rng, (h, w, c), features, output, pack_groups)
        x = R.random_activations(rng, int(rng.integers(1, 5)), (h, w, c), pack_groups)
        expected = float_bdense(layer, plus_minus(x, c, pack_groups))
        if output:
            got = O.bdense(layer, x)
            assert got.dtype == np.int32
            assert np.array_equal(got.astype(np.int64), expected), case
        else:
            out_groups = int(rng.choice(divisors(features)))
            assert_packed_equals(O.bdense(layer, x, out_groups), expected, out_groups)


def test_bmaxpool2d_matches_float_maxpool():
    rng = np.random.default_rng(303)
    for case in range(CASES):
        groups = int(rng.integers(1, 9))
        c = groups * int(rng.integers(1, 45))
        kernel = int(rng.integers(1, 4))
        h, w = (int(v) for v in rng.integers(kernel, 10, size=2))
        layer = R.random_bmaxpool2d((h, w, c), kernel, int(rng.integers(1, 4)), groups)
        # sparse -1s so that both outcomes occur under the AND
        bits = (rng.random((int(rng.integers(1, 4)), h, w, c)) < 0.8).astype(np.uint8)
        x = B.pack(bits, groups)
        expected = float_bmaxpool2d(layer, plus_minus(x, c, groups))
        assert expected.shape[1:] == layer.out_shape, case
        assert_packed_equals(O.bmaxpool2d(layer, x), expected, groups)


@pytest.mark.parametrize("mode", ["thresholds", "base2"])
def test_thermometer_matches_definition(mode):
    rng = np.random.default_rng(404 if mode == "base2" else 405)
    for case in range(60):
        c = int(rng.choice([1, 3]))
        planes = int(rng.integers(1, 9 if mode == "base2" else 17))
        layer = R.random_thermometer(rng, (int(rng.integers(1, 8)), int(rng.integers(1, 8)), c),
                                     planes, mode)
        images = R.random_images(case, int(rng.integers(1, 4)), layer.in_shape)
        images.flat[:2] = [0, 255]
        out_groups = int(rng.choice(divisors(c * planes)))
        expected = float_thermometer(layer, images)
        assert_packed_equals(O.thermometer(layer, images, out_groups), expected, out_groups)


def test_thermometer_edge_thresholds():
    """pixel >= T: T = 0 is always +1, T = 256 never, T = p exactly is +1."""
    layer = ir.Thermometer(name="t", in_shape=(1, 3, 1), planes=3, mode="thresholds",
                           thresholds=np.array([[0, 128, 256]]))
    images = np.array([[[[0], [128], [255]]]], np.uint8)
    got = B.unpack(O.thermometer(layer, images, 1), 3)
    # bit 1 = -1; rows: pixel 0 -> (+1, -1, -1), 128 -> (+1, +1, -1), 255 -> (+1, +1, -1)
    assert np.array_equal(got[0, 0], [[0, 1, 1], [0, 0, 1], [0, 0, 1]])


# --- argmax and whole models -------------------------------------------------------------------

def test_argmax_ties_go_to_lowest_index():
    rng = np.random.default_rng(5)
    logits = rng.integers(-3, 3, size=(500, 7)).astype(np.int32)  # many ties
    expected = [min(i for i, v in enumerate(row) if v == row.max()) for row in logits]
    got = O.argmax(logits)
    assert got.dtype == np.int64
    assert np.array_equal(got, expected)
    assert np.array_equal(O.argmax(np.zeros((2, 4), np.int32)), [0, 0])


def float_run(model, images):
    """The whole model in the +-1 float domain, layer by layer; returns every layer's output."""
    x, outs = images, []
    for layer in model.layers:
        x = FLOAT_LAYERS[layer.kind](layer, x)
        outs.append(x)
    return outs


@pytest.mark.parametrize("seed", range(40))
def test_run_matches_float_model(seed):
    model = R.random_model(seed) if seed % 2 else R.small_model(seed)
    images = R.random_images(seed, 5, model.input_shape)
    result = O.run(model, images, keep_activations=True)
    expected = float_run(model, images)
    assert np.array_equal(result.logits.astype(np.int64), expected[-1])
    assert result.logits.dtype == np.int32 and result.classes.dtype == np.int64
    assert np.array_equal(result.classes, O.argmax(result.logits))
    for i, (got, want) in enumerate(zip(result.activations[:-1], expected[:-1])):
        assert_packed_equals(got, want, model.out_pack_groups(i))


def test_run_in_chunks_equals_run_at_once(monkeypatch):
    model = R.random_model(11, conv_layers=2)
    images = R.random_images(11, 9, model.input_shape)
    whole = O.run(model, images, keep_activations=True)
    monkeypatch.setattr(O, "RUN_CHUNK_IMAGES", 2)
    monkeypatch.setattr(O, "CHUNK_WORDS", 1)
    chunked = O.run(model, images, keep_activations=True)
    assert np.array_equal(whole.logits, chunked.logits)
    assert all(np.array_equal(a, b) for a, b in zip(whole.activations, chunked.activations))
    assert O.run(model, images).activations is None


def test_bad_inputs_raise_named_errors():
    model = R.small_model(1)
    with pytest.raises(O.OracleInputError):
        O.run(model, R.random_images(1, 2, model.input_shape).astype(np.int32))
    h, w, c = model.input_shape
    with pytest.raises(O.OracleInputError):
        O.run(model, R.random_images(1, 2, (h + 1, w, c)))
    with pytest.raises(O.OracleInputError):
        O.argmax(np.zeros((2, 3), np.float32))
