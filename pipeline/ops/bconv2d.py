"""Layer kind ``bconv2d``: grouped binary convolution with one-padding, then threshold + flip.

IR: ``weights uint32[Cout, kh, kw, words_per_group(Cin/G)]``; output channel o reads input
group ``o // (Cout/G)``; the input is packed in G groups (``in_pack_groups = groups``); spatial
padding is **one-padding** (padded taps are +1). ``dot = K - 2*popcount(x XOR w)``,
``K = kh*kw*Cin/G``; output is +1 when ``(dot >= threshold[o]) != flip[o]``.
Config: ``{conv: Cout, kernel: 3, stride: 1, padding: 0, groups: 1}``. Torch:
:class:`pipeline.nn.layers.BinaryConv2d`. C kernel: ``bnn_bconv2d.c`` (+ ``_mve``).
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
class BConv2d(ir.Layer):
    name: str
    in_shape: tuple[int, int, int]
    out_channels: int
    kernel: tuple[int, int]
    stride: int
    padding: int
    groups: int
    weights: np.ndarray  # uint32[Cout, kh, kw, Wg]
    threshold: np.ndarray  # int32[Cout]
    flip: np.ndarray  # uint8[Cout]
    kind = "bconv2d"
    ARRAYS = ("weights", "threshold", "flip")

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_shape", ir.tuple3(self.in_shape))
        object.__setattr__(self, "kernel", tuple(int(k) for k in self.kernel))
        object.__setattr__(self, "weights", ir.as_int_array(self.weights, np.uint32))
        object.__setattr__(self, "threshold", ir.as_int_array(self.threshold, np.int32))
        object.__setattr__(self, "flip", ir.as_int_array(self.flip, np.uint8))

    @property
    def in_pack_groups(self) -> int:
        return self.groups

    @property
    def k(self) -> int:
        return self.kernel[0] * self.kernel[1] * (self.in_shape[2] // self.groups)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, _ = self.in_shape
        kh, kw = self.kernel
        return ((h + 2 * self.padding - kh) // self.stride + 1,
                (w + 2 * self.padding - kw) // self.stride + 1, self.out_channels)

    @property
    def macs(self) -> int:
        oh, ow, oc = self.out_shape
        return oh * ow * oc * self.k

    def bits(self) -> dict[str, int]:
        """One bit per real weight; int32 threshold + 1 flip bit per output channel."""
        return {"weights": self.out_channels * self.k, "params": 33 * self.out_channels}

    def validate(self, out_pack_groups: int) -> None:
        h, w, c = self.in_shape
        if len(self.kernel) != 2:
            raise ir.ShapeError(f"{self.name}: kernel must be (kh, kw), got {self.kernel}")
        kh, kw = self.kernel
        g = self.groups
        if g < 1 or c % g or self.out_channels % g:
            raise ir.ShapeError(f"{self.name}: {c} input and {self.out_channels} output "
                                f"channels cannot be split into {g} groups")
        if self.stride < 1 or self.padding < 0 or kh < 1 or kw < 1:
            raise ir.ShapeError(f"{self.name}: bad kernel/stride/padding")
        if h + 2 * self.padding < kh or w + 2 * self.padding < kw:
            raise ir.ShapeError(f"{self.name}: kernel {self.kernel} larger than padded input")
        want = (self.out_channels, kh, kw, B.words_per_group(c // g))
        if self.weights.shape != want:
            raise ir.ShapeError(f"{self.name}: weights must have shape {want}, "
                                f"got {self.weights.shape}")
        if not B.padding_bits_are_zero(self.weights, c // g, 1):
            raise ir.PaddingBitsError(f"{self.name}: non-zero padding bits in packed weights")
        ir.check_threshold_table(self, self.out_channels, self.k)
        B.words_per_pixel(self.out_channels, out_pack_groups)


def random_bconv2d(rng: np.random.Generator, in_shape: tuple[int, int, int], out_channels: int,
                   kernel: int | tuple[int, int], stride: int, padding: int, groups: int,
                   name: str = "conv") -> BConv2d:
    """A conv of the given geometry with random weights and a realistic threshold table."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    cg = in_shape[2] // groups
    weight_bits = rng.integers(0, 2, size=(out_channels, kh, kw, cg), dtype=np.uint8)
    threshold, flip = random_ir.random_threshold_table(rng, out_channels, kh * kw * cg)
    return BConv2d(name=name, in_shape=in_shape, out_channels=out_channels, kernel=(kh, kw),
                   stride=stride, padding=padding, groups=groups,
                   weights=B.pack(weight_bits), threshold=threshold, flip=flip)


