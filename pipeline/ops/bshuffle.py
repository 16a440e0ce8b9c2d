"""Layer kind ``bshuffle``: ShuffleNet's channel shuffle on binary activations, so that the
groups of the next grouped conv mix the groups of the previous one.

IR: ``groups`` G dividing C; the C channels are read as G blocks of C/G and interleaved: output
channel ``o`` is input channel ``(o % G) * (C/G) + o // G`` (torch's ``nn.ChannelShuffle``).
Shape and values are unchanged, only the channel order (and the packing: the input is read in
``in_pack_groups``, the output written in the next layer's packing). No weights, no MACs.
Config: ``{shuffle: G}``. Torch: ``nn.ChannelShuffle(G)``. C kernel: ``bnn_bshuffle.c``.
Pruning: not prunable; the layer before a shuffle is not pruned either (its channels would
have to leave every shuffle block evenly).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import bits as B
from .. import ir
from .. import reference as R
from .. import random_ir
from . import LayerOp, OpError, register


tf = None  # TensorFlow, set on first use by the tflite part


@dataclass(frozen=True, eq=False)
class BShuffle(ir.Layer):
    name: str
    in_shape: tuple[int, int, int]
    groups: int
    in_pack_groups: int = 1
    kind = "bshuffle"
    ARRAYS = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_shape", ir.tuple3(self.in_shape))

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return self.in_shape

    def bits(self) -> dict[str, int]:
        return {"weights": 0, "params": 0}

    def validate(self, out_pack_groups: int) -> None:
        c = self.in_shape[2]
        if self.groups < 1 or c % self.groups:
            raise ir.ShapeError(f"{self.name}: {c} channels cannot be shuffled in "
                                f"{self.groups} groups")
        if self.in_pack_groups < 1:
            raise ir.ShapeError(f"{self.name}: in_pack_groups must be positive")
        B.words_per_pixel(c, self.in_pack_groups)
        B.words_per_pixel(c, out_pack_groups)


def source_channels(channels: int, groups: int) -> np.ndarray:
    """int64[C]: the input channel each output channel takes, ``(o % G) * (C/G) + o // G``."""
    o = np.arange(channels)
    return (o % groups) * (channels // groups) + o // groups


class BShuffleOp(LayerOp):
    kind = "bshuffle"
    layer = BShuffle
    config_key = "shuffle"
    config_keys = frozenset({"shuffle"})
    prune_narrows_inputs = False

    def oracle(self, layer: BShuffle, x: np.ndarray, out_pack_groups: int) -> np.ndarray:
        """uint32[N, H, W, words(C, in_pack_groups)] -> the same values, channels shuffled,
        packed in ``out_pack_groups``."""
        h, w, c = layer.in_shape
        x = R.check_input(x, np.uint32, (h, w, B.words_per_pixel(c, layer.in_pack_groups)),
                          layer.name)
        bits = B.unpack(x, c, layer.in_pack_groups)  # uint8[N, H, W, C], bit 1 = -1
        return B.pack(bits[..., source_channels(c, layer.groups)], out_pack_groups)

    def onnx(self, g, layer: BShuffle, x: str) -> str:
        # NCHW: [N, G, C/G, H, W] -> swap the two channel axes -> [N, C, H, W]
        h, w, c = layer.in_shape
        blocks = g.op("Reshape", [x, g.const("shape", np.array([0, layer.groups,
                                                                 c // layer.groups, h, w],
                                                                np.int64))],
                      layer.name + "_blocks")
        swapped = g.op("Transpose", [blocks], layer.name + "_swap", perm=[0, 2, 1, 3, 4])
        return g.op("Reshape", [swapped, g.const("shape", np.array([0, c, h, w], np.int64))],
                    layer.name)

    def tflite(self, keras, lq, layer: BShuffle, x):
        """A GATHER on the channel axis of the float activations (their signs are the bits)."""
        from ..export import tflite as T
        global tf
        tf = T._tf()  # a module global, so the Keras Lambdas below can be saved
        order = source_channels(layer.in_shape[2], layer.groups).astype(np.int32)
        return keras.layers.Lambda(lambda t: tf.gather(t, order, axis=-1), name=layer.name)(x)

    def tflite_report(self, layer: BShuffle) -> dict:
        return {"tflite": "GATHER on the channel axis (float activations)",
                "why_not_lce": "LCE has no channel-shuffle op; the permutation runs on the "
                               "float signs before the next LceQuantize"}

    def lce_bconv_ops(self, layer: BShuffle) -> int:
        return 0

    def c_params_type(self, layer: BShuffle) -> str:
        return "bnn_bshuffle_params"

    def scratch_bytes(self, layer: BShuffle) -> int:
        return 0

    def random_layer(self, rng, in_shape, name):
        c = in_shape[2]
        groups = [g for g in range(2, 9) if c % g == 0] or [1]
        return BShuffle(name=name, in_shape=in_shape, groups=int(rng.choice(groups)),
                        in_pack_groups=random_ir.random_divisor(rng, c))

    # --- config and torch -----------------------------------------------------------------
    def normalise(self, spec: dict) -> dict:
        return {"shuffle": spec["shuffle"]}

    def arch_shape(self, spec, in_shape, index):
        from ..nn.arch import ArchitectureError
        if in_shape[2] % spec["shuffle"]:
            raise ArchitectureError(f"layers[{index}]: {in_shape[2]} channels cannot be "
                                    f"shuffled in {spec['shuffle']} groups", index)
        return in_shape

    def skeleton(self, spec, in_shape):
        return None  # stores nothing

    def torch_module(self, spec, in_shape):
        from torch import nn
        return nn.ChannelShuffle(spec["shuffle"])

    def lower(self, name, module, spec, in_shape) -> BShuffle:
        return BShuffle(name=name, in_shape=in_shape, groups=spec["shuffle"])

    def example_layers(self) -> list[dict]:
        return [{"conv": 6, "kernel": 3, "padding": 1, "groups": 2}, {"shuffle": 2},
                {"conv": 6, "kernel": 1, "groups": 3}, {"shuffle": 3}, {"dense": 4}]

    def prune_groups(self, spec: dict) -> int:
        return spec["shuffle"]

    def prune_reader_weight(self, module, weight, keep, in_shape):
        raise OpError("bshuffle cannot lose input channels (prune_narrows_inputs is False)")


register(BShuffleOp())
