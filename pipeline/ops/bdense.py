"""Layer kind ``bdense``: binary fully-connected layer, hidden (threshold + flip) or output.

IR: ``weights uint32[N, H*W*words_per_pixel(C, in_pack_groups)]`` (the packed input flattened
as it lies in memory), ``K = H*W*C``. Hidden: ``(dot >= threshold) != flip``, output shape
(1, 1, N). Output (``output=True``, the last layer): ``logits = dot*mult + bias`` (int32); class
= argmax, ties to the lowest index. Config: ``{dense: N}`` (the output layer is implied).
Torch: :class:`pipeline.nn.layers.BinaryDense`. C kernel: ``bnn_bdense.c``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import bits as B
from .. import ir
from .. import reference as R
from .. import random_ir
from . import LayerOp, register


tf = None  # TensorFlow, set on first use by the tflite part


@dataclass(frozen=True, eq=False)
class BDense(ir.Layer):
    name: str
    in_shape: tuple[int, int, int]
    out_features: int
    weights: np.ndarray  # uint32[N, H*W*words_per_pixel(C, in_pack_groups)]
    output: bool  # True: int32 logits (mult, bias); False: thresholds (threshold, flip)
    in_pack_groups: int = 1
    threshold: np.ndarray | None = None  # int32[N] (hidden)
    flip: np.ndarray | None = None  # uint8[N] (hidden)
    mult: np.ndarray | None = None  # int32[N] (output)
    bias: np.ndarray | None = None  # int32[N] (output)
    kind = "bdense"
    ARRAYS = ("weights", "threshold", "flip", "mult", "bias")

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_shape", ir.tuple3(self.in_shape))
        object.__setattr__(self, "weights", ir.as_int_array(self.weights, np.uint32))
        for name, dtype in (("threshold", np.int32), ("flip", np.uint8),
                            ("mult", np.int32), ("bias", np.int32)):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, ir.as_int_array(v, dtype))

    @property
    def is_output(self) -> bool:
        return bool(self.output)

    @property
    def k(self) -> int:
        h, w, c = self.in_shape
        return h * w * c

    @property
    def out_shape(self) -> tuple[int, int, int]:
        return (1, 1, self.out_features)

    @property
    def macs(self) -> int:
        return self.k * self.out_features

    def bits(self) -> dict[str, int]:
        """One bit per real weight; per output: int32 threshold + flip bit (33), or int32
        mult + int32 bias (64)."""
        per_out = 64 if self.output else 33
        return {"weights": self.out_features * self.k, "params": per_out * self.out_features}

    def validate(self, out_pack_groups: int) -> None:
        h, w, c = self.in_shape
        wpp = B.words_per_pixel(c, self.in_pack_groups)
        want = (self.out_features, h * w * wpp)
        if self.weights.shape != want:
            raise ir.ShapeError(f"{self.name}: weights must have shape {want}, "
                                f"got {self.weights.shape}")
        wv = self.weights.reshape(self.out_features * h * w, wpp)
        if not B.padding_bits_are_zero(wv, c, self.in_pack_groups):
            raise ir.PaddingBitsError(f"{self.name}: non-zero padding bits in packed weights")
        n = self.out_features
        if self.output:
            for name in ("mult", "bias"):
                arr = getattr(self, name)
                if arr is None or arr.shape != (n,):
                    raise ir.ShapeError(f"{self.name}: {name} must have shape ({n},)")
            # Logits must not overflow int32 for any dot in [-K, K].
            lo = -self.k * np.abs(self.mult.astype(np.int64)) + self.bias
            hi = self.k * np.abs(self.mult.astype(np.int64)) + self.bias
            if lo.min() < ir.INT32_MIN or hi.max() > ir.INT32_MAX:
                raise ir.ThresholdRangeError(f"{self.name}: dot*mult + bias can overflow int32")
        else:
            ir.check_threshold_table(self, n, self.k)
            B.words_per_pixel(n, out_pack_groups)


def dense_weights_nchw(layer: BDense) -> np.ndarray:
    """+-1 weights [N, C, H, W] from the IR's packed layout (input flattened as H, W, words)."""
    h, w, c = layer.in_shape
    words = layer.weights.reshape(layer.out_features, h, w, -1)
    bits = B.unpack(words, c, layer.in_pack_groups)  # [N, H, W, C], true channel order
    return B.from_bits(bits).transpose(0, 3, 1, 2)


