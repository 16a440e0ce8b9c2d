"""The layer-kind registry (pipeline.ops): every registered kind provides every part, and the
oracle-level checks run over the registry, so a new kind is exercised without being listed.

The host-C, QEMU and export checks over the registry live with their layers:
tests/render/test_render.py, tests/emulate/test_models_in_qemu.py, tests/crosscheck/."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline import config, ir, ops, random_ir, reference, resources
from pipeline.config import EncodingConfig, ModelConfig
from pipeline.lower import to_ir
from pipeline.nn.models import BNN, arch_bits, make_arch

ROOT = Path(__file__).resolve().parents[2]
KINDS = ops.kinds()
CONFIG_KINDS = [k for k in KINDS if ops.get(k).config_key]


def test_the_built_in_kinds_are_registered():
    assert {"thermometer", "bconv2d", "bmaxpool2d", "bdense"} <= set(KINDS)
    assert ir.BConv2d is ops.get("bconv2d").layer  # the IR's names still resolve
    assert ir.LAYER_TYPES == {k: ops.get(k).layer for k in KINDS}
    with pytest.raises(AttributeError):
        ir.NoSuchLayer  # noqa: B018


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_every_part(kind):
    op = ops.get(kind)
    assert ops.missing_parts(op) == []
    assert op.layer.kind == kind and issubclass(op.layer, ir.Layer)
    for part in ("out_shape", "bits", "validate"):  # the IR dataclass's own parts
        assert getattr(op.layer, part) is not getattr(ir.Layer, part), part
    template = resources.templates_dir() / "model" / "ops" / f"{kind}.c.j2"
    text = template.read_text()
    assert "{% macro params(p, pre) %}" in text and "{% macro call(p, prm, src, dst) %}" in text
    assert (ROOT / "pipeline" / "ops" / f"{kind}.py").is_file()
    if op.config_key:
        assert config.LAYER_KEYS[op.config_key] == set(op.config_keys)


@pytest.mark.parametrize("kind", KINDS)
def test_the_params_struct_of_every_kind_is_in_the_runtime_header(kind):
    header = (resources.templates_dir() / "runtime" / "bnn.h").read_text()
    model = random_ir.model_with(0, kind)
    for layer in model.layers:
        struct = ops.op_for(layer).c_params_type(layer)
        assert re.search(r"\}\s*" + struct + r"\s*;", header), struct


def test_a_kind_that_lacks_a_part_is_reported():
    class Half(ops.LayerOp):
        kind = "half"
        config_key = "half"

        def oracle(self, layer, x, out_pack_groups):
            return x

    missing = ops.missing_parts(Half())
    assert "oracle" not in missing
    assert {"onnx", "tflite", "c_params_type", "random_layer", "lower", "torch_module",
            "normalise", "skeleton"} <= set(missing)

    class BadUnsupported(Half):
        unsupported = {"oracle": "no"}
    assert "oracle (cannot be unsupported)" in ops.missing_parts(BadUnsupported())


def test_an_unsupported_part_counts_as_provided_and_raises_its_named_error():
    class NoLce(ops.LayerOp):
        kind = "nolce"
        unsupported = {"tflite": "LCE has no such op"}

        def tflite(self, keras, lq, layer, x):
            raise self.unsupported_error("tflite")

    op = NoLce()
    assert "tflite" not in ops.missing_parts(op)
    with pytest.raises(ops.OpUnsupportedError, match="nolce: tflite .*LCE has no such op"):
        op.tflite(None, None, None, None)
    assert issubclass(ops.OpUnsupportedError, ops.PipelineError)


def test_registering_twice_or_a_mismatched_class_is_an_error():
    with pytest.raises(ops.OpError):
        ops.register(ops.get("bconv2d"))

    class Wrong(ops.LayerOp):
        kind = "wrong"
        layer = ir.BDense
    with pytest.raises(ops.OpError, match="kind"):
        ops.register(Wrong())
    with pytest.raises(ops.OpError, match="known"):
        ops.get("nope")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", KINDS)
def test_random_models_of_every_kind_are_valid_and_survive_a_file(kind, seed, tmp_path):
    model = random_ir.model_with(seed, kind)
    assert kind in [layer.kind for layer in model.layers]
    path = model.save(tmp_path / "m.ir.json")
    again = ir.Model.load(path)
    assert again.sha256() == model.sha256()
    images = random_ir.random_images(seed, 5, model.input_shape)
    a, b = reference.run(model, images), reference.run(again, images)
    assert a.logits.dtype == np.int32 and np.array_equal(a.logits, b.logits)
    assert model.bits() == sum(sum(ir.layer_bits(layer).values()) for layer in model.layers)


@pytest.mark.parametrize("kind", KINDS)
def test_the_oracle_step_is_reachable_by_kind_name(kind):
    model = random_ir.model_with(1, kind)
    images = random_ir.random_images(1, 3, model.input_shape)
    x = images
    for i, layer in enumerate(model.layers):
        step = getattr(reference, layer.kind)
        x = step(layer, x, model.out_pack_groups(i))
    assert np.array_equal(x, reference.run(model, images).logits)


def _randomised(model: BNN, seed: int) -> BNN:
    """Random BatchNorm statistics, so thresholds and flips are not all alike."""
    torch.manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                mod.running_mean.normal_(0, 2)
                mod.running_var.uniform_(0.5, 4)
                mod.weight.normal_()
                mod.bias.normal_(0, 0.5)
    return model.eval()


@pytest.mark.parametrize("encoding", ["glt", "base2"])
@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_torch_matches_the_oracle_for_every_config_kind(kind, encoding):
    """The kind's example layers as a config: torch in eval mode, lowered, gives the oracle's
    logits exactly; the skeleton bit count equals the lowered IR's."""
    op = ops.get(kind)
    cfg = ModelConfig(encoding=EncodingConfig(kind=encoding, planes=2), layers=op.example_layers())
    arch = make_arch(cfg, (6, 6, 1), 5)
    assert any(op.config_key in spec for spec in arch["layers"])
    model = _randomised(BNN(arch), 3)
    lowered = to_ir(model)
    assert kind in [layer.kind for layer in lowered.layers]
    assert lowered.bits() == arch_bits(arch)
    images = random_ir.random_images(4, 64, (6, 6, 1))
    want = model.integer_logits(torch.from_numpy(images)).numpy()
    got = reference.run(lowered, images).logits
    assert np.array_equal(got.astype(np.int64), want)


