"""The integer IR (pipeline.ir): files, hashing, validation; and the random IR generator."""
import dataclasses
import json

import numpy as np
import pytest

from pipeline import bits as B
from pipeline import ir
from pipeline import random_ir as R


def replace_layer(model, index, **changes):
    layers = list(model.layers)
    layers[index] = dataclasses.replace(layers[index], **changes)
    return ir.Model(tuple(layers), model.metadata)


def first(model, kind, output=None):
    return next(i for i, layer in enumerate(model.layers)
                if layer.kind == kind and (output is None or layer.output == output))


def model_with(seed=0, **overrides):
    """A random model, re-drawn until it has a max-pool and a hidden dense (for the error tests)."""
    for s in range(seed, seed + 100):
        m = R.random_model(s, mode="thresholds", maxpool=True, hidden_dense=9, **overrides)
        if any(layer.kind == "bmaxpool2d" for layer in m.layers):
            return m
    raise AssertionError("no random model with a max-pool")


# --- files and hashing ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_save_load_round_trip(tmp_path, seed):
    model = R.random_model(seed)
    path = model.save(tmp_path / "model.ir.json")
    assert (tmp_path / "model.ir.npz").exists()
    loaded = ir.Model.load(path)
    assert loaded.sha256() == model.sha256() == json.loads(path.read_text())["sha256"]
    assert loaded.metadata == json.loads(json.dumps(model.metadata))
    assert [layer.kind for layer in loaded.layers] == [layer.kind for layer in model.layers]
    assert loaded._structure() == model._structure()
    a, b = model.arrays(), loaded.arrays()
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key]), key


def test_changed_arrays_raise_hash_mismatch(tmp_path):
    model = R.random_model(1)
    path = model.save(tmp_path / "m.ir.json")
    arrays = dict(np.load(tmp_path / "m.ir.npz"))
    key = next(k for k in arrays if k.endswith("/weights"))
    arrays[key] = arrays[key].copy()
    arrays[key].flat[0] ^= np.uint32(1)  # one weight bit
    np.savez(tmp_path / "m.ir.npz", **arrays)
    with pytest.raises(ir.HashMismatchError):
        ir.Model.load(path)


def test_changed_structure_raises_hash_mismatch(tmp_path):
    path = R.random_model(2).save(tmp_path / "m.ir.json")
    doc = json.loads(path.read_text())
    doc["layers"][0]["encoding"] = "uniform"  # valid, but not what was hashed
    path.write_text(json.dumps(doc))
    with pytest.raises(ir.HashMismatchError):
        ir.Model.load(path)


@pytest.mark.parametrize("field,value", [("format_version", 99), ("format_version", None),
                                         ("format", "something-else")])
def test_unknown_format_raises_format_version_error(tmp_path, field, value):
    path = R.random_model(3).save(tmp_path / "m.ir.json")
    doc = json.loads(path.read_text())
    doc[field] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(ir.FormatVersionError):
        ir.Model.load(path)


def test_not_json_raises_format_version_error(tmp_path):
    path = tmp_path / "m.ir.json"
    path.write_text("not json {")
    with pytest.raises(ir.FormatVersionError):
        ir.Model.load(path)


def test_invalid_model_is_not_written(tmp_path):
    model = R.random_model(4)
    bad = replace_layer(model, 1, threshold=np.full(model.layers[1].out_channels,
                                                    model.layers[1].k + 2))
    with pytest.raises(ir.ThresholdRangeError):
        bad.save(tmp_path / "bad.ir.json")
    assert list(tmp_path.iterdir()) == []


def test_hash_ignores_numpy_scalar_fields():
    model = R.random_model(5)
    same = replace_layer(model, 1, stride=np.int64(model.layers[1].stride))
    assert same.sha256() == model.sha256()


# --- validation: each malformed IR raises its named error ----------------------------------

