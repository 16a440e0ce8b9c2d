"""IR -> ONNX: a graph of standard ops that ONNX Runtime runs as is.

Input ``image``: uint8 NHWC; outputs ``logits`` (int32 [N, classes]) and ``class`` (int64 [N],
ArgMax with ``select_last_index=0``: ties go to the lowest index, as the oracle's).

Binary values travel as float tensors holding +1 or -1 (NCHW, ONNX's Conv layout). **Every float
tensor holds exact small integers only**: +-1 activations and weights, and dot products, which are
sums of at most K products of +-1, so |dot| <= K < 2**24 and float32 adds them exactly in any order
(no rounding ever happens). Dots are cast to int32 before any compare, so thresholds, flips, the
logits (``dot*mult + bias``, int32 arithmetic) and the argmax are integer operations.

``sign(0) = +1`` is kept by never using ONNX ``Sign`` (which gives 0): every +-1 tensor comes out of
a boolean compare through ``Where(b, +1, -1)``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .. import bits as B
from .. import ir
from ..atomic import write_bytes_atomic

OPSET = 18  # BitwiseAnd (base-2 thermometer) needs opset 18
INPUT_NAME, LOGITS_NAME, CLASS_NAME = "image", "logits", "class"


class _Graph:
    """Accumulates nodes and constant initializers with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, output: str | None = None,
           **attrs) -> str:
        out = output or self.name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name(op_type),
                                           **attrs))
        return out

    def plus_minus_one(self, is_plus: str, hint: str) -> str:
        """Boolean -> +1.0 / -1.0 (the only way +-1 tensors are made: sign(0) = +1 upstream)."""
        return self.op("Where", [is_plus, self.const("plus1", np.float32(1.0)),
                                 self.const("minus1", np.float32(-1.0))], hint)

    def threshold(self, dot: str, threshold: np.ndarray, flip: np.ndarray, shape: tuple,
                  hint: str) -> str:
        """+1 where (dot >= threshold) != flip, computed on int32."""
        dot_i = self.op("Cast", [dot], hint + "_dot_i32", to=TensorProto.INT32)
        t = self.const(hint + "_threshold", threshold.astype(np.int32).reshape(shape))
        f = self.const(hint + "_flip", flip.astype(bool).reshape(shape))
        ge = self.op("GreaterOrEqual", [dot_i, t], hint + "_ge")
        return self.plus_minus_one(self.op("Xor", [ge, f], hint + "_bit"), hint + "_pm1")


def _thermometer(g: _Graph, layer: ir.Thermometer, image_nchw: str) -> str:
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
        bit = g.op("BitwiseAnd", [g.op("BitShift", [x, shifts], "shifted", direction="RIGHT"),
                                  one], layer.name + "_bit")
        is_plus = g.op("Equal", [bit, one], layer.name + "_is_set")
    # channel c*M + k, as the IR orders them
    flat = g.op("Reshape", [is_plus, g.const("shape", np.array([0, c * m, h, w], np.int64))],
                layer.name + "_planes")
    return g.plus_minus_one(flat, layer.name)


def _bconv2d(g: _Graph, layer: ir.BConv2d, x: str) -> str:
    cin = layer.in_shape[2]
    cg = cin // layer.groups
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


def _bmaxpool2d(g: _Graph, layer: ir.BMaxPool2d, x: str) -> str:
    # max of +-1 values = AND of bits; no padding, floor output size (ONNX's defaults)
    return g.op("MaxPool", [x], layer.name, kernel_shape=[layer.kernel] * 2,
                strides=[layer.stride] * 2)


def dense_weights_nchw(layer: ir.BDense) -> np.ndarray:
    """+-1 weights [N, C, H, W] from the IR's packed layout (input flattened as H, W, words)."""
    h, w, c = layer.in_shape
    words = layer.weights.reshape(layer.out_features, h, w, -1)
    bits = B.unpack(words, c, layer.in_pack_groups)  # [N, H, W, C], true channel order
    return B.from_bits(bits).transpose(0, 3, 1, 2)


def _bdense(g: _Graph, layer: ir.BDense, x: str) -> str:
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
    logits = g.op("Add", [scaled, g.const(layer.name + "_bias", layer.bias.astype(np.int32))],
                  layer.name, output=LOGITS_NAME)
    g.op("ArgMax", [logits], "argmax", output=CLASS_NAME, axis=1, keepdims=0,
         select_last_index=0)
    return logits


_BUILDERS = {"bconv2d": _bconv2d, "bmaxpool2d": _bmaxpool2d, "bdense": _bdense}


def build_onnx(model: ir.Model) -> onnx.ModelProto:
    """The ONNX model of an IR (validated first)."""
    model.validate()
    g = _Graph()
    x = g.op("Transpose", [INPUT_NAME], "image_nchw", perm=[0, 3, 1, 2])
    x = _thermometer(g, model.layers[0], x)
    for layer in model.layers[1:]:
        x = _BUILDERS[layer.kind](g, layer, x)
    h, w, c = model.input_shape
    graph = helper.make_graph(
        g.nodes, "glt_bnn", [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8,
                                                           ["batch", h, w, c])],
        [helper.make_tensor_value_info(LOGITS_NAME, TensorProto.INT32,
                                       ["batch", model.num_classes]),
         helper.make_tensor_value_info(CLASS_NAME, TensorProto.INT64, ["batch"])],
        initializer=g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="glt-bnn-pipeline")
    proto.doc_string = f"GLT-BNN exported from IR sha256 {model.sha256()}"
    proto.ir_version = 9  # readable by onnxruntime >= 1.16
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(model: ir.Model, path: str | os.PathLike) -> Path:
    """Write ``path`` (atomically) and return it."""
    return write_bytes_atomic(path, build_onnx(model).SerializeToString())


def run_onnx(path: str | os.PathLike, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits int32 [N, K], classes int64 [N]) from ONNX Runtime on uint8 NHWC images."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    logits, classes = sess.run([LOGITS_NAME, CLASS_NAME], {INPUT_NAME: np.asarray(images,
                                                                                   np.uint8)})
    return logits, classes


def op_histogram(path: str | os.PathLike) -> dict[str, int]:
    """Count of each op type in an ONNX file."""
    return op_histogram_of(onnx.load(str(path)))


def op_histogram_of(proto: onnx.ModelProto) -> dict[str, int]:
    """Count of each op type in an ONNX model (custom domains prefixed)."""
    counts: dict[str, int] = {}
    for node in proto.graph.node:
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