def random_bdense(rng: np.random.Generator, in_shape: tuple[int, int, int], out_features: int,
                  output: bool, in_pack_groups: int = 1, name: str = "dense") -> BDense:
    """A dense layer with random weights: hidden with a realistic threshold table, or output
    with mult and bias that can never overflow int32."""
    h, w, c = in_shape
    k = h * w * c
    weight_bits = rng.integers(0, 2, size=(out_features, h, w, c), dtype=np.uint8)
    weights = B.pack(weight_bits, in_pack_groups).reshape(out_features, -1)
    if not output:
        threshold, flip = random_ir.random_threshold_table(rng, out_features, k)
        return BDense(name=name, in_shape=in_shape, out_features=out_features, weights=weights,
                      output=False, in_pack_groups=in_pack_groups, threshold=threshold,
                      flip=flip)
    # |dot*mult| <= INT32_MAX/2 and |bias| <= INT32_MAX/2, so logits never overflow int32.
    mult_max = max(1, min(1 << 12, ir.INT32_MAX // (2 * k)))
    mult = rng.integers(-mult_max, mult_max + 1, size=out_features)
    bias = np.rint(rng.normal(0.0, np.sqrt(k) * mult_max / 2, size=out_features))
    bias = np.clip(bias, -(ir.INT32_MAX // 2), ir.INT32_MAX // 2)
    return BDense(name=name, in_shape=in_shape, out_features=out_features, weights=weights,
                  output=True, in_pack_groups=in_pack_groups,
                  mult=mult.astype(np.int32), bias=bias.astype(np.int32))


class BDenseOp(LayerOp):
    kind = "bdense"
    layer = BDense
    config_key = "dense"
    config_keys = frozenset({"dense"})
    prune_width_key = "dense"

    def oracle(self, layer: BDense, x: np.ndarray, out_pack_groups: int) -> np.ndarray:
        """Hidden: uint32[N, 1, 1, words] after threshold/flip; output: int32 logits[N, K]."""
        h, w, c = layer.in_shape
        wpp = B.words_per_pixel(c, layer.in_pack_groups)
        x = R.check_input(x, np.uint32, (h, w, wpp), layer.name)
        flat = x.reshape(len(x), 1, h * w * wpp)  # the packed input as it lies in memory
        dot = R.by_chunks(lambda xb: B.binary_dot(xb, layer.weights, layer.k), flat,
                          layer.weights.size)  # int64[N, out_features]
        if layer.output:
            logits = dot * layer.mult.astype(np.int64) + layer.bias.astype(np.int64)
            if logits.size and (logits.min() < ir.INT32_MIN or logits.max() > ir.INT32_MAX):
                raise ir.ThresholdRangeError(f"{layer.name}: logits overflow int32")
            return logits.astype(np.int32)
        bits = R.threshold_and_pack(dot, layer.threshold, layer.flip, out_pack_groups)
        return bits.reshape(len(x), 1, 1, -1)

    def onnx(self, g, layer: BDense, x: str) -> str:
        from onnx import TensorProto
        from ..export.onnx import CLASS_NAME, LOGITS_NAME
        n = layer.out_features
        flat = g.op("Flatten", [x], layer.name + "_flat", axis=1)  # NCHW -> [N, C*H*W]
        w = dense_weights_nchw(layer).reshape(n, -1).T.astype(np.float32)
        dot = g.op("MatMul", [flat, g.const(layer.name + "_weights", w)], layer.name + "_dot")
        if not layer.output:
            y = g.threshold(dot, layer.threshold, layer.flip, (1, -1), layer.name)
            return g.op("Reshape", [y, g.const("shape", np.array([0, n, 1, 1], np.int64))],
                        layer.name + "_nchw")
        dot_i = g.op("Cast", [dot], layer.name + "_dot_i32", to=TensorProto.INT32)
        scaled = g.op("Mul", [dot_i, g.const(layer.name + "_mult", layer.mult.astype(np.int32))],
                      layer.name + "_scaled")
        logits = g.op("Add", [scaled, g.const(layer.name + "_bias",
                                              layer.bias.astype(np.int32))],
                      layer.name, output=LOGITS_NAME)
        g.op("ArgMax", [logits], "argmax", output=CLASS_NAME, axis=1, keepdims=0,
             select_last_index=0)
        return logits

    def tflite(self, keras, lq, layer: BDense, x):
        """A 'valid' QuantConv2D covering the whole input (-> 1x1 LceBconv2d); hidden: the
        threshold BatchNorm; output: Cast/Mul/Add in int32 and ArgMax."""
        from ..export import tflite as T
        global tf
        tf = T._tf()  # a module global, so the Keras Lambdas below can be saved
        kernel = dense_weights_nchw(layer).transpose(2, 3, 1, 0)  # [H, W, C, N]
        y = T.quant_conv(lq, layer.name + "_bconv", kernel, 1, "valid", 1, x)
        if not layer.output:
            return T.threshold_bn(keras, layer.name + "_bn", layer.threshold, layer.flip, y)
        mult, bias, n = layer.mult.astype(np.int32), layer.bias.astype(np.int32), layer.out_features
        logits = keras.layers.Lambda(
            lambda t: tf.reshape(tf.cast(t, tf.int32), (-1, n)) * mult + bias, name="logits")(y)
        classes = keras.layers.Lambda(lambda t: tf.argmax(t, axis=-1), name="class")(logits)
        return logits, classes

    def tflite_report(self, layer: BDense) -> dict:
        row = {"tflite": "LceBconv2d x1 (kernel = whole input)"}
        if layer.output:
            row["tflite"] += " + Cast/Mul/Add int32 + ArgMax"
            row["why_not_lce"] = ("LCE has no binary fully-connected op and its output "
                                  "transform is float: the raw dot leaves the bconv, "
                                  "dot*mult+bias runs in int32 builtins")
        return row

    def lce_bconv_ops(self, layer: BDense) -> int:
        return 1

    def kernel_path(self, layer: BDense, out_pack_groups: int, target) -> str:
        """bnn_bdense_hidden_opt / bnn_bdense_output_opt: Helium builds take the vector rows
        (4 rows per input vector, "mve") for every shape, other builds the scalar carry-save
        rows ("rows")."""
        return "mve" if target.mve else "rows"

    def c_params_type(self, layer: BDense) -> str:
        return "bnn_bdense_output_params" if layer.output else "bnn_bdense_hidden_params"

    def scratch_bytes(self, layer: BDense) -> int:
        return 0

    def random_layer(self, rng, in_shape, name):
        return random_bdense(rng, in_shape, int(rng.integers(1, 40)), output=False,
                             in_pack_groups=random_ir.random_divisor(rng, in_shape[2]),
                             name=name)

    # --- config and torch -----------------------------------------------------------------
    def normalise(self, spec: dict) -> dict:
        return {"dense": spec["dense"]}

    def arch_shape(self, spec, in_shape, index):
        return 1, 1, spec["dense"]

    def skeleton(self, spec, in_shape):
        """``spec["output"]`` marks the implied output layer."""
        n = spec["dense"]
        return BDense("d", in_shape, n, np.zeros((n, 1), np.uint32),
                      output=bool(spec.get("output")))

    def torch_module(self, spec, in_shape):
        """``spec["output"]`` marks the implied output layer (the BNN's head)."""
        from ..nn.layers import BinaryDense
        h, w, c = in_shape
        return BinaryDense(h * w * c, spec["dense"], output=bool(spec.get("output")))

    def lower(self, name, module, spec, in_shape) -> BDense:
        h, w, c = in_shape
        # torch flattens NCHW (feature c*H*W + h*W + w); the IR reads the packed NHWC input as
        # it lies in memory: (H, W, words).
        lw = module.latent_weight.reshape(module.out_features, c, h, w).permute(0, 2, 3, 1)
        words = B.pack(B.to_bits(lw.detach().cpu().numpy())).reshape(module.out_features, -1)
        if module.output:
            mult, bias, _ = module.fixed_point()
            return BDense(name=name, in_shape=in_shape, out_features=module.out_features,
                          weights=words, output=True, mult=mult, bias=bias)
        threshold, flip = module.folded()
        return BDense(name=name, in_shape=in_shape, out_features=module.out_features,
                      weights=words, output=False, threshold=threshold, flip=flip)

    def example_layers(self) -> list[dict]:
        return [{"conv": 4, "kernel": 3, "stride": 2}, {"dense": 5}]

    def prune_groups(self, spec: dict) -> int:
        return 1

    def prune_reader_weight(self, module, weight, keep, in_shape):
        """Columns of the kept input channels (torch's NCHW flattening: c*H*W + h*W + w)."""
        import torch
        h, w, c = in_shape
        keep_t = torch.as_tensor(keep, dtype=torch.long)
        return weight.reshape(weight.shape[0], c, h * w)[:, keep_t].reshape(weight.shape[0], -1)


register(BDenseOp())