def test_unsorted_thermometer_thresholds():
    model = R.random_model(6, planes=4, mode="thresholds")
    t = model.layers[0].thresholds.copy()
    for bad in (t[:, ::-1], np.concatenate([t[:, :1], t[:, :1], t[:, 2:]], axis=1)):
        with pytest.raises(ir.UnsortedThresholdsError):
            replace_layer(model, 0, thresholds=bad).validate()


def test_nonzero_padding_bits_in_conv_weights():
    model = R.random_model(7, in_channels=1, planes=5)  # 5 channels: 27 padding bits per word
    i = first(model, "bconv2d")
    cg = model.layers[i].in_shape[2] // model.layers[i].groups
    w = model.layers[i].weights.copy()
    w[0, 0, 0, -1] |= np.uint32(1) << np.uint32(31)
    assert cg % 32 != 0
    with pytest.raises(ir.PaddingBitsError):
        replace_layer(model, i, weights=w).validate()


def test_nonzero_padding_bits_in_dense_weights():
    model = R.random_model(8, hidden_dense=9)
    i = first(model, "bdense", output=True)  # 9 input channels: padding bits exist
    w = model.layers[i].weights.copy()
    w[-1, -1] |= np.uint32(1) << np.uint32(31)
    with pytest.raises(ir.PaddingBitsError):
        replace_layer(model, i, weights=w).validate()


def shape_errors(model):
    conv = first(model, "bconv2d")
    pool = first(model, "bmaxpool2d")
    out = first(model, "bdense", output=True)
    c = model.layers[conv]
    h, w, ch = c.in_shape
    yield "input shape", replace_layer(model, conv, in_shape=(h + 1, w, ch))
    yield "weights shape", replace_layer(model, conv, weights=c.weights[:-1])
    yield "groups", replace_layer(model, conv, groups=ch + 1)
    yield "pool packing", replace_layer(model, pool, in_pack_groups=model.layers[pool].in_pack_groups + 1)
    yield "dense packing", replace_layer(model, out, in_pack_groups=10)  # 9 inputs: cannot split
    yield "thermometer twice", ir.Model((model.layers[0],
                                         dataclasses.replace(model.layers[0], name="t2"))
                                        + model.layers[1:])
    yield "no output layer", ir.Model(model.layers[:-1])
    yield "empty", ir.Model(())
    yield "duplicate names", replace_layer(model, conv, name=model.layers[0].name)


@pytest.mark.parametrize("case", range(9))
def test_inconsistent_shapes_raise_shape_error(case):
    model = model_with(10)
    name, bad = list(shape_errors(model))[case]
    model.validate()
    with pytest.raises(ir.ShapeError):
        bad.validate()


