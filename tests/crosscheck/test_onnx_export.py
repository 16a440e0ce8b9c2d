"""ONNX export (pipeline.export.onnx) against the oracle, exactly, through ONNX Runtime."""
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from pipeline import ir, ops, reference
from pipeline.export import onnx as E

from crosscheck_models import (KIND_CASES, RANDOM_CASES, boundary_model, every_pixel_value_images,
                               kind_case, random_case)


def _check_exact(model, images, path):
    E.export_onnx(model, path)
    onnx.checker.check_model(str(path), full_check=True)
    logits, classes = E.run_onnx(path, images)
    want = reference.run(model, images)
    assert logits.dtype == np.int32 and classes.dtype == np.int64
    assert np.array_equal(logits, want.logits)
    assert np.array_equal(classes, want.classes)


@pytest.mark.parametrize("kind,seed", KIND_CASES)
def test_every_registered_kind_matches_oracle(kind, seed, tmp_path):
    """Every kind of the registry; a kind this format cannot express raises the named error
    its op declares (``unsupported``), nothing else."""
    model, images = kind_case(kind, seed)
    op = ops.get(kind)
    if "onnx" in op.unsupported:
        with pytest.raises(ops.OpUnsupportedError, match=kind):
            _check_exact(model, images, tmp_path / "model.onnx")
        return
    _check_exact(model, images, tmp_path / "model.onnx")


@pytest.mark.parametrize("seed,overrides", RANDOM_CASES)
def test_random_ir_matches_oracle(seed, overrides, tmp_path):
    model, images = random_case(seed, overrides)
    _check_exact(model, images, tmp_path / "model.onnx")


def test_thresholds_met_with_equality(tmp_path):
    _check_exact(boundary_model(), every_pixel_value_images(), tmp_path / "model.onnx")


def test_ties_go_to_the_lowest_class(tmp_path):
    """mult = 0 makes every logit equal the bias: equal biases tie, the oracle takes the first."""
    model, images = random_case(3, {})
    last = model.layers[-1]
    assert last.out_features >= 3  # classes 1 and 2 tie
    bias = np.array([5, 9, 9] + [1] * (last.out_features - 3), np.int32)[:last.out_features]
    tied = ir.Model(model.layers[:-1] + (ir.BDense(
        last.name, last.in_shape, last.out_features, last.weights, True, last.in_pack_groups,
        mult=np.zeros(last.out_features, np.int32), bias=bias),)).validate()
    _check_exact(tied, images, tmp_path / "model.onnx")
    assert np.all(reference.run(tied, images).classes == int(np.argmax(bias)))


def test_float_tensors_hold_small_integers_only():
    """Every float constant is +-1 (weights, pad and Where values): dots stay exact integers."""
    model, _ = random_case(103, {"maxpool": True, "conv_layers": 3})
    proto = E.build_onnx(model)
    floats = [numpy_helper.to_array(t) for t in proto.graph.initializer
              if t.data_type == onnx.TensorProto.FLOAT]
    assert floats
    for arr in floats:
        assert set(np.unique(arr).tolist()) <= {-1.0, 1.0}
    assert "Sign" not in E.op_histogram_of(proto)


def test_graph_uses_standard_ops_only():
    model, _ = random_case(0, {})
    proto = E.build_onnx(model)
    assert {op.domain for op in proto.opset_import} == {""}
    assert all(node.domain == "" for node in proto.graph.node)
    hist = E.op_histogram_of(proto)
    assert hist["Conv"] == sum(layer.kind == "bconv2d" for layer in model.layers)
    assert hist["ArgMax"] == 1
