"""Rendering: filters, determinism, and a whole rendered model compiled on the host vs the oracle."""
import subprocess

import jinja2
import numpy as np
import pytest

from pipeline import random_ir, reference, render, verify
from pipeline.emulate import parse_records

TARGET_ONLY = {"startup.c", "fault.c", "icount.c", "semihosting.c", "stack.c"}


def test_c_array_formats_hex_and_decimal():
    assert render.c_array([1, -2, 3], "d", per_line=2, indent="") == "1, -2,\n3"
    assert render.c_array(np.array([0xFFFFFFFF, 5], np.uint32), "x", indent="") == \
        "0xffffffffu, 0x00000005u"
    with pytest.raises(ValueError):
        render.c_array([1], "q")


def test_c_ident_makes_identifiers():
    assert render.c_ident("conv-1.a") == "conv_1_a"
    assert render.c_ident("1st") == "l_1st"


def test_arena_plan_never_overlaps_input_and_output():
    for seed in range(30):
        model = random_ir.random_model(seed)
        plans, arena = render.plan_layers(model)
        for p in plans[1:]:
            out = 0 if (p.layer.kind == "bdense" and p.layer.output) else p.out_bytes
            assert p.in_bytes + out <= arena


def test_strict_undefined_rejects_missing_variables():
    env = render._environment()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing_here }}").render()


def _render(model, out, n=4, seed=0):
    images = random_ir.random_images(seed, n, model.input_shape)
    logits = reference.run(model, images).logits
    render.render(model, "mps2-an386", out, images, logits)
    return images


def test_render_is_deterministic(tmp_path):
    model = random_ir.random_model(5)
    _render(model, tmp_path / "a")
    _render(model, tmp_path / "b")
    a = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert a == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert model.sha256() in (tmp_path / "a" / "model.c").read_text()


def test_rejects_vectors_of_the_wrong_shape(tmp_path):
    model = random_ir.random_model(1)
    bad = np.zeros((2, 3, 3, 9), np.uint8)
    with pytest.raises(render.RenderError):
        render.render(model, "x", tmp_path / "o", bad, np.zeros((2, model.num_classes), np.int32))
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("seed,variant", [(11, "opt"), (12, "ref"), (13, "opt")])
def test_rendered_model_on_host_matches_oracle(tmp_path, seed, variant):
    model = random_ir.random_model(seed)
    images = random_ir.random_images(seed, 6, model.input_shape)
    logits = reference.run(model, images).logits
    src = tmp_path / "src"
    render.render(model, "host", src, images, logits, variant)
    sources = [str(p) for p in src.glob("*.c") if p.name not in TARGET_ONLY]
    sources.append(str(render.TEMPLATES / "host" / "host_platform.c"))
    exe = tmp_path / "model"
    subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    "-I", str(src), "-o", str(exe), *sources], check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    result = verify.verify(parse_records(run.stdout), model, images)
    assert result.mismatches == 0
    assert result.classes == reference.run(model, images).classes.tolist()
