"""Bit conventions, written once (see ../shared/DESIGN.md, "Bit conventions").

Compatible with Larq Compute Engine:

* a binary value is +1 or -1; **bit 1 means -1**, bit 0 means +1; sign(0) = +1;
* activations are NHWC; the channels of one pixel are packed LSB-first into little-endian
  ``uint32`` words, *per group*: with ``C`` channels in ``G`` packing groups, each group of
  ``C // G`` channels starts a fresh word, so one pixel holds ``G * ceil(C/G / 32)`` words;
* padding bits (past the last channel of a group) are 0;
* a binary dot product over K real terms is ``K - 2 * popcount(a XOR w)`` (zero padding bits
  cancel out in the XOR).
"""
from __future__ import annotations

import numpy as np

from .errors import PipelineError

WORD_BITS = 32


class PackingError(PipelineError, ValueError):
    """Raised when a channel count, group count or word array does not fit the packing."""


def words_per_group(channels_per_group: int) -> int:
    """Number of uint32 words holding ``channels_per_group`` bits."""
    if channels_per_group <= 0:
        raise PackingError(f"channels per group must be positive, got {channels_per_group}")
    return (channels_per_group + WORD_BITS - 1) // WORD_BITS


def words_per_pixel(channels: int, groups: int = 1) -> int:
    """Words one pixel (one position of the last axis) takes when packed in ``groups`` groups."""
    _check_groups(channels, groups)
    return groups * words_per_group(channels // groups)


def _check_groups(channels: int, groups: int) -> None:
    if groups <= 0 or channels <= 0 or channels % groups:
        raise PackingError(f"{channels} channels cannot be split into {groups} equal groups")


def to_bits(values: np.ndarray) -> np.ndarray:
    """Real or +-1 values -> bits (uint8): 1 where the value is negative, so sign(0) = +1."""
    return (np.asarray(values) < 0).astype(np.uint8)


def from_bits(bits: np.ndarray) -> np.ndarray:
    """Bits -> +-1 values (int8): bit 1 -> -1, bit 0 -> +1."""
    return (1 - 2 * np.asarray(bits, dtype=np.int8)).astype(np.int8)


def pack(bits: np.ndarray, groups: int = 1) -> np.ndarray:
    """Pack the last axis (channels) of a 0/1 array into uint32 words, per group.

    ``bits[..., C]`` -> ``words[..., G * ceil(C/G/32)]``, channel ``g*(C/G) + i`` at bit ``i % 32``
    of word ``g*Wg + i // 32``.
    """
    bits = np.asarray(bits)
    if bits.ndim == 0:
        raise PackingError("cannot pack a scalar")
    channels = bits.shape[-1]
    _check_groups(channels, groups)
    if bits.size and (bits.min() < 0 or bits.max() > 1):
        raise PackingError("pack() takes bits (0 or 1); convert +-1 values with to_bits() first")
    cg = channels // groups
    wg = words_per_group(cg)
    lead = bits.shape[:-1]
    padded = np.zeros(lead + (groups, wg * WORD_BITS), dtype=np.uint64)
    padded[..., :cg] = bits.reshape(lead + (groups, cg))
    padded = padded.reshape(lead + (groups, wg, WORD_BITS))
    weights = np.left_shift(np.uint64(1), np.arange(WORD_BITS, dtype=np.uint64))
    words = (padded * weights).sum(axis=-1).astype(np.uint32)
    return words.reshape(lead + (groups * wg,))


def unpack(words: np.ndarray, channels: int, groups: int = 1) -> np.ndarray:
    """Inverse of :func:`pack`: ``words[..., G*Wg]`` -> bits ``uint8[..., channels]``."""
    words = np.asarray(words)
    if words.dtype != np.uint32:
        raise PackingError(f"packed words must be uint32, got {words.dtype}")
    _check_groups(channels, groups)
    cg = channels // groups
    wg = words_per_group(cg)
    if words.shape[-1] != groups * wg:
        raise PackingError(
            f"expected {groups * wg} words per pixel for {channels} channels in {groups} groups, "
            f"got {words.shape[-1]}")
    lead = words.shape[:-1]
    w = words.reshape(lead + (groups, wg, 1))
    shifts = np.arange(WORD_BITS, dtype=np.uint32)
    bits = ((w >> shifts) & np.uint32(1)).astype(np.uint8)
    bits = bits.reshape(lead + (groups, wg * WORD_BITS))[..., :cg]
    return bits.reshape(lead + (channels,))


def padding_mask(channels: int, groups: int = 1) -> np.ndarray:
    """uint32 mask of the *used* bits of each word of one packed pixel (padding bits are 0)."""
    return pack(np.ones(channels, dtype=np.uint8), groups)


def padding_bits_are_zero(words: np.ndarray, channels: int, groups: int = 1) -> bool:
    """True when every padding bit of a packed array is 0."""
    mask = padding_mask(channels, groups)
    return not np.any(np.asarray(words, dtype=np.uint32) & ~mask)


_M1 = np.uint32(0x55555555)
_M2 = np.uint32(0x33333333)
_M4 = np.uint32(0x0F0F0F0F)
_H01 = np.uint32(0x01010101)


def popcount(words: np.ndarray) -> np.ndarray:
    """Per-element population count of a uint32 array (SWAR, exact), as int64."""
    words = np.asarray(words, dtype=np.uint32)
    # Work on a 1-d array: numpy scalars (what 0-d arithmetic returns) warn on the intended
    # wrap-around of the multiply below; arrays do not.
    x = words.reshape(-1)
    x = x - ((x >> np.uint32(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint32(2)) & _M2)
    x = (x + (x >> np.uint32(4))) & _M4
    return ((x * _H01) >> np.uint32(24)).astype(np.int64).reshape(words.shape)


def binary_dot(a_words: np.ndarray, w_words: np.ndarray, k: int) -> np.ndarray:
    """``K - 2*popcount(a XOR w)`` summed over the last axis (int64)."""
    x = np.bitwise_xor(np.asarray(a_words, np.uint32), np.asarray(w_words, np.uint32))
    return k - 2 * popcount(x).sum(axis=-1)