def threshold_range_errors(model):
    conv = first(model, "bconv2d")
    hidden = first(model, "bdense", output=False)
    out = first(model, "bdense", output=True)
    c, d, o = model.layers[conv], model.layers[hidden], model.layers[out]
    t = model.layers[0].thresholds
    yield replace_layer(model, 0, thresholds=np.minimum(t + 300, 2**15))  # > 256
    yield replace_layer(model, 0, thresholds=t - 300)  # < 0
    yield replace_layer(model, conv, threshold=np.full(c.out_channels, c.k + 2))
    yield replace_layer(model, conv, threshold=np.full(c.out_channels, -c.k - 1))
    yield replace_layer(model, conv, flip=np.full(c.out_channels, 2))
    yield replace_layer(model, hidden, threshold=np.full(d.out_features, d.k + 2))
    yield replace_layer(model, out, mult=np.full(o.out_features, 2**31 // o.k + 1))


@pytest.mark.parametrize("case", range(7))
def test_thresholds_out_of_range_raise_threshold_range_error(case):
    model = model_with(20)
    bad = list(threshold_range_errors(model))[case]
    with pytest.raises(ir.ThresholdRangeError):
        bad.validate()


def test_edge_thresholds_are_valid():
    model = R.random_model(9)
    c = model.layers[1]
    replace_layer(model, 1, threshold=np.full(c.out_channels, c.k + 1)).validate()
    replace_layer(model, 1, threshold=np.full(c.out_channels, -c.k)).validate()


# --- the random IR generator ---------------------------------------------------------------

def test_random_model_is_deterministic_per_seed():
    assert R.random_model(42).sha256() == R.random_model(42).sha256()
    assert R.random_model(42).sha256() != R.random_model(43).sha256()
    assert R.small_model(3).sha256() == R.small_model(3).sha256()
    assert np.array_equal(R.random_images(1, 4, (5, 6, 3)), R.random_images(1, 4, (5, 6, 3)))
    images = R.random_images(1, 4, (5, 6, 3))
    assert images.dtype == np.uint8 and images.shape == (4, 5, 6, 3)


def test_random_models_cover_the_features():
    seen = {"groups": set(), "kernel": set(), "stride": set(), "padding": set(), "planes": set(),
            "in_channels": set(), "mode": set(), "odd_channels": False, "maxpool": False,
            "hidden_dense": False, "dense_pack_groups": set()}
    for seed in range(300):
        model = R.random_model(seed)  # validated inside
        t = model.layers[0]
        seen["planes"].add(t.planes)
        seen["in_channels"].add(t.in_shape[2])
        seen["mode"].add(t.mode)
        for layer in model.layers[1:]:
            if layer.kind == "bconv2d":
                seen["groups"].add(layer.groups)
                seen["kernel"].update(layer.kernel)
                seen["stride"].add(layer.stride)
                seen["padding"].add(layer.padding)
                seen["odd_channels"] |= layer.out_channels % 2 == 1
            seen["maxpool"] |= layer.kind == "bmaxpool2d"
            if layer.kind == "bdense":
                seen["hidden_dense"] |= not layer.output
                seen["dense_pack_groups"].add(layer.in_pack_groups)
    assert seen["groups"] == set(range(1, 9))
    assert seen["kernel"] == {1, 3, 5}
    assert seen["stride"] == {1, 2} and seen["padding"] == {0, 1}
    assert seen["planes"] == set(range(1, 17))
    assert seen["in_channels"] == {1, 3} and seen["mode"] == {"thresholds", "base2"}
    assert seen["odd_channels"] and seen["maxpool"] and seen["hidden_dense"]
    assert len(seen["dense_pack_groups"]) > 3


def test_random_thresholds_are_realistic_and_logits_fit_int32():
    flips, inside = set(), 0
    total = 0
    for seed in range(100):
        for layer in R.random_model(seed).layers[1:]:
            if layer.kind == "bconv2d" or (layer.kind == "bdense" and not layer.output):
                flips.update(layer.flip.tolist())
                inside += int(np.sum(np.abs(layer.threshold) < layer.k))
                total += layer.threshold.size
            if layer.kind == "bdense" and layer.output:
                bound = layer.k * np.abs(layer.mult.astype(np.int64)) + np.abs(layer.bias)
                assert bound.max() <= ir.INT32_MAX
    assert flips == {0, 1}
    assert inside > 0.8 * total  # most thresholds can flip the output either way


def test_random_model_overrides():
    model = R.random_model(1, height=9, width=7, in_channels=3, planes=4, conv_layers=2,
                           hidden_dense=0, classes=6, maxpool=False)
    assert model.input_shape == (9, 7, 3) and model.layers[0].planes == 4
    assert [layer.kind for layer in model.layers] == ["thermometer", "bconv2d", "bconv2d", "bdense"]
    assert model.num_classes == 6
    with pytest.raises(TypeError):
        R.random_model(1, colour="red")


def test_random_activations_have_zero_padding_bits():
    rng = np.random.default_rng(0)
    x = R.random_activations(rng, 3, (4, 5, 21), groups=3)
    assert x.shape == (3, 4, 5, 3) and B.padding_bits_are_zero(x, 21, 3)


# --- strings that reach generated C, ONNX and TFLite -----------------------------------------

@pytest.mark.parametrize("name", ['x"\n#define BNN_MODEL_CLASSES 0\n//', "c-1", "1conv", "conv 1",
                                  "int", "", "a" * 64, "conv\u00e9", "x*/"])
def test_layer_names_must_be_c_identifiers(name):
    model = R.random_model(1)
    with pytest.raises(ir.LayerNameError):
        replace_layer(model, 1, name=name).validate()


def test_names_that_collide_after_mapping_are_rejected_not_mapped():
    """'c-1' and 'c_1' used to map to one C identifier and fail only at the compiler."""
    model = R.random_model(1)
    bad = replace_layer(replace_layer(model, 1, name="c_1"), 2, name="c-1")
    with pytest.raises(ir.LayerNameError, match="c-1"):
        bad.validate()
    with pytest.raises(ir.LayerNameError, match="repeated: c_1"):
        replace_layer(replace_layer(model, 1, name="c_1"), 2, name="c_1").validate()


def test_an_edited_name_in_the_file_is_rejected_on_load(tmp_path):
    path = R.random_model(2).save(tmp_path / "m.ir.json")
    doc = json.loads(path.read_text())
    doc["layers"][1]["name"] = 'q"\n#define X'
    path.write_text(json.dumps(doc))
    with pytest.raises(ir.LayerNameError):
        ir.Model.load(path)


@pytest.mark.parametrize("field, value", [("stride", 3.0), ("padding", "1"), ("groups", True),
                                          ("kernel", [3, "3"]), ("in_shape", [4, 4, 2.0])])
def test_wrong_json_types_are_named_ir_errors(tmp_path, field, value):
    path = model_with(4).save(tmp_path / "m.ir.json")
    doc = json.loads(path.read_text())
    conv = next(layer for layer in doc["layers"] if layer["kind"] == "bconv2d")
    conv[field] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(ir.IRCorruptError, match=field):
        ir.Model.load(path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_damaged_arrays_file_is_a_named_ir_error(tmp_path, damage):
    path = R.random_model(5).save(tmp_path / "m.ir.json")
    npz = tmp_path / "m.ir.npz"
    data = bytearray(npz.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":  # one bit inside the stored bytes of the largest array
        import struct
        import zipfile
        with zipfile.ZipFile(npz) as z:
            info = max(z.infolist(), key=lambda i: i.file_size)
        n, e = struct.unpack("<HH", bytes(data[info.header_offset + 26:info.header_offset + 30]))
        data[info.header_offset + 30 + n + e + info.compress_size - 1] ^= 0x01
    else:
        data = bytearray()
    npz.write_bytes(bytes(data))
    with pytest.raises(ir.IRCorruptError):
        ir.Model.load(path)


def test_missing_ir_file_is_named(tmp_path):
    with pytest.raises(ir.IRMissingError, match="lower"):
        ir.Model.load(tmp_path / "none.ir.json")
    with pytest.raises(ir.IRMissingError):
        ir.Model.load(tmp_path)


def test_arrays_file_must_lie_beside_the_json(tmp_path):
    path = R.random_model(6).save(tmp_path / "m.ir.json")
    doc = json.loads(path.read_text())
    doc["arrays_file"] = "../elsewhere.npz"
    path.write_text(json.dumps(doc))
    with pytest.raises(ir.IRCorruptError, match="beside"):
        ir.Model.load(path)


@pytest.mark.parametrize("mutate", [
    lambda d: d["layers"].append(1),
    lambda d: d["layers"].append("conv"),
    lambda d: d.update(metadata=None),
    lambda d: d.update(metadata="x"),
    lambda d: d.update(arrays_file=""),
    lambda d: d.update(arrays_file="m.ir.json"),
])
def test_wrong_json_structure_is_a_named_ir_error(tmp_path, mutate):
    path = R.random_model(7).save(tmp_path / "m.ir.json")
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(ir.IRCorruptError):
        ir.Model.load(path)
