"""Every CLI verb, given a missing, corrupt or unwritable input: exit status 2, one line on
stderr naming the error class, no traceback, and nothing half-written.

`setup` (it installs packages) and `boards` (it reads only the project's own board records) take
no user input file and are not walked.
"""
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import cli, random_ir

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Good, missing and damaged input files of every kind a verb reads."""
    d = tmp_path_factory.mktemp("inputs")
    good = random_ir.random_model(3).save(d / "good" / "model.ir.json")
    text = good.read_text()
    npz = good.with_name("model.ir.npz").read_bytes()

    def ir_variant(name: str, json_text: str, npz_bytes: bytes) -> Path:
        (d / name).mkdir()
        (d / name / "model.ir.json").write_text(json_text)
        (d / name / "model.ir.npz").write_bytes(npz_bytes)
        return d / name / "model.ir.json"

    flipped = bytearray(npz)
    flipped[len(npz) // 2] ^= 0x10
    doc = json.loads(text)
    conv = next(layer for layer in doc["layers"] if layer["kind"] == "bconv2d")
    conv["stride"] = 3.0
    doc2 = json.loads(text)
    conv2 = next(layer for layer in doc2["layers"] if layer["kind"] == "bconv2d")
    conv2["padding"] = "1"
    doc3 = json.loads(text)
    doc3["layers"][1]["name"] = 'x"\n#define y'
    (d / "bad.yaml").write_text("seed: 0\ntrain: {epochs: 2\n")
    (d / "range.yaml").write_text("data:\n  train_limit: -5\n")
    (d / "ckpt.pt").write_bytes(os.urandom(256))
    (d / "junk.elf").write_bytes(os.urandom(256))
    (d / "afile").write_text("a file, not a folder")
    (d / "dots").mkdir()  # an IR file whose name would become the folder '.' or '..'
    shutil.copy(good, d / "dots" / "..ir.json")
    shutil.copy(good.with_name("model.ir.npz"), d / "dots" / "model.ir.npz")
    return {
        "good": good,
        "missing_ir": d / "none" / "model.ir.json",
        "truncated_json": ir_variant("trunc", text[: len(text) // 3], npz),
        "truncated_npz": ir_variant("cut", text, npz[: len(npz) // 2]),
        "flipped_npz": ir_variant("flip", text, bytes(flipped)),
        "float_stride": ir_variant("stride", json.dumps(doc), npz),
        "string_padding": ir_variant("padding", json.dumps(doc2), npz),
        "injected_name": ir_variant("name", json.dumps(doc3), npz),
        "missing_yaml": d / "none.yaml",
        "bad_yaml": d / "bad.yaml",
        "range_yaml": d / "range.yaml",
        "ckpt": d / "ckpt.pt",
        "junk_elf": d / "junk.elf",
        "under_file": d / "afile" / "out",
        "dots_name": d / "dots" / "..ir.json",
    }


@contextlib.contextmanager
def read_only_folder(parent: Path):
    """A folder nobody can write into: a read-only tmpfs when this process may mount (root in
    CI), else a folder without write permission (a non-root user)."""
    ro = parent / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], check=True)
        try:
            yield ro
        finally:
            subprocess.run(["umount", str(ro)], check=True)
    else:
        ro.chmod(0o555)
        try:
            yield ro
        finally:
            ro.chmod(0o755)


def files_under(path: Path) -> list[Path]:
    """Everything a failed command left at ``path``: files and folders (even empty ones)."""
    return [path, *sorted(path.rglob("*"))] if path.exists() else []


def assert_one_named_line(code: int, err: str, error_class: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {error_class}:"), err
    assert "Traceback" not in err


BAD_IR = [("missing_ir", "IRMissingError"), ("truncated_json", "FormatVersionError"),
          ("truncated_npz", "IRCorruptError"), ("flipped_npz", "IRCorruptError"),
          ("float_stride", "IRCorruptError"), ("string_padding", "IRCorruptError"),
          ("injected_name", "LayerNameError")]
BAD_CONFIG = [("missing_yaml", "ConfigError"), ("bad_yaml", "ConfigError"),
              ("range_yaml", "ConfigError")]


def ir_cases():
    for key, error in BAD_IR:
        yield f"ir-show-{key}", lambda i, o, k=key: ["ir", "show", str(i[k])], error
        yield f"render-{key}", lambda i, o, k=key: ["render", "--ir", str(i[k]), "--board",
                                                     "mps2-an386", "--out", str(o / "src")], error
        yield f"insensor-{key}", lambda i, o, k=key: ["insensor", "--ir", str(i[k]), "--out",
                                                       str(o)], error
        yield f"deploy-{key}", lambda i, o, k=key: ["deploy", "--board", "mps2-an386", "--ir",
                                                     str(i[k]), "--build-dir", str(o)], error
    for key, error in BAD_IR[:3]:  # export imports TensorFlow: the load path is the same
        yield f"export-{key}", lambda i, o, k=key: ["export", "--ir", str(i[k]), "--out",
                                                     str(o)], error


def config_cases():
    for key, error in BAD_CONFIG:
        for verb in ("data", "train"):
            yield f"{verb}-{key}", lambda i, o, k=key, v=verb: [v, "--config", str(i[k]),
                                                                 "--out", str(o)], error
        yield f"deploy-{key}", lambda i, o, k=key: ["deploy", "--board", "mps2-an386",
                                                     "--config", str(i[k]), "--build-dir",
                                                     str(o)], error


def other_cases():
    yield "lower-missing", lambda i, o: ["lower", "--checkpoint", str(o / "none.pt"), "--out",
                                         str(o / "m.ir.json")], "CheckpointError"
    yield "lower-corrupt", lambda i, o: ["lower", "--checkpoint", str(i["ckpt"]), "--out",
                                         str(o / "m.ir.json")], "CheckpointError"
    yield "build-missing-src", lambda i, o: ["build", "--board", "mps2-an386",
                                             str(o / "nosrc")], "BuildError"
    yield "emulate-missing", lambda i, o: ["emulate", "--board", "mps2-an386",
                                           str(o / "none.elf")], "EmulationError"
    yield "emulate-not-elf", lambda i, o: ["emulate", "--board", "mps2-an386",
                                           str(i["junk_elf"])], "EmulationError"
    yield "render-ir-name-not-a-folder", lambda i, o: ["render", "--ir", str(i["dots_name"]),
                                                       "--board", "mps2-an386"], "RenderError"
    yield "deploy-ir-name-not-a-folder", lambda i, o: ["deploy", "--board", "mps2-an386", "--ir",
                                                       str(i["dots_name"]), "--build-dir",
                                                       str(o)], "RenderError"
    yield "insensor-dac-bits", lambda i, o: ["insensor", "--ir", str(i["good"]), "--dac-bits",
                                             "-1", "--out", str(o)], "InSensorError"
    yield "deploy-too-many-vectors", lambda i, o: ["deploy", "--board", "mps2-an386", "--ir",
                                                   str(i["good"]), "--vectors", "1000000000",
                                                   "--build-dir", str(o)], "PipelineError"
    yield "report-nothing-deployed", lambda i, o: ["report", "--board", "mps2-an386",
                                                   "--config", str(TINY), "--build-dir",
                                                   str(o)], "IRMissingError"


CASES = [*ir_cases(), *config_cases(), *other_cases()]


@pytest.mark.parametrize("make_args, error", [(a, e) for _, a, e in CASES],
                         ids=[name for name, _, _ in CASES])
def test_bad_input_is_one_named_line(inputs, tmp_path, capsys, make_args, error):
    out = tmp_path / "out"
    code = cli.main(make_args(inputs, out))
    assert_one_named_line(code, capsys.readouterr().err, error)
    assert files_under(out) == []  # nothing half-written


# Verbs that write: each must refuse an unwritable output folder before any expensive work.
WRITERS = [
    ("data", lambda i, o: ["data", "--config", str(TINY), "--out", str(o)]),
    ("train", lambda i, o: ["train", "--config", str(TINY), "--out", str(o)]),
    ("lower", lambda i, o: ["lower", "--checkpoint", str(i["ckpt"]), "--out",
                            str(o / "m.ir.json")]),
    ("export", lambda i, o: ["export", "--ir", str(i["good"]), "--out", str(o)]),
    ("insensor", lambda i, o: ["insensor", "--ir", str(i["good"]), "--out", str(o)]),
    ("render", lambda i, o: ["render", "--ir", str(i["good"]), "--board", "mps2-an386",
                             "--out", str(o / "src")]),
    ("deploy", lambda i, o: ["deploy", "--board", "mps2-an386", "--ir", str(i["good"]),
                             "--build-dir", str(o)]),
]


@pytest.mark.parametrize("make_args", [a for _, a in WRITERS], ids=[n for n, _ in WRITERS])
def test_unwritable_output_is_one_named_line(inputs, tmp_path, capsys, make_args):
    code = cli.main(make_args(inputs, inputs["under_file"]))  # a folder under a regular file
    assert_one_named_line(code, capsys.readouterr().err, "OutputNotWritableError")
    with read_only_folder(tmp_path) as ro:
        code = cli.main(make_args(inputs, ro / "out"))
        assert_one_named_line(code, capsys.readouterr().err, "OutputNotWritableError")


def test_build_into_a_read_only_folder(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "firmware_templates" / "smoke" / "main.c", src / "main.c")
    with read_only_folder(tmp_path) as ro:
        code = cli.main(["build", "--board", "mps2-an386", str(src), "--out", str(ro / "b")])
        assert_one_named_line(code, capsys.readouterr().err, "OutputNotWritableError")


def test_a_separate_process_prints_one_line_too(inputs, tmp_path):
    """The same through `python -m pipeline` in a fresh interpreter (no test harness around)."""
    proc = subprocess.run([sys.executable, "-m", "pipeline", "render", "--ir",
                           str(inputs["flipped_npz"]), "--board", "mps2-an386", "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path)
    assert_one_named_line(proc.returncode, proc.stderr, "IRCorruptError")
    assert files_under(tmp_path / "out") == []
