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


SLICED_ROWS = 32  # rows per output word of the sliced layout


def sliced_planes(k: int) -> int:
    """Bit planes of the sliced path's counts and limits (popcounts <= K, limits <= K + 1):
    the bit length of K + 1, at least 5 (the counter planes the kernel keeps in registers;
    it then reads every limit word without a test)."""
    return max(5, int(k + 1).bit_length())


def sliced_blocks(layer: BDense, out_pack_groups: int) -> np.ndarray:
    """The hidden layer's weights and thresholds in the runtime's sliced layout
    (``bnn_bdense_hidden_params.sliced``; ``bnn_bdense.c``: ``dense_sliced_word``).

    One block per output word, in output order (packing group g, then its words of up to 32
    rows; row r of the word at bit r), each ``32*n + planes + 1`` uint32 words, n the input
    words and planes :func:`sliced_planes`:
    - word ``32*i + b``: bit r = weight bit b of input word i of row r (a 32x32 bit transpose
      of the rows' words);
    - ``planes`` limit words: bit r of word p = bit p of ``L_r``, where the row's output is
      ``(pc_r < L_r) XOR invert_r``, pc the popcount of input XOR row. From the IR's
      ``(dot < threshold) XOR flip`` with ``dot = K - 2*pc``: ``dot < t`` iff ``2*pc > K - t``
      iff ``pc >= floor((K - t) / 2) + 1``, so ``L = floor((K - t) / 2) + 1`` clipped to
      ``[0, K + 1]`` and ``invert = 1 XOR flip``;
    - the invert word.
    Lanes past a word's last row have zero weights, ``L = 0`` and ``invert = 0``: their
    output bits are 0, as the packing's padding bits must be.
    Returns uint32[words * (32*n + planes + 1)]."""
    if layer.output:
        raise ValueError(f"{layer.name}: the sliced layout is for hidden dense layers")
    n_rows, n = layer.weights.shape
    opg = n_rows // out_pack_groups
    planes = sliced_planes(layer.k)
    limit = np.clip((layer.k - layer.threshold.astype(np.int64)) // 2 + 1, 0, layer.k + 1)
    invert = 1 ^ (layer.flip.astype(np.int64) & 1)
    # bit b of word i of every row: [rows, 32*n]
    wbits = ((layer.weights[:, :, None] >> np.arange(32, dtype=np.uint32)) & 1).reshape(n_rows, -1)
    lane = np.uint32(1) << np.arange(SLICED_ROWS, dtype=np.uint32)
    blocks = []
    for g in range(out_pack_groups):
        for r0 in range(g * opg, (g + 1) * opg, SLICED_ROWS):
            rows = np.arange(r0, min(r0 + SLICED_ROWS, (g + 1) * opg))
            nb = len(rows)
            w_t = (wbits[rows].astype(np.uint32) * lane[:nb, None]).sum(axis=0, dtype=np.uint64)
            lanes = lane[:nb].astype(np.int64)
            lim = [int(((limit[rows] >> p) & 1) @ lanes) for p in range(planes)]
            inv = int(invert[rows] @ lanes)
            blocks.append(np.concatenate([w_t.astype(np.uint32),
                                          np.array(lim + [inv], dtype=np.uint32)]))
    return np.concatenate(blocks).astype(np.uint32)


def dense_path(layer: BDense, out_pack_groups: int, target) -> str:
    """The path of ``layer`` in firmware for ``target`` (a :class:`pipeline.targets.KernelTarget`),
    as ``bnn_bdense_hidden_path_name`` names it: ``"mve"`` on Helium builds (4 rows per
    vector), ``"sliced"`` for hidden layers on the other Thumb-2 builds where
    :func:`sliced_pays`, else ``"rows"`` (scalar carry-save rows; Cortex-M0 always: without
    SBFX and LDRD and with 8 low registers the sliced path ran 11 % more instructions than the
    rows on the default model's dense layer). The renderer writes the sliced layout
    (``bnn_bdense_hidden_params.sliced``) exactly where this says ``"sliced"``, and the C
    kernel takes the path its params hold."""
    if target.mve:
        return "mve"
    if not layer.output and not target.v6m and sliced_pays(layer, out_pack_groups):
        return "sliced"
    return "rows"


# Cost model of the hidden dense paths on Thumb-2 (QEMU instruction counts on Cortex-M4 of
# calls with n = 1..128 input words and 8..32 rows, fitted linearly; M3, M7 and M33 run within
# 1 % of them): a row of the rows path costs about 7.5 n + 88, an output word of the sliced
# path about 254 n + 264 whatever its rows (measured at n = 54, one call of 32 rows: 14,138
# sliced, 15,454 rows).
_ROWS_PER_ROW = (15, 176)  # doubled: 2 * (7.5 n + 88)
_SLICED_PER_WORD = (508, 528)  # doubled: 2 * (254 n + 264)


def sliced_pays(layer: BDense, out_pack_groups: int) -> bool:
    """Whether the sliced path runs fewer instructions than the rows on Thumb-2, summed over
    the output words (words of fewer than 32 rows cost the sliced path as much as full ones).
    It pays for full words up to about 180 input words, and for short words on short inputs
    (the rows' per-row count and threshold dominate there). Flash is not weighed: a word of
    nb < 32 rows stores 32 lanes of weights where the rows layout stores nb rows (and
    thresholds and flips: 5 bytes a row against planes + 1 words a word), so a layer of short
    words that takes the sliced path grows by up to 32 / nb in weight bytes; the build's
    flash check reports a model that no longer fits."""
    n = layer.weights.shape[1]
    opg = layer.out_features // out_pack_groups
    words = out_pack_groups * B.words_per_group(opg)
    rows_cost = layer.out_features * (_ROWS_PER_ROW[0] * n + _ROWS_PER_ROW[1])
    sliced_cost = words * (_SLICED_PER_WORD[0] * n + _SLICED_PER_WORD[1])
    return sliced_cost < rows_cost


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
        """bnn_bdense_hidden_opt / bnn_bdense_output_opt: :func:`dense_path` (output layers:
        "mve" on Helium builds, else "rows")."""
        return dense_path(layer, out_pack_groups, target)

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
