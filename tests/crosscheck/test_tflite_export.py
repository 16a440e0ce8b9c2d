"""TFLite (LCE) export (pipeline.export.tflite) against the oracle, exactly, through the LCE
interpreter; and the file must hold binary LCE ops, not float convolutions."""
import numpy as np
import pytest

from pipeline import ir, ops, reference
from pipeline.export import tflite as E

from crosscheck_models import (KIND_CASES, RANDOM_CASES, boundary_model, every_pixel_value_images,
                               kind_case, lce_native_model, random_case)


def _check_exact(model, images, path):
    E.export_tflite(model, path)
    hist = E.op_histogram(path.read_bytes())
    assert hist.get("LceBconv2d") == E.expected_bconv_ops(model)
    assert hist.get("LceQuantize", 0) >= 1
    assert not set(hist) & set(E.FLOAT_CONV_OPS), hist
    logits, classes = E.run_tflite(path, images)
    want = reference.run(model, images)
    assert logits.dtype == np.int32 and classes.dtype == np.int64
    assert np.array_equal(logits, want.logits)
    assert np.array_equal(classes, want.classes)
    return hist


@pytest.mark.parametrize("kind,seed", KIND_CASES)
def test_every_registered_kind_matches_oracle(kind, seed, tmp_path):
    """Every kind of the registry; a kind this format cannot express raises the named error
    its op declares (``unsupported``), nothing else."""
    model, images = kind_case(kind, seed)
    op = ops.get(kind)
    if "tflite" in op.unsupported:
        with pytest.raises(ops.OpUnsupportedError, match=kind):
            _check_exact(model, images, tmp_path / "model.tflite")
        return
    _check_exact(model, images, tmp_path / "model.tflite")


@pytest.mark.parametrize("seed,overrides", RANDOM_CASES)
def test_random_ir_matches_oracle(seed, overrides, tmp_path):
    model, images = random_case(seed, overrides)
    _check_exact(model, images, tmp_path / "model.tflite")


def test_thresholds_met_with_equality(tmp_path):
    _check_exact(boundary_model(), every_pixel_value_images(), tmp_path / "model.tflite")


def test_lce_native_shapes_use_same_padding_and_groups(tmp_path):
    """'same' one-padding (stride 1 and 2) and LCE's own groups: one LceBconv2d per layer."""
    model = lce_native_model()
    convs = [layer for layer in model.layers if isinstance(layer, ir.BConv2d)]
    plans = [E.conv_plan(layer) for layer in convs]
    assert [p["padding"] for p in plans] == ["same (pad_values=1)"] * 3
    assert all(p["native_groups"] and p["bconv_ops"] == 1 for p in plans)
    assert [layer.groups for layer in convs] == [1, 2, 2]
    images = np.random.default_rng(5).integers(0, 256, (64,) + model.input_shape, np.uint8)
    hist = _check_exact(model, images, tmp_path / "model.tflite")
    assert hist["LceBconv2d"] == 5  # three convs, two dense layers
    assert "PAD" not in hist and "PADV2" not in hist  # one-padding happens inside LceBconv2d
    assert "SPLIT" not in hist  # groups run inside LceBconv2d


def test_fallbacks_are_reported():
    """Padding LCE's 'same' cannot express, and groups LCE cannot run, are named in the report."""
    rng = np.random.default_rng(3)
    thermo = ir.Thermometer("thermo", (8, 8, 1), 6, "base2", np.zeros((1, 0), np.int32))
    conv = ir.BConv2d("conv", (8, 8, 6), 4, (1, 1), 1, 1, 2,
                      weights=rng.integers(0, 8, (4, 1, 1, 1)).astype(np.uint32),
                      threshold=np.zeros(4, np.int32), flip=np.zeros(4, np.uint8))
    plan = E.conv_plan(conv)
    assert plan["padding"].startswith("ZeroPadding2D") and plan["bconv_ops"] == 2
    out = ir.BDense("logits", conv.out_shape, 3, np.zeros((3, 100), np.uint32), True,
                    mult=np.ones(3, np.int32), bias=np.zeros(3, np.int32))
    rows = {r["layer"]: r for r in E.layer_report(ir.Model((thermo, conv, out)).validate())}
    assert "why_not_lce" in rows["thermo"] and "why_not_lce" in rows["logits"]
    assert "multiple of 32" in rows["conv"]["groups"]


def test_float_convolution_in_file_is_refused():
    model, _ = random_case(0, {})
    good = {"LceBconv2d": E.expected_bconv_ops(model), "LceQuantize": 2}
    E.check_binary_ops(model, good)
    for bad in ({**good, "CONV_2D": 1}, {**good, "LceBconv2d": good["LceBconv2d"] - 1},
                {"LceBconv2d": good["LceBconv2d"]}):
        with pytest.raises(E.TFLiteOpsError):
            E.check_binary_ops(model, bad)


def test_random_cases_cover_the_shapes_and_fallbacks():
    """The 24 random IRs above exercise every setting and every TFLite mapping path."""
    seen = set()
    for seed, overrides in RANDOM_CASES:
        model, _ = random_case(seed, overrides)
        thermo = model.layers[0]
        seen |= {f"mode={thermo.mode}", f"in_channels={thermo.in_shape[2]}"}
        for layer in model.layers:
            is_dense = isinstance(layer, ir.BDense)
            seen.add(f"dense output={layer.output}" if is_dense else layer.kind)
            if isinstance(layer, ir.BConv2d):
                plan = E.conv_plan(layer)
                seen |= {f"kernel={layer.kernel[0]}", f"stride={layer.stride}",
                         f"padding={layer.padding}", f"grouped={layer.groups > 1}",
                         f"pad={plan['padding'].split()[0]}", f"split={not plan['native_groups']}"}
    want = {"mode=thresholds", "mode=base2", "in_channels=1", "in_channels=3", "bmaxpool2d",
            "dense output=False", "dense output=True", "kernel=1", "kernel=3", "kernel=5",
            "stride=1", "stride=2", "padding=0", "padding=1", "grouped=True", "grouped=False",
            "pad=same", "pad=ZeroPadding2D", "pad=valid", "split=True", "split=False"}
    assert want <= seen, sorted(want - seen)


def test_layer_names_that_meet_keras_names_still_export(tmp_path):
    """Valid C names that equal the exporter's own Keras names ('pixels', 'logits') or its
    suffixes ('a' next to 'a_bn') used to fail with a duplicate-name ValueError."""
    import dataclasses
    model, images = random_case(*RANDOM_CASES[0])
    names = ["pixels", "a", "a_bn", "logits", "class", "image"]
    layers = [dataclasses.replace(layer, name=names[i % len(names)] + ("" if i < len(names)
                                                                       else str(i)))
              for i, layer in enumerate(model.layers)]
    _check_exact(ir.Model(tuple(layers)).validate(), images, tmp_path / "model.tflite")