def random_conv_layer(rng: np.random.Generator, in_shape: tuple[int, int, int],
                      max_channels: int, name: str) -> BConv2d:
    """A conv of random groups (a divisor of C up to 8), width, kernel 1/3/5, stride, padding."""
    h, w, c = in_shape
    groups = random_ir.random_divisor(rng, c)
    out_channels = groups * int(rng.integers(1, max(1, max_channels // groups) + 1))
    padding = int(rng.integers(0, 2))
    kernels = [k for k in (1, 3, 5) if k <= min(h, w) + 2 * padding]
    kernel = int(rng.choice(kernels))
    stride = int(rng.integers(1, 3))
    return random_bconv2d(rng, in_shape, out_channels, kernel, stride, padding, groups, name)


def conv_scratch_bytes(layer: BConv2d) -> int:
    """Mirror of bnn_bconv2d_get_buffer_size(); the firmware checks it at run time too."""
    kh, kw = layer.kernel
    cg = layer.in_shape[2] // layer.groups
    words = kh * kw * B.words_per_group(cg)
    if cg <= 16:  # dense fields (scalar builds): lanes of the next power of two >= cg bits
        lane = 1
        while lane < cg:
            lane *= 2
        per_word = 32 // lane
        nd = (kh * kw + per_word - 1) // per_word
        if nd < kh * kw:  # scratch: dense weights of a run of up to 32 channels + the field
            words = max(words, 33 * nd)
    return 4 * words


# --- the fast path bnn_bconv2d_opt takes (mirror of bnn_bconv2d_select_path) -----------------
# Constants of bnn_bconv2d.c and bnn_internal.h the predicates read.
_WORD_BITS = 32
_SLICE_BLOCK = 8          # BNN_SLICE_BLOCK: inputs per block of the bit-sliced path
_SLICE_MAX_BLOCKS = 36    # BNN_SLICE_MAX_BLOCKS
_SLICE_MAX_BITS = 510     # BNN_SLICE_MAX_BITS: largest K the 9 counter planes hold
_MVE_MAX_WORDS = 64       # BNN_MVE_MAX_WORDS
# The cost model (BNN_COST_SLICE_INPUT, BNN_COST_WORDS_N, BNN_COST_LANES_ND): instructions
# measured on Cortex-M0 for cores without Thumb-2, on Cortex-M4 for every other build.
_COSTS_V6M = (19, 15, 24)
_COSTS_THUMB2 = (8, 8, 12)
# The Helium cost model (BNN_COST_VSLICE_INPUT, BNN_COST_VSLICE_RUN, BNN_COST_VSLICE_PREPARE,
# BNN_COST_MVE_N, BNN_COST_MVE_CHANNEL): instructions per block of 4 output pixels (the
# preparation: per tap, once per run and call) measured on Cortex-M55.
_COSTS_HELIUM = (9, 150, 700, 8, 12)


def _cg(layer) -> int:
    return layer.in_shape[2] // layer.groups


def _taps(layer) -> int:
    return layer.kernel[0] * layer.kernel[1]


def _lane_bits(cg: int) -> int:
    b = 1
    while b < cg:
        b *= 2
    return b


def _dense_words(layer) -> int:
    """dense_words(): words of a bit-dense field, 0 where the layer keeps a word per tap."""
    cg, taps = _cg(layer), _taps(layer)
    if cg > 16:
        return 0
    per_word = _WORD_BITS // _lane_bits(cg)
    nd = (taps + per_word - 1) // per_word
    return nd if nd < taps else 0


def _field_words(layer) -> int:
    return _taps(layer) * B.words_per_group(_cg(layer))


def _slice_inputs(layer, max_cg: int) -> int:
    """slice_fits() and slice_weight_words(): the bit-sliced geometry (one word per tap of at
    most ``max_cg`` channels per group, at most 36 blocks of 8 inputs, K <= 510); returns the
    inputs per run (taps * 8, 16 or 32), 0 where the geometry does not fit."""
    cg, taps = _cg(layer), _taps(layer)
    if cg > max_cg:
        return 0
    lane = _SLICE_BLOCK if cg <= _SLICE_BLOCK else 16 if cg <= 16 else _WORD_BITS
    kin = taps * lane
    if kin // _SLICE_BLOCK > _SLICE_MAX_BLOCKS or taps * cg > _SLICE_MAX_BITS:
        return 0
    return kin


def _slice_run_channels(layer) -> int:
    """slice_run_channels(): channels of one run, at most 32 (those of a group)."""
    return min(layer.out_channels // layer.groups, _WORD_BITS)


#: BNN_MVE_MIN_PIXELS: the Helium paths need at least this many output pixels (4 per vector).
_MVE_MIN_PIXELS = 4


def _mve_pixels(layer) -> bool:
    """mve_pixels(): the output has at least :data:`_MVE_MIN_PIXELS` pixels."""
    (h, w, _), (kh, kw) = layer.in_shape, layer.kernel
    s, pad = layer.stride, layer.padding
    return ((h + 2 * pad - kh) // s + 1) * ((w + 2 * pad - kw) // s + 1) >= _MVE_MIN_PIXELS


def is_bitsliced(layer, target) -> bool:
    """bnn_bconv2d_is_bitsliced(): never on Helium builds (bitsliced_mve or mve, which fit
    every geometry it fits there, run fewer instructions; below 4 output pixels the
    word-per-tap paths); elsewhere one word per tap (at most 32 channels per group), at most 36
    blocks of 8 inputs, K <= 510, and cheaper than the path that would run otherwise by the
    target's cost model, counted per group (runs of up to 32 channels against a cost per
    channel)."""
    if target.mve:
        return False
    kin = _slice_inputs(layer, _WORD_BITS)
    if not kin:
        return False
    slice_input, words_n, lanes_nd = _COSTS_V6M if target.v6m else _COSTS_THUMB2
    nd = _dense_words(layer)
    other = lanes_nd * nd + 14 if nd > 0 else words_n * _taps(layer) + 20
    # per group: a run of up to 32 channels costs the same however few it holds
    out_g = layer.out_channels // layer.groups
    runs = -(-out_g // _WORD_BITS)
    return runs * (slice_input * kin + 100) < out_g * other


def is_bitsliced_mve(layer, target) -> bool:
    """bnn_bconv2d_is_bitsliced_mve(): Helium builds only, at least 4 output pixels; the
    bit-sliced geometry with at most 16 channels per group, where it beats the mve path by the
    Helium cost model, per call: BNN_COST_VSLICE_INPUT per input + BNN_COST_VSLICE_RUN per
    block of 4 pixels of a row, plus BNN_COST_VSLICE_PREPARE per tap, against BNN_COST_MVE_N
    per tap + BNN_COST_MVE_CHANNEL per channel of the run and block of any 4 pixels."""
    if not target.mve or not _mve_pixels(layer):
        return False
    kin = _slice_inputs(layer, 16)
    if not kin:
        return False
    vslice_input, vslice_run, vslice_prepare, mve_n, mve_channel = _COSTS_HELIUM
    (h, w, _), (kh, kw) = layer.in_shape, layer.kernel
    oh = (h + 2 * layer.padding - kh) // layer.stride + 1
    ow = (w + 2 * layer.padding - kw) // layer.stride + 1
    row_blocks, blocks = oh * ((ow + 3) // 4), (oh * ow + 3) // 4
    taps = _taps(layer)
    return row_blocks * (vslice_input * kin + vslice_run) + vslice_prepare * taps < \
        blocks * _slice_run_channels(layer) * (mve_n * taps + mve_channel)


def is_mve(layer, target) -> bool:
    """bnn_bconv2d_is_mve(): Helium builds only, receptive field of at most 64 words, at least
    4 output pixels."""
    return target.mve and _field_words(layer) <= _MVE_MAX_WORDS and _mve_pixels(layer)


def is_lanes(layer, target) -> bool:
    """bnn_bconv2d_is_lanes(): at most 16 channels per group and fewer dense words than taps."""
    return _dense_words(layer) > 0


def is_field9(layer, target) -> bool:
    """bnn_bconv2d_is_field9(): a receptive field of exactly 9 words."""
    return _field_words(layer) == 9


def is_field18(layer, target) -> bool:
    """bnn_bconv2d_is_field18(): a receptive field of exactly 18 words."""
    return _field_words(layer) == 18


#: (path name, predicate) in the order bnn_bconv2d_select_path() tries them; a new path of the
#: runtime is one more line here, at its place in that order.
FAST_PATHS = (
    ("bitsliced_mve", is_bitsliced_mve),
    ("bitsliced", is_bitsliced),
    ("mve", is_mve),
    ("lanes", is_lanes),
    ("field9", is_field9),
    ("field18", is_field18),
)
#: The path taken where no predicate holds (bnn_bconv2d_words_opt, any geometry).
FALLBACK_PATH = "words"


def fast_path(layer, target) -> str:
    """The fast path ``bnn_bconv2d_opt`` takes for ``layer`` in a runtime built for ``target``.

    A mirror of ``bnn_bconv2d_path_name(bnn_bconv2d_select_path(&p))`` in
    ``firmware_templates/runtime/bnn_bconv2d.c``: the first of :data:`FAST_PATHS` whose
    predicate holds, else :data:`FALLBACK_PATH`. ``layer`` is a valid :class:`BConv2d` (or any
    object with its ``in_shape`` (H, W, Cin), ``out_channels``, ``kernel`` (kh, kw) and
    ``groups``, ``stride`` and ``padding``: the predicates read only those; the output packing
    does not matter). ``target`` is a :class:`pipeline.targets.KernelTarget` (``mve``: the
    runtime is built with its Helium paths; ``v6m``: the cost model of cores without Thumb-2).
    Returns the C path name (``"bitsliced_mve"``, ``"bitsliced"``, ``"mve"``, ``"lanes"``, ``"field9"``,
    ``"field18"``, ``"words"``). ``tests/kernels/test_path_mirror.py`` checks it against the C
    selector on the host and, built for each kind of core, in QEMU."""
    return next((name for name, holds in FAST_PATHS if holds(layer, target)), FALLBACK_PATH)


class BConv2dOp(LayerOp):
    kind = "bconv2d"
    layer = BConv2d
    config_key = "conv"
    config_keys = frozenset({"conv", "kernel", "stride", "padding", "groups"})
    prune_width_key = "conv"

    def oracle(self, layer: BConv2d, x: np.ndarray, out_pack_groups: int) -> np.ndarray:
        """Binary grouped conv with one-padding, then the per-channel threshold/flip compare."""
        h, w, c = layer.in_shape
        g, cout = layer.groups, layer.out_channels
        wg = B.words_per_group(c // g)
        x = R.check_input(x, np.uint32, (h, w, g * wg), layer.name)
        oh, ow, _ = layer.out_shape
        kh, kw = layer.kernel
        taps = kh * kw
        # weights [Cout, kh, kw, Wg] -> [G, Cout/G, taps*Wg]: channel o reads group o // (Cout/G)
        weights = layer.weights.reshape(g, cout // g, taps * wg)

        def conv(xb: np.ndarray) -> np.ndarray:
            n = len(xb)
            p, s = layer.padding, layer.stride
            # One-padding: a padded tap is +1, i.e. all bits 0 (it still XORs with the weights).
            xp = np.pad(xb, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=0)
            windows = [xp[:, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]
                       for i in range(kh) for j in range(kw)]  # each [n, oh, ow, G*Wg]
            patches = np.stack(windows, axis=3).reshape(n, oh, ow, taps, g, wg)
            patches = patches.transpose(0, 1, 2, 4, 3, 5).reshape(n, oh, ow, g, 1, taps * wg)
            dot = B.binary_dot(patches, weights, layer.k)  # [n, oh, ow, G, Cout/G]
            dot = dot.reshape(n, oh, ow, cout)
            return R.threshold_and_pack(dot, layer.threshold, layer.flip, out_pack_groups)

        return R.by_chunks(conv, x, oh * ow * cout * taps * wg)

    def onnx(self, g, layer: BConv2d, x: str) -> str:
        cg = layer.in_shape[2] // layer.groups
        p = layer.padding
        if p:
            pads = g.const("pads", np.array([0, 0, p, p, 0, 0, p, p], np.int64))
            x = g.op("Pad", [x, pads, g.const("one_pad", np.float32(1.0))], layer.name + "_pad",
                     mode="constant")  # one-padding: padded taps are +1
        w = B.from_bits(B.unpack(layer.weights, cg)).astype(np.float32)  # [Cout, kh, kw, Cin/G]
        wt = g.const(layer.name + "_weights", w.transpose(0, 3, 1, 2))
        dot = g.op("Conv", [x, wt], layer.name + "_dot", kernel_shape=list(layer.kernel),
                   strides=[layer.stride] * 2, group=layer.groups)
        return g.threshold(dot, layer.threshold, layer.flip, (1, -1, 1, 1), layer.name)

    def tflite(self, keras, lq, layer: BConv2d, x):
        """QuantConv2D (-> LceBconv2d) + the threshold BatchNorm; see :func:`conv_plan`."""
        from ..export import tflite as T
        global tf
        tf = T._tf()  # a module global, so the Keras Lambdas below can be saved
        cin = layer.in_shape[2]
        cg, g = cin // layer.groups, layer.groups
        w = B.from_bits(B.unpack(layer.weights, cg)).transpose(1, 2, 3, 0)  # [kh, kw, Cin/G, Cout]
        plan = T.conv_plan(layer)
        if plan["padding"].startswith("ZeroPadding2D"):
            x = keras.layers.ZeroPadding2D(layer.padding, name=layer.name + "_pad")(x)
        padding = "same" if plan["padding"].startswith("same") else "valid"
        if plan["native_groups"]:
            y = T.quant_conv(lq, layer.name + "_bconv", w, layer.stride, padding, g, x)
            return T.threshold_bn(keras, layer.name + "_bn", layer.threshold, layer.flip, y)
        parts = keras.layers.Lambda(lambda t: tf.split(t, g, axis=-1),
                                    name=layer.name + "_split")(x)
        og = layer.out_channels // g
        outs = []
        for i in range(g):
            sl = slice(i * og, (i + 1) * og)
            y = T.quant_conv(lq, f"{layer.name}_bconv_g{i}", w[..., sl], layer.stride, padding,
                             1, parts[i])
            outs.append(T.threshold_bn(keras, f"{layer.name}_bn_g{i}", layer.threshold[sl],
                                       layer.flip[sl], y))
        return keras.layers.Concatenate(name=layer.name)(outs)

    def tflite_report(self, layer: BConv2d) -> dict:
        from ..export import tflite as T
        plan = T.conv_plan(layer)
        row = {"tflite": f"LceBconv2d x{plan['bconv_ops']}", "padding": plan["padding"]}
        if not plan["native_groups"]:
            row["groups"] = (f"split into {layer.groups} LceBconv2d + Concatenate: LCE grouped "
                             f"bconv needs input channels per group to be a multiple of "
                             f"{T.LCE_GROUP_CHANNELS}, here {layer.in_shape[2] // layer.groups}")
        return row

    def lce_bconv_ops(self, layer: BConv2d) -> int:
        from ..export import tflite as T
        return T.conv_plan(layer)["bconv_ops"]

    def c_params_type(self, layer: BConv2d) -> str:
        return "bnn_bconv2d_params"

    def scratch_bytes(self, layer: BConv2d) -> int:
        return conv_scratch_bytes(layer)

    def kernel_path(self, layer: BConv2d, out_pack_groups: int, target) -> str:
        """The C path name :func:`fast_path` gives (``out_pack_groups`` does not matter)."""
        return fast_path(layer, target)

    def random_layer(self, rng, in_shape, name):
        return random_conv_layer(rng, in_shape, 24, name)

    # --- config and torch -----------------------------------------------------------------
    def normalise(self, spec: dict) -> dict:
        return {"conv": spec["conv"], "kernel": spec.get("kernel", 3),
                "stride": spec.get("stride", 1), "padding": spec.get("padding", 0),
                "groups": spec.get("groups", 1)}

    def arch_shape(self, spec, in_shape, index):
        from ..nn.arch import ArchitectureError
        h, w, c = in_shape
        k, s, p = spec["kernel"], spec["stride"], spec["padding"]
        if c % spec["groups"] or spec["conv"] % spec["groups"]:
            raise ArchitectureError(f"layers[{index}]: conv {c}->{spec['conv']} channels cannot "
                                    f"be split into {spec['groups']} groups", index)
        return (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, spec["conv"]

    def skeleton(self, spec, in_shape):
        n, k = spec["conv"], spec["kernel"]
        return BConv2d("c", in_shape, n, (k, k), spec["stride"], spec["padding"],
                       spec["groups"], np.zeros((n, k, k, 1), np.uint32),
                       np.zeros(n, np.int32), np.zeros(n, np.uint8))

    def torch_module(self, spec, in_shape):
        from ..nn.layers import BinaryConv2d
        return BinaryConv2d(in_shape[2], spec["conv"], spec["kernel"], spec["stride"],
                            spec["padding"], spec["groups"])

    def lower(self, name, module, spec, in_shape) -> BConv2d:
        w = module.latent_weight.permute(0, 2, 3, 1)  # [Cout, Cin/G, kh, kw] -> [.., kh, kw, Cin/G]
        threshold, flip = module.folded()
        return BConv2d(name=name, in_shape=in_shape, out_channels=module.out_channels,
                       kernel=(module.kernel, module.kernel), stride=module.stride,
                       padding=module.padding, groups=module.groups,
                       weights=B.pack(B.to_bits(w.detach().cpu().numpy())), threshold=threshold,
                       flip=flip)

    def example_layers(self) -> list[dict]:
        return [{"conv": 4, "kernel": 3, "padding": 1, "groups": 2},
                {"conv": 6, "kernel": 3, "stride": 2, "groups": 2}]

    def prune_groups(self, spec: dict) -> int:
        return spec.get("groups", 1)

    def prune_reader_weight(self, module, weight, keep, in_shape):
        """Rows of output channel o keep the kept inputs of o's group, renumbered in it."""
        import torch
        cg = module.in_channels // module.groups
        per_out = module.out_channels // module.groups
        rows = []
        for o in range(module.out_channels):
            g = o // per_out
            local = [c - g * cg for c in keep if g * cg <= c < (g + 1) * cg]
            rows.append(weight[o, local])
        return torch.stack(rows)


register(BConv2dOp())
