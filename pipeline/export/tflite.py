"""IR -> TFLite with Larq Compute Engine binary ops, rebuilt in larq/Keras from the IR weights.

How each IR layer maps (see docs/exports.md):

* ``thermometer``: float builtin ops (Cast, Tile, Sub / Mul, Floor, FloorMod). LCE has no
  thermometer op. Each plane comes out as ``pixel - (T - 0.5)`` (or ``bit - 0.5`` in base-2
  mode): an exact float whose sign is the plane, never 0; the next layer's ``ste_sign`` input
  quantizer (``LceQuantize``) turns it into bits.
* ``bconv2d``: ``larq.layers.QuantConv2D`` with ``ste_sign`` input and kernel quantizers, +-1
  kernels -> ``LceBconv2d``. One-padding is LCE's ``padding='same', pad_values=1`` where the IR's
  symmetric padding equals Keras' 'same' split; otherwise a ``ZeroPadding2D`` on the *float* input
  before a 'valid' conv: the quantizer maps 0 to +1 (sign(0) = +1), so zero-padding the float is
  one-padding of the binary values. Grouped convs use LCE's groups when the input channels per
  group are a multiple of 32 (LCE's limit); otherwise the group is split into separate
  ``LceBconv2d`` ops joined by a Concatenate.
* threshold + flip: a ``BatchNormalization`` right after the conv, which the converter fuses into
  the bconv output transform: multiplier s = +-1 (flip), bias ``-s*(T - 0.5)``, mean 0 and
  ``variance + epsilon = 1`` exactly (epsilon a power of two), so the float output is
  ``s*(dot - T + 0.5)``: a half-integer, never 0, whose sign is exactly the IR's compare.
* ``bmaxpool2d``: ``MaxPool2D`` on those floats (sign is monotone, so sign(max) = max(sign)); the
  converter turns it into ``LceBMaxPool2d`` on bitpacked values where it can.
* ``bdense``: a 'valid' ``QuantConv2D`` whose kernel covers the whole input (H, W) -> a 1x1
  ``LceBconv2d`` (LCE has no binary fully-connected op). Hidden: BatchNorm as above. Output: no
  BatchNorm, so the bconv returns the raw dot (an exact integer in float32, |dot| <= K < 2**24);
  then Cast to int32, Mul ``mult``, Add ``bias`` in int32 builtin ops, and ArgMax (first index on
  ties). The logits are therefore exact integers, no float tolerance.
"""
from __future__ import annotations

import dataclasses

import math
import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # larq needs Keras 2; before TensorFlow loads

import numpy as np

from .. import ir, ops
from ..atomic import write_bytes_atomic
from ..errors import PipelineError

LCE_GROUP_CHANNELS = 32  # LCE grouped bconv needs input channels per group to be a multiple of it
BN_EPSILON = 2.0 ** -10  # a power of two: (1 - eps) + eps == 1 exactly in float32
FLOAT_CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


class TFLiteOpsError(PipelineError):
    """The converted file lacks the binary ops it should hold (a binary layer became float)."""


tf = None  # TensorFlow, imported on first use (a module global, so Keras Lambdas can be saved)


def _tf():
    global tf
    if tf is None:
        import tensorflow

        if not tensorflow.keras.__name__.startswith("tf_keras"):
            raise PipelineError("TensorFlow was imported without TF_USE_LEGACY_KERAS=1, so larq "
                                "cannot load (it needs Keras 2): set TF_USE_LEGACY_KERAS=1 before "
                                "anything imports TensorFlow")
        tf = tensorflow
    return tf


# --- how each layer maps -------------------------------------------------------------------------
def same_padding_matches(layer: ir.BConv2d) -> bool:
    """True when Keras 'same' padding pads exactly like the IR (same output size, same top/left)."""
    for size, k in zip(layer.in_shape[:2], layer.kernel):
        out = (size + 2 * layer.padding - k) // layer.stride + 1
        same_out = math.ceil(size / layer.stride)
        total = max((same_out - 1) * layer.stride + k - size, 0)
        if out != same_out or total // 2 != layer.padding:
            return False
    return True


def conv_plan(layer: ir.BConv2d) -> dict:
    """How a bconv2d is expressed in Keras/LCE: padding mode, group handling, op count."""
    cg = layer.in_shape[2] // layer.groups
    if layer.padding == 0:
        padding = "valid"
    elif same_padding_matches(layer):
        padding = "same (pad_values=1)"
    else:
        padding = "ZeroPadding2D on the float input + valid (sign(0)=+1 makes it one-padding)"
    native_groups = layer.groups == 1 or cg % LCE_GROUP_CHANNELS == 0
    return {"padding": padding, "native_groups": native_groups,
            "bconv_ops": 1 if native_groups else layer.groups}


def layer_report(model: ir.Model) -> list[dict]:
    """Per IR layer: the TFLite ops it becomes and, where it is not an LCE op, why (each kind's
    ``tflite_report`` part)."""
    return [{"layer": layer.name, "kind": layer.kind, **ops.op_for(layer).tflite_report(layer)}
            for layer in model.layers]


