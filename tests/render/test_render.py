"""Rendering: filters, determinism, and a whole rendered model compiled on the host vs the oracle."""
import subprocess

import jinja2
import numpy as np
import pytest

from pipeline import ops, random_ir, reference, render, resources, verify
from pipeline.emulate import parse_records

TARGET_ONLY = {"startup.c", "fault.c", "icount.c", "semihosting.c", "stack.c"}
HOST_PLATFORM = resources.templates_dir() / "host" / "host_platform.c"


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
    a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    assert a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*"))
    assert len(a) > 20
    for rel in a:
        fa, fb = tmp_path / "a" / rel, tmp_path / "b" / rel
        if fa.is_file():
            assert fa.read_bytes() == fb.read_bytes(), rel
    assert model.sha256() in (tmp_path / "a" / "model" / "model.c").read_text()
    assert (tmp_path / "a" / "model-mps2-an386.tar.gz").is_file()


def test_render_writes_library_runtime_and_harness(tmp_path):
    model = random_ir.random_model(6)
    images = random_ir.random_images(6, 2, model.input_shape)
    out = render.render(model, "mps2-an386", tmp_path, images, reference.run(model, images).logits,
                        name="kws")
    assert out.name == "kws" and out.root == tmp_path
    assert sorted(p.name for p in out.model_dir.iterdir()) == \
        ["CMakeLists.txt", "kws.c", "kws.h", "kws_weights.c"]
    runtime = sorted(p.name for p in out.runtime_dir.iterdir())
    assert "bnn.h" in runtime and "CMakeLists.txt" in runtime and "library.json" in runtime
    harness = sorted(p.name for p in out.harness_dir.iterdir())
    for name in ("main.c", "kws_vectors.c", "kws_vectors.h", "linker.ld", "startup.c",
                 "record.c", "bnn_platform.h"):
        assert name in harness, name
    header = (out.model_dir / "kws.h").read_text()
    for macro in ("KWS_INPUT_H", "KWS_INPUT_W", "KWS_INPUT_C", "KWS_CLASSES", "KWS_ARENA_BYTES",
                  "KWS_SCRATCH_BYTES", "KWS_ARENA_ALIGN", "BNN_RUNTIME_ABI_VERSION"):
        assert macro in header, macro
    h, w, c = model.input_shape
    assert f"#define KWS_INPUT_H {h}\n" in header and f"#define KWS_INPUT_C {c}\n" in header
    # a second render with another name replaces the archive, it does not pile up
    render.render(model, "mps2-an386", tmp_path, images, reference.run(model, images).logits,
                  name="kws2")
    assert sorted(p.name for p in tmp_path.glob("*.tar.gz")) == ["kws2-mps2-an386.tar.gz"]


def test_rejects_vectors_of_the_wrong_shape(tmp_path):
    model = random_ir.random_model(1)
    bad = np.zeros((2, 3, 3, 9), np.uint8)
    with pytest.raises(render.RenderError):
        render.render(model, "x", tmp_path / "o", bad, np.zeros((2, model.num_classes), np.int32))
    assert not (tmp_path / "o").exists()


def _host_run_matches_oracle(tmp_path, model, seed, variant):
    images = random_ir.random_images(seed, 6, model.input_shape)
    logits = reference.run(model, images).logits
    out = render.render(model, "mps2-an386", tmp_path / "out", images, logits, variant)
    sources = [str(p) for p in out.firmware_sources() if p.name not in TARGET_ONLY]
    sources.append(str(HOST_PLATFORM))
    exe = tmp_path / "model"
    subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    *(f"-I{d}" for d in out.include_dirs()), "-o", str(exe), *sources],
                   check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    result = verify.verify(parse_records(run.stdout), model, images)
    assert result.mismatches == 0
    assert result.classes == reference.run(model, images).classes.tolist()


@pytest.mark.parametrize("seed,variant", [(11, "opt"), (12, "ref"), (13, "opt")])
def test_rendered_model_on_host_matches_oracle(tmp_path, seed, variant):
    _host_run_matches_oracle(tmp_path, random_ir.random_model(seed), seed, variant)


@pytest.mark.parametrize("variant", ["opt", "ref"])
@pytest.mark.parametrize("seed,max_channels", [(0, 24), (1, 24), (2, 24), (18, 80), (53, 80)])
@pytest.mark.parametrize("kind", ops.kinds())
def test_every_registered_kind_on_host_matches_oracle(tmp_path, kind, seed, max_channels,
                                                      variant):
    """Every kind of the registry, rendered through its call-site template and run with its C
    kernel (ASan/UBSan), layer by layer against the oracle; the 80-channel cases have packing
    groups that span several words (for bshuffle, on both sides)."""
    model = random_ir.model_with(seed, kind, max_channels)
    assert kind in [layer.kind for layer in model.layers]
    _host_run_matches_oracle(tmp_path, model, seed, variant)


@pytest.mark.parametrize("bad", ["", "1net", "my-net", "int", "static", "main", "bnn", "bnn_x",
                                 "_x", "a" * 41, "caf\u00e9"])
def test_invalid_model_names_are_named_errors(tmp_path, bad):
    model = random_ir.random_model(2)
    images = random_ir.random_images(2, 1, model.input_shape)
    with pytest.raises(render.InvalidModelNameError) as err:
        render.render(model, "mps2-an386", tmp_path / "o", images,
                      reference.run(model, images).logits, name=bad)
    assert issubclass(render.InvalidModelNameError, render.PipelineError)
    assert "\n" not in str(err.value) and "--name" in str(err.value)
    assert not (tmp_path / "o").exists()


def test_default_names_are_valid_identifiers():
    assert render.default_model_name("fashion_glt") == "fashion_glt"
    assert render.default_model_name("Fashion-GLT.v2") == "fashion_glt_v2"
    assert render.default_model_name("2024 run") == "m_2024_run"
    assert render.default_model_name("int") == "m_int"
    assert render.default_model_name("bnn_small") == "m_bnn_small"
    assert render.default_model_name("---") == "model"
    for text in ("a" * 80, "x y z", "Case"):
        render.check_model_name(render.default_model_name(text))


def test_cli_render_rejects_a_bad_name_in_one_line(tmp_path, capsys):
    from pipeline import cli
    path = tmp_path / "m.ir.json"
    random_ir.random_model(2).save(path)
    assert cli.main(["render", "--ir", str(path), "--board", "mps2-an386", "--name", "for",
                     "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: InvalidModelNameError") and err.count("\n") == 1


def test_c_string_escapes_what_c_cannot_hold_raw(tmp_path):
    assert render.c_string("conv1") == '"conv1"'
    assert render.c_string('a"b\\c') == '"a\\"b\\\\c"'
    assert render.c_string("é\n") == '"\\303\\251\\012"'
    literal = render.c_string('x"\u00e9?\\')
    src = tmp_path / "s.c"
    src.write_text("#include <string.h>\n"
                   "int main(void) { return strcmp(" + literal + ", "
                   "\"x\\\"\\xc3\\xa9?\\\\\") != 0; }\n")
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-o", str(tmp_path / "s"), str(src)],
                   check=True)
    assert subprocess.run([str(tmp_path / "s")]).returncode == 0
