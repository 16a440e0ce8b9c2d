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

from .. import ir, ops
from ..atomic import write_bytes_atomic

OPSET = 18  # BitwiseAnd (base-2 thermometer) needs opset 18
INPUT_NAME, LOGITS_NAME, CLASS_NAME = "image", "logits", "class"


class Graph:
    """Accumulates nodes and constant initializers with unique names; the ``onnx`` part of a
    layer kind (:mod:`pipeline.ops`) adds its nodes through it."""

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


def dense_weights_nchw(layer) -> np.ndarray:
    """See :func:`pipeline.ops.bdense.dense_weights_nchw`."""
    from ..ops.bdense import dense_weights_nchw as weights
    return weights(layer)


def build_onnx(model: ir.Model) -> onnx.ModelProto:
    """The ONNX model of an IR (validated first)."""
    model.validate()
    g = Graph()
    x = g.op("Transpose", [INPUT_NAME], "image_nchw", perm=[0, 3, 1, 2])
    for layer in model.layers:  # each kind's nodes: the ``onnx`` part of pipeline/ops/<kind>.py
        x = ops.op_for(layer).onnx(g, layer, x)
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