# --- Keras model ---------------------------------------------------------------------------------
def threshold_bn(keras, name: str, threshold: np.ndarray, flip: np.ndarray, y):
    """BatchNorm giving s*(dot - T + 0.5): sign is (dot >= T) != flip, never 0."""
    bn = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name)
    out = bn(y)
    s = np.where(flip.astype(bool), -1.0, 1.0)
    n = s.size
    bn.set_weights([s.astype(np.float32),
                    (-s * (threshold.astype(np.float64) - 0.5)).astype(np.float32),
                    np.zeros(n, np.float32), np.full(n, 1.0 - BN_EPSILON, np.float32)])
    return out


def quant_conv(lq, name: str, kernel_pm1: np.ndarray, strides: int, padding: str, groups: int,
               x):
    """QuantConv2D with +-1 kernel [kh, kw, Cin/G, Cout] (ste_sign input and kernel quantizers,
    so the converter makes it an LceBconv2d)."""
    conv = lq.layers.QuantConv2D(
        kernel_pm1.shape[-1], kernel_pm1.shape[:2], strides=strides, padding=padding,
        pad_values=1.0 if padding == "same" else 0.0, groups=groups, use_bias=False,
        input_quantizer="ste_sign", kernel_quantizer="ste_sign", kernel_constraint="weight_clip",
        name=name)
    y = conv(x)
    conv.set_weights([kernel_pm1.astype(np.float32)])
    return y


def build_keras(model: ir.Model):
    """The larq/Keras model of an IR: uint8 NHWC in, (int32 logits, int64 class) out."""
    _tf()
    import larq as lq
    import tf_keras as keras

    model.validate()
    # Keras names must be unique: prefix each layer's name with its index ("l3_conv2"), so no
    # layer name, and no suffix the builders add ("_bn", "_pad"), can meet another or the
    # fixed names below ("image", "pixels", "logits", "class").
    layers = [dataclasses.replace(layer, name=f"l{i}_{layer.name}")
              for i, layer in enumerate(model.layers)]
    inp = keras.Input(model.input_shape, dtype="uint8", name="image")
    x = keras.layers.Lambda(lambda t: tf.cast(t, tf.float32), name="pixels")(inp)
    for layer in layers:  # each kind's layers: the ``tflite`` part of pipeline/ops/<kind>.py
        x = ops.op_for(layer).tflite(keras, lq, layer, x)
    logits, classes = x
    return keras.Model(inp, [logits, classes], name="glt_bnn")


# --- conversion, inspection, running -------------------------------------------------------------
def convert(model: ir.Model) -> bytes:
    """IR -> TFLite flatbuffer bytes via ``larq_compute_engine.convert_keras_model``."""
    _tf()
    import larq_compute_engine as lce
    import tf_keras as keras

    try:
        return lce.convert_keras_model(build_keras(model))
    finally:
        keras.backend.clear_session()  # many models per process (tests) must not pile up


def op_histogram(flatbuffer: bytes) -> dict[str, int]:
    """Count of each operator in the file: builtin names (e.g. CONV_2D) or custom codes."""
    from larq_compute_engine.mlir.python import tflite_schema as S

    names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
    fb = S.ModelT.InitFromObj(S.Model.GetRootAsModel(bytearray(flatbuffer), 0))
    counts: Counter = Counter()
    for sub in fb.subgraphs:
        for op in sub.operators or []:
            code = fb.operatorCodes[op.opcodeIndex]
            if code.customCode:
                counts[code.customCode.decode()] += 1
            else:  # the schema keeps small codes in the deprecated field too; take the larger
                counts[names[max(code.builtinCode, code.deprecatedBuiltinCode)]] += 1
    return dict(sorted(counts.items()))


def expected_bconv_ops(model: ir.Model) -> int:
    """Number of LceBconv2d ops the file must hold: one per conv/group split, one per dense."""
    return sum(ops.op_for(layer).lce_bconv_ops(layer) for layer in model.layers)


def check_binary_ops(model: ir.Model, hist: dict[str, int]) -> None:
    """Raise :class:`TFLiteOpsError` unless every binary layer became an LCE binary op."""
    want = expected_bconv_ops(model)
    floats = {op: hist[op] for op in FLOAT_CONV_OPS if op in hist}
    if hist.get("LceBconv2d", 0) != want or not hist.get("LceQuantize") or floats:
        raise TFLiteOpsError(
            f"the TFLite file holds {hist.get('LceBconv2d', 0)} LceBconv2d (want {want}), "
            f"{hist.get('LceQuantize', 0)} LceQuantize and float convolutions {floats}: a binary "
            "layer was not converted to LCE ops; check the larq/LCE versions in pyproject.toml")


def export_tflite(model: ir.Model, path: str | os.PathLike) -> Path:
    """Write ``path`` (atomically) after checking its ops; the op report is :func:`layer_report`
    and :func:`op_histogram`."""
    data = convert(model)
    check_binary_ops(model, op_histogram(data))
    return write_bytes_atomic(path, data)


def run_tflite(path_or_bytes, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits int32 [N, K], classes int64 [N]) from the LCE interpreter on uint8 NHWC images."""
    _tf()
    from larq_compute_engine.tflite.python.interpreter import Interpreter

    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else \
        Path(path_or_bytes).read_bytes()
    interp = Interpreter(bytes(data), num_threads=1, use_indirect_bgemm=True)
    outs = interp.predict(np.asarray(images, np.uint8))
    # the converter does not keep Keras' output order: tell them apart by dtype
    by_dtype = {o.dtype: o for o in outs}
    return by_dtype[np.dtype(np.int32)], by_dtype[np.dtype(np.int64)].reshape(-1)
