"""Layer kind ``thermometer``: the input encoder, always the first layer.

IR: uint8 HWC image in; output channel ``c*M + k`` is +1 when ``pixel >= thresholds[c, k]``
(mode ``thresholds``: GLT, uniform and quantile encodings), or, in mode ``base2``, when bit
``7 - k`` of the pixel code is set (the ADC's own binary code, most significant plane first).
``thresholds`` is int32[C, M], strictly increasing per channel, in [0, 256] (pixel codes; 0 is
always +1, 256 never); empty (C, 0) in base2 mode. C kernel: ``bnn_thermometer.c``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import bits as B
from .. import ir
from .. import reference as R
from . import LayerOp, register


tf = None  # TensorFlow, set on first use by the tflite part


@dataclass(frozen=True, eq=False)
class Thermometer(ir.Layer):
    name: str
    in_shape: tuple[int, int, int]
    planes: int
    mode: str  # "thresholds" | "base2"
    thresholds: np.ndarray  # int32[C, M]; empty (C, 0) in base2 mode
    encoding: str = "glt"  # provenance: glt | uniform | base2 | quantile
    kind = "thermometer"
    ARRAYS = ("thresholds",)
    reads_image = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_shape", ir.tuple3(self.in_shape))
        object.__setattr__(self, "thresholds", ir.as_int_array(self.thresholds, np.int32))

    @property
    def out_shape(self) -> tuple[int, int, int]:
        h, w, c = self.in_shape
        return (h, w, c * self.planes)

    def bits(self) -> dict[str, int]:
        """16 bits per threshold (the firmware stores pixel codes 0..256 as uint16)."""
        return {"weights": 0, "params": 16 * int(self.thresholds.size)}

    def validate(self, out_pack_groups: int) -> None:
        h, w, c = self.in_shape
        m = self.planes
        if self.mode == "thresholds":
            t = self.thresholds
            if t.shape != (c, m) or m < 1:
                raise ir.ShapeError(f"{self.name}: thresholds must have shape (C, M) = "
                                    f"({c}, {m}), got {t.shape}")
            if t.min() < 0 or t.max() > 256:
                raise ir.ThresholdRangeError(f"{self.name}: thermometer thresholds must lie in "
                                             "[0, 256] (pixel codes)")
            if m > 1 and np.any(np.diff(t.astype(np.int64), axis=1) <= 0):
                raise ir.UnsortedThresholdsError(f"{self.name}: thresholds of every channel "
                                                 "must be strictly increasing")
        elif self.mode == "base2":
            if not 1 <= m <= 8:
                raise ir.ShapeError(f"{self.name}: base2 mode takes 1 to 8 planes, got {m}")
            if self.thresholds.size:
                raise ir.ShapeError(f"{self.name}: base2 mode has no thresholds")
        else:
            raise ir.ShapeError(f"{self.name}: unknown thermometer mode {self.mode!r}")
        if self.encoding not in ir.ENCODINGS:
            raise ir.ShapeError(f"{self.name}: unknown encoding {self.encoding!r}; one of "
                                f"{', '.join(ir.ENCODINGS)}")
        B.words_per_pixel(c * m, out_pack_groups)  # raises PackingError when it cannot split


def random_thermometer(rng: np.random.Generator, in_shape: tuple[int, int, int], planes: int,
                       mode: str = "thresholds", name: str = "thermo") -> Thermometer:
    """A thermometer with ``planes`` strictly increasing random pixel codes in [0, 256] per
    channel (mode ``thresholds``), or a base-2 one."""
    c = in_shape[2]
    if mode == "base2":
        thresholds = np.zeros((c, 0), dtype=np.int32)
        encoding = "base2"
    else:  # strictly increasing pixel codes in [0, 256] for every channel
        thresholds = np.stack([np.sort(rng.choice(257, size=planes, replace=False))
                               for _ in range(c)]).astype(np.int32)
        encoding = "glt"
    return Thermometer(name=name, in_shape=in_shape, planes=planes, mode=mode,
                       thresholds=thresholds, encoding=encoding)


def is_table(layer: Thermometer, out_pack_groups: int) -> bool:
    """Mirror of ``bnn_thermometer_is_table()`` (``thermometer_table_fits`` in
    ``bnn_thermometer.c``) for a valid layer: at most 8 planes, at least 64 pixels, and one
    output word per pixel (all planes in one packing group of at most 32 bits, or one packing
    group per input channel)."""
    h, w, c = layer.in_shape
    if layer.planes > 8 or h * w < 64:
        return False
    if out_pack_groups == 1:
        return c * layer.planes <= 32
    return c * layer.planes // out_pack_groups == layer.planes


def thermometer_path(layer: Thermometer, out_pack_groups: int, target=None) -> str:
    """The path ``bnn_thermometer_opt`` takes for a valid ``layer`` whose output is packed in
    ``out_pack_groups`` groups, in a runtime built for ``target`` (a
    :class:`pipeline.targets.KernelTarget`; ``None``: a build without Helium): ``"ref"`` (more
    than 31 planes: the reference loop), ``"table"`` (:func:`is_table`:
    ``bnn_thermometer_table_opt``), else ``"words_mve"`` on Helium builds with at most 8 planes
    (thresholds: each pixel's planes by one vector compare; base2 where every plane has a fixed
    place, all planes of a pixel in 32 bits or a packing group per channel: 4 pixels per
    vector) or ``"words"`` (each output word assembled in a register). Mirror of
    ``bnn_thermometer_path_name()``, checked against it by ``tests/kernels/test_path_mirror.py``.
    """
    if layer.planes > 31:
        return "ref"
    if is_table(layer, out_pack_groups):
        return "table"
    c, m = layer.in_shape[2], layer.planes
    fixed = c * m <= 32 or out_pack_groups == c  # thermometer_words_fixed_fits
    vector = target is not None and target.mve and m <= 8
    return "words_mve" if vector and (layer.mode == "thresholds" or fixed) else "words"


class ThermometerOp(LayerOp):
    kind = "thermometer"
    layer = Thermometer

    def oracle(self, layer: Thermometer, images: np.ndarray, out_pack_groups: int) -> np.ndarray:
        """uint8[N, H, W, C] -> uint32[N, H, W, words]; channel ``c*M + k`` is plane k of c."""
        images = R.check_input(images, np.uint8, layer.in_shape, layer.name)
        if layer.mode == "thresholds":
            # plane k of channel c is +1 when pixel >= T[c, k]  -> bool[N, H, W, C, M]
            plus_one = images[..., None].astype(np.int32) >= layer.thresholds
        elif layer.mode == "base2":
            # plane k is bit 7-k of the pixel code (most significant plane first)
            shifts = (7 - np.arange(layer.planes)).astype(np.uint8)
            plus_one = ((images[..., None] >> shifts) & 1).astype(bool)
        else:
            raise ir.ShapeError(f"{layer.name}: unknown thermometer mode {layer.mode!r}")
        n, h, w, c = images.shape
        plus_one = plus_one.reshape(n, h, w, c * layer.planes)
        return B.pack((~plus_one).astype(np.uint8), out_pack_groups)

    def onnx(self, g, layer: Thermometer, image_nchw: str) -> str:
        from onnx import TensorProto
        h, w, c = layer.in_shape
        m = layer.planes
        planes_axis = g.const("axis2", np.array([2], np.int64))
        if layer.mode == "thresholds":
            x = g.op("Cast", [image_nchw], "pixels_i32", to=TensorProto.INT32)
            x = g.op("Unsqueeze", [x, planes_axis], "pixels_5d")  # [N, C, 1, H, W]
            t = g.const(layer.name + "_thresholds",
                        layer.thresholds.astype(np.int32).reshape(1, c, m, 1, 1))
            is_plus = g.op("GreaterOrEqual", [x, t], layer.name + "_ge")  # [N, C, M, H, W]
        else:  # base2: plane k is bit 7-k of the pixel code
            x = g.op("Unsqueeze", [image_nchw, planes_axis], "pixels_5d")
            shifts = g.const(layer.name + "_shifts",
                             (7 - np.arange(m)).astype(np.uint8).reshape(1, 1, m, 1, 1))
            one = g.const("one_u8", np.uint8(1))
            bit = g.op("BitwiseAnd", [g.op("BitShift", [x, shifts], "shifted",
                                           direction="RIGHT"), one], layer.name + "_bit")
            is_plus = g.op("Equal", [bit, one], layer.name + "_is_set")
        # channel c*M + k, as the IR orders them
        flat = g.op("Reshape", [is_plus, g.const("shape", np.array([0, c * m, h, w], np.int64))],
                    layer.name + "_planes")
        return g.plus_minus_one(flat, layer.name)

    def tflite(self, keras, lq, layer: Thermometer, x):
        """Float planes: ``pixel - (T - 0.5)`` (or ``bit - 0.5``), exact, never 0; the next
        layer's ``ste_sign`` quantizer turns their signs into bits."""
        from ..export import tflite as T
        global tf
        tf = T._tf()  # a module global, so the Keras Lambdas below can be saved
        m = layer.planes
        reps = keras.layers.Lambda(lambda t: tf.repeat(t, m, axis=-1),
                                   name=layer.name + "_repeat")(x)
        if layer.mode == "thresholds":
            # channel c*M + k: pixel - (T[c,k] - 0.5) > 0 exactly when pixel >= T[c,k]
            offset = (layer.thresholds.reshape(-1).astype(np.float64) - 0.5).astype(np.float32)
            return keras.layers.Lambda(lambda t: t - offset, name=layer.name)(reps)
        c = layer.in_shape[2]
        scale = np.tile(2.0 ** -(7 - np.arange(m)), c).astype(np.float32)  # exact powers of 2
        return keras.layers.Lambda(
            lambda t: tf.math.floormod(tf.floor(t * scale), 2.0) - 0.5, name=layer.name)(reps)

    def tflite_report(self, layer: Thermometer) -> dict:
        return {"tflite": "float builtins (Cast, Tile, Sub" + (
                    ", Mul, Floor, FloorMod)" if layer.mode == "base2" else ")"),
                "why_not_lce": "LCE has no thermometer op; the planes' signs feed LceQuantize"}

    def lce_bconv_ops(self, layer: Thermometer) -> int:
        return 0

    def c_params_type(self, layer: Thermometer) -> str:
        return "bnn_thermometer_params"

    def scratch_bytes(self, layer: Thermometer) -> int:
        return 0

    def kernel_path(self, layer: Thermometer, out_pack_groups: int, target) -> str:
        return thermometer_path(layer, out_pack_groups, target)

    def random_layer(self, rng, in_shape, name):
        mode = "base2" if rng.random() < 0.25 else "thresholds"
        planes = int(rng.integers(1, 9 if mode == "base2" else 17))
        return random_thermometer(rng, in_shape, planes, mode, name)

    def lower(self, name, module, spec, in_shape) -> Thermometer:
        """``module`` is the BNN's encoding (:mod:`pipeline.nn.thermometer`)."""
        return Thermometer(name=name, in_shape=in_shape, planes=module.planes, mode=module.mode,
                           thresholds=module.integer_thresholds().astype(np.int32),
                           encoding=module.kind)


register(ThermometerOp())