ALLOWED_KIND_TESTS = {
    # features of the input encoding itself, not dispatch: the tone-curve plot, in-sensor
    "pipeline/report.py": 1,
    "pipeline/insensor.py": 1,
}


def test_no_kind_dispatch_outside_the_registry():
    """``isinstance(x, ir.<Layer class>)`` and ``kind ==`` chains belong to pipeline/ops only."""
    classes = "|".join(ops.layer_types()[k].__name__ for k in KINDS)
    names = "|".join(KINDS)
    keys = "|".join(ops.config_ops())
    pattern = re.compile(rf"isinstance\([^)]*\b(ir\.)?({classes})\b|kind\s*==\s*[\"']({names})"
                         rf"|[\"']({keys})[\"'] in ")
    found = {}
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("pipeline/ops/"):
            continue
        hits = [line for line in path.read_text().splitlines() if pattern.search(line)]
        if hits:
            found[rel] = len(hits)
    for path in sorted((ROOT / "firmware_templates" / "model").glob("*.j2")):
        hits = [line for line in path.read_text().splitlines() if pattern.search(line)]
        if hits:
            found[path.relative_to(ROOT).as_posix()] = len(hits)
    assert found == ALLOWED_KIND_TESTS


def test_the_registry_imports_without_torch_onnx_or_tensorflow():
    """Config loading and the CLI import pipeline.ops: the heavy libraries load in the hooks."""
    code = ("import sys, pipeline.ops, pipeline.config, pipeline.ir; "
            "print(sorted({'torch', 'onnx', 'tensorflow'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]"
