"""The tool installs like a library: a wheel built offline from a copy of the sources carries
the templates, the C runtime, the boards and the configs; installed (without network) into a
fresh virtual environment, its `glt-bnn` command run from an empty folder lists the boards,
renders, builds, emulates and deploys an IR, writing only under that folder. An editable
install works the same way from a checkout.

The temporary environment reuses the project environment's packages (numpy, jinja2, ... and, for
deploy's exports, onnx and TensorFlow) through a .pth file: a venv created from inside a venv
takes the base interpreter's site-packages with --system-site-packages, not the project's.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from pipeline import random_ir

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pipeline", "firmware_templates", "boards", "configs", "zoo", "setup.py",
           "pyproject.toml", "README.md")
BOARD = "mps2-an386"


def run(cmd, cwd, timeout=600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def copy_sources(dest: Path) -> Path:
    """The files a source distribution holds, so the build leaves nothing in the checkout."""
    dest.mkdir()
    for name in SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(src, dest / name)
    return dest


def make_venv(path: Path) -> Path:
    """A venv without pip that sees the project environment's packages; returns its python."""
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(path)
    py = path / "bin" / "python"
    purelib = run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=path).stdout.strip()
    (Path(purelib) / "_glt_bnn_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py


def pip_install(py: Path, *args) -> None:
    run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", "--no-index",
         *args], cwd=py.parent)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def ir_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("irs") / "tiny_net.ir.json"
    random_ir.small_model(4).save(path)
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = copy_sources(tmp / "src")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", tmp / "dist", src], cwd=tmp)
    (whl,) = (tmp / "dist").glob("glt_bnn-*.whl")
    return whl


def test_wheel_carries_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("pipeline/firmware_templates/runtime/bnn.h",
                 "pipeline/firmware_templates/runtime/CMakeLists.txt",
                 "pipeline/firmware_templates/runtime/zephyr/module.yml",
                 "pipeline/firmware_templates/model/model.h.j2",
                 "pipeline/firmware_templates/harness/main.c.j2",
                 "pipeline/firmware_templates/platform/linker.ld.j2",
                 "pipeline/board_files/mps2-an386.yaml", "pipeline/board_files/schema.json",
                 "pipeline/config_files/fashion_glt.yaml", "pipeline/resources.py"):
        assert name in names, name
    for model in sorted(p.name for p in (REPO / "zoo").iterdir() if p.is_dir()):
        for f in ("model.ir.json", "model.ir.npz", "config.yaml", "metrics.json", "README.md"):
            assert f"pipeline/zoo_files/{model}/{f}" in names, (model, f)
    assert not any(n.startswith(("tests/", "firmware_templates/", "boards/")) for n in names)
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [ln for ln in zipfile.ZipFile(wheel).read(meta).decode().splitlines()
                if ln.startswith("Requires-Dist:")]
    plain = [ln for ln in requires if "extra ==" not in ln]
    assert not any(pkg in ln for ln in plain for pkg in ("torch", "tensorflow", "onnx", "larq"))
    assert any("torch" in ln and 'extra == "train"' in ln for ln in requires)
    assert any("tensorflow-cpu" in ln and 'extra == "export"' in ln for ln in requires)


def test_installed_wheel_works_from_an_empty_folder(tmp_path, wheel, ir_file):
    py = make_venv(tmp_path / "venv")
    pip_install(py, wheel)
    site = Path(run([py, "-c", "import pipeline, pathlib; "
                     "print(pathlib.Path(pipeline.__file__).parent.parent)"],
                    cwd=tmp_path).stdout.strip())
    assert site.is_relative_to(tmp_path / "venv"), site
    before = files_under(site)
    tool = py.parent / "glt-bnn"
    work = tmp_path / "work"
    work.mkdir()

    assert BOARD in run([tool, "boards"], cwd=work).stdout
    out = run([tool, "render", "--ir", ir_file, "--board", BOARD, "--vectors", "2"], cwd=work)
    board_dir = work / "build" / "tiny_net" / BOARD
    assert (board_dir / "model" / "tiny_net.h").is_file(), out.stdout
    assert (board_dir / "runtime" / "bnn.h").is_file()
    assert (board_dir / f"tiny_net-{BOARD}.tar.gz").is_file()
    run([tool, "build", "--board", BOARD, board_dir], cwd=work)
    assert (board_dir / "firmware.elf").is_file()
    emu = run([tool, "emulate", board_dir / "firmware.elf", "--board", BOARD], cwd=work)
    assert "BNN done mismatches=0" in emu.stdout

    run([tool, "deploy", "--ir", ir_file, "--board", BOARD, "--build-dir", "build",
         "--vectors", "2"], cwd=work)
    report = json.loads((work / "build" / "tiny_net" / BOARD / "report.json").read_text())
    assert report["mismatches"] == 0 and report["emulated"]
    # a pretrained zoo model deploys from the wheel's package data, without training
    zoo = {p.name: json.loads((p / "metrics.json").read_text())["bits"]["total"]
           for p in (REPO / "zoo").iterdir() if p.is_dir()}
    smallest = min(zoo, key=zoo.get)
    run([tool, "deploy", "--model", smallest, "--board", BOARD, "--build-dir", "build",
         "--vectors", "2"], cwd=work)
    report = json.loads((work / "build" / smallest / BOARD / "report.json").read_text())
    assert report["mismatches"] == 0 and report["model_bits"] == zoo[smallest]
    assert files_under(site) == before  # nothing written into site-packages
    assert sorted(p.name for p in work.iterdir()) == ["build"]


def test_editable_install_finds_the_checkout_data(tmp_path, ir_file):
    src = copy_sources(tmp_path / "src")
    py = make_venv(tmp_path / "venv")
    pip_install(py, "--no-build-isolation", "-e", src)
    work = tmp_path / "work"
    work.mkdir()
    where = run([py, "-c", "from pipeline import resources; print(resources.templates_dir())"],
                cwd=work).stdout.strip()
    assert Path(where) == src / "firmware_templates"
    run([py.parent / "glt-bnn", "render", "--ir", ir_file, "--board", BOARD, "--name", "ed",
         "--out", "out"], cwd=work)
    assert (work / "out" / "model" / "ed.h").is_file()
