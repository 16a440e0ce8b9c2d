"""Layer kind ``bmaxpool2d``: max-pool of +-1 values, i.e. the AND of the bits.

IR: ``kernel``, ``stride`` (square), no padding, floor output size; the packing is kept
(``in_pack_groups`` is that of the layer after it, set by :func:`pipeline.ir.settle_packing`).
Config: ``{pool: k, stride: k}``. Torch: ``nn.MaxPool2d`` (sign is monotone, so max of the
+-1 values is exact). C kernel: ``bnn_bmaxpool2d.c``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import bits as B
from .. import ir
from .. import reference as R
from . import LayerOp, register


@dataclass(frozen=True, eq=False)
class BMaxPool2d(ir.Layer):
    name: str
    in_shape: tuple[int, int, int]
    kernel: int
    stride: int
    in_pack_groups: int = 1
    kind = "bmaxpool2d"
    ARRAYS = ()
    keeps_packing = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_shape", ir.tuple3(self.in_shape))

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.in_shape
        return ((h - self.kernel) // self.stride + 1, (w - self.kernel) // self.stride + 1, c)

    def bits(self) -> dict[str, int]:
        return {"weights": 0, "params": 0}

    def validate(self, out_pack_groups: int) -> None:
        h, w, c = self.in_shape
        if self.kernel < 1 or self.stride < 1 or self.kernel > min(h, w):
            raise ir.ShapeError(f"{self.name}: bad pooling kernel {self.kernel} / stride "
                                f"{self.stride} for input {self.in_shape}")
        if self.in_pack_groups != out_pack_groups:
            raise ir.ShapeError(f"{self.name}: max-pool keeps its packing: in_pack_groups "
                                f"{self.in_pack_groups} must equal the next layer's "
                                f"{out_pack_groups}")
        B.words_per_pixel(c, self.in_pack_groups)


def random_bmaxpool2d(in_shape: tuple[int, int, int], kernel: int, stride: int,
                      in_pack_groups: int = 1, name: str = "pool") -> BMaxPool2d:
    """A max-pool of the given geometry (it has no random parameters)."""
    return BMaxPool2d(name=name, in_shape=in_shape, kernel=kernel, stride=stride,
                      in_pack_groups=in_pack_groups)


class BMaxPool2dOp(LayerOp):
    kind = "bmaxpool2d"
    layer = BMaxPool2d
    config_key = "pool"
    config_keys = frozenset({"pool", "stride"})
    prune_transparent = True

    def oracle(self, layer: BMaxPool2d, x: np.ndarray, out_pack_groups: int = 1) -> np.ndarray:
        """Max of +-1 values is +1 unless all are -1: the AND of the bits (packing unchanged)."""
        h, w, c = layer.in_shape
        x = R.check_input(x, np.uint32, (h, w, B.words_per_pixel(c, layer.in_pack_groups)),
                          layer.name)
        oh, ow, _ = layer.out_shape
        k, s = layer.kernel, layer.stride
        out = np.full((len(x), oh, ow, x.shape[-1]), 0xFFFFFFFF, dtype=np.uint32)
        for i in range(k):
            for j in range(k):
                out &= x[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]
        return out

    def onnx(self, g, layer: BMaxPool2d, x: str) -> str:
        # max of +-1 values = AND of bits; no padding, floor output size (ONNX's defaults)
        return g.op("MaxPool", [x], layer.name, kernel_shape=[layer.kernel] * 2,
                    strides=[layer.stride] * 2)

    def tflite(self, keras, lq, layer: BMaxPool2d, x):
        return keras.layers.MaxPool2D(layer.kernel, layer.stride, name=layer.name)(x)

    def tflite_report(self, layer: BMaxPool2d) -> dict:
        return {"tflite": "MaxPool2D (LceBMaxPool2d where the converter bitpacks it)"}

    def lce_bconv_ops(self, layer: BMaxPool2d) -> int:
        return 0

    def c_params_type(self, layer: BMaxPool2d) -> str:
        return "bnn_bmaxpool2d_params"

    def scratch_bytes(self, layer: BMaxPool2d) -> int:
        return 0

    def random_layer(self, rng, in_shape, name):
        h, w, _ = in_shape
        if min(h, w) < 2:
            return None
        kernel = int(rng.integers(2, min(3, h, w) + 1))
        stride = int(rng.integers(1, 3))
        return random_bmaxpool2d(in_shape, kernel, stride, name=name)

    # --- config and torch -----------------------------------------------------------------
    def normalise(self, spec: dict) -> dict:
        return {"pool": spec["pool"], "stride": spec.get("stride", spec["pool"])}

    def arch_shape(self, spec, in_shape, index):
        h, w, c = in_shape
        k, s = spec["pool"], spec["stride"]
        return (h - k) // s + 1, (w - k) // s + 1, c

    def skeleton(self, spec, in_shape):
        return None

    def torch_module(self, spec, in_shape):
        from torch import nn
        return nn.MaxPool2d(spec["pool"], spec["stride"])

    def lower(self, name, module, spec, in_shape) -> BMaxPool2d:
        """Packing 1 here; :func:`pipeline.ir.settle_packing` sets the next layer's."""
        return BMaxPool2d(name=name, in_shape=in_shape, kernel=spec["pool"],
                          stride=spec["stride"])

    def example_layers(self) -> list[dict]:
        return [{"conv": 4, "kernel": 3, "padding": 1}, {"pool": 2},
                {"conv": 4, "kernel": 1, "groups": 2}, {"pool": 2, "stride": 1}]

    def prune_groups(self, spec: dict) -> int:
        return 1

    def prune_reader_weight(self, module, weight, keep, in_shape):
        return None  # never a reader: channels pass through (prune_transparent)


register(BMaxPool2dOp())
