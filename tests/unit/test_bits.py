"""Bit conventions of pipeline.bits: layout, pack/unpack, popcount, binary dot product."""
import warnings

import numpy as np
import pytest

from pipeline import bits as B

SHAPES = [(1,), (5,), (31,), (32,), (33,), (64,), (65,), (100,), (3, 7), (2, 3, 4, 45),
          (4, 4, 96), (2, 1, 1, 129)]


def _cases():
    for shape in SHAPES:
        channels = shape[-1]
        for groups in range(1, 9):
            if channels % groups == 0:
                yield shape, groups


@pytest.mark.parametrize("shape,groups", list(_cases()))
def test_pack_unpack_identity_and_zero_padding(shape, groups):
    rng = np.random.default_rng([len(shape), shape[-1], groups])
    bits = rng.integers(0, 2, size=shape, dtype=np.uint8)
    words = B.pack(bits, groups)
    assert words.dtype == np.uint32
    assert words.shape == shape[:-1] + (B.words_per_pixel(shape[-1], groups),)
    assert np.array_equal(B.unpack(words, shape[-1], groups), bits)
    assert B.padding_bits_are_zero(words, shape[-1], groups)
    # all-ones input: every used bit set, every padding bit clear
    ones = B.pack(np.ones(shape, np.uint8), groups)
    assert np.array_equal(ones, np.broadcast_to(B.padding_mask(shape[-1], groups), ones.shape))


@pytest.mark.parametrize("channels,groups", [(1, 1), (33, 1), (70, 2), (96, 3), (40, 8), (7, 7)])
def test_pack_layout_is_lsb_first_per_group(channels, groups):
    """Channel g*Cg + i sits at bit i % 32 of word g*Wg + i // 32 (checked one channel at a time)."""
    cg = channels // groups
    wg = (cg + 31) // 32
    for ch in range(channels):
        g, i = divmod(ch, cg)
        one_hot = np.zeros(channels, np.uint8)
        one_hot[ch] = 1
        expected = np.zeros(groups * wg, np.uint32)
        expected[g * wg + i // 32] = np.uint32(1) << np.uint32(i % 32)
        assert np.array_equal(B.pack(one_hot, groups), expected), ch


def test_sign_convention():
    values = np.array([-3.0, -0.5, 0.0, 0.5, 2.0])
    assert np.array_equal(B.to_bits(values), [1, 1, 0, 0, 0])  # sign(0) = +1 -> bit 0
    assert np.array_equal(B.from_bits(np.array([0, 1], np.uint8)), [1, -1])


def test_padding_bits_detected():
    words = B.pack(np.zeros((2, 40), np.uint8))
    assert B.padding_bits_are_zero(words, 40)
    words[1, 1] |= np.uint32(1 << 8)  # channel 40 does not exist
    assert not B.padding_bits_are_zero(words, 40)


def test_popcount_matches_python():
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**32, size=5000, dtype=np.uint32)
    words[:3] = [0, 0xFFFFFFFF, 0x80000001]
    expected = np.array([bin(int(w)).count("1") for w in words])
    assert np.array_equal(B.popcount(words), expected)
    assert B.popcount(words.reshape(50, 100)).shape == (50, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the wrap-around multiply must not warn on scalars
        assert int(B.popcount(np.uint32(0xFFFFFFFF))) == 32


def test_binary_dot_matches_plus_minus_one_dot():
    rng = np.random.default_rng(3)
    for k in (1, 5, 32, 33, 100, 257):
        a = rng.integers(0, 2, size=(20, k), dtype=np.uint8)
        w = rng.integers(0, 2, size=(20, k), dtype=np.uint8)
        expected = (B.from_bits(a).astype(np.int64) * B.from_bits(w)).sum(axis=-1)
        assert np.array_equal(B.binary_dot(B.pack(a), B.pack(w), k), expected)


@pytest.mark.parametrize("channels,groups", [(10, 3), (0, 1), (8, 0)])
def test_bad_groups_raise_packing_error(channels, groups):
    with pytest.raises(B.PackingError):
        B.words_per_pixel(channels, groups)


def test_pack_rejects_non_bits_and_unpack_rejects_wrong_words():
    with pytest.raises(B.PackingError):
        B.pack(np.array([0, 2, 1]))
    with pytest.raises(B.PackingError):
        B.unpack(np.zeros(2, np.uint32), 32)
    with pytest.raises(B.PackingError):
        B.unpack(np.zeros(1, np.int64), 32)
