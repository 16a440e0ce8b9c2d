"""The runtime's build-system files that cannot be exercised here (Zephyr, PlatformIO and the
Arduino IDE are not installed): parsed and checked for structure, every listed source present
and every source listed, one version everywhere. CMake itself is exercised for real in
test_cmake_app.py. Also the .tar.gz handed to a firmware engineer."""
import json
import re
import tarfile
import textwrap
from pathlib import Path

import yaml

from pipeline import render

REPO = Path(__file__).resolve().parents[2]
HEADER_VERSION = re.compile(r'#define BNN_RUNTIME_VERSION "(\d+)\.(\d+)\.(\d+)"')
HEADER_ABI = re.compile(r"#define BNN_RUNTIME_ABI_VERSION (\d+)")


def runtime_sources(runtime):
    return sorted(p.name for p in runtime.glob("*.c"))


def versions(runtime):
    text = (runtime / "bnn.h").read_text()
    (version,) = HEADER_VERSION.findall(text)
    (abi,) = HEADER_ABI.findall(text)
    return ".".join(version), int(abi)


def test_header_versions_agree_with_the_generator(rendered):
    runtime = rendered["alpha"].out.runtime_dir
    version, abi = versions(runtime)
    assert abi == render.RUNTIME_ABI_VERSION
    assert int(version.split(".")[0]) == abi


def test_cmake_lists_every_runtime_source(rendered):
    runtime = rendered["alpha"].out.runtime_dir
    text = (runtime / "CMakeLists.txt").read_text()
    listed = re.search(r"add_library\(bnn_runtime STATIC([^)]*)\)", text).group(1).split()
    assert sorted(listed) == runtime_sources(runtime)
    assert f"project(bnn_runtime VERSION {versions(runtime)[0]} " in text
    code = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    assert "-mcpu" not in code and "CMAKE_C_FLAGS" not in code  # from the caller's toolchain


def test_zephyr_module_structure(rendered):
    runtime = rendered["alpha"].out.runtime_dir
    module = yaml.safe_load((runtime / "zephyr" / "module.yml").read_text())
    assert module["build"]["cmake"] == "zephyr"
    assert (runtime / module["build"]["cmake"] / "CMakeLists.txt").is_file()
    kconfig = runtime / module["build"]["kconfig"]
    assert re.search(r"^config BNN_RUNTIME$", kconfig.read_text(), re.M)
    cmake = (runtime / "zephyr" / "CMakeLists.txt").read_text()
    assert "if(CONFIG_BNN_RUNTIME)" in cmake and "zephyr_include_directories" in cmake
    listed = re.findall(r"\$\{BNN_RUNTIME_DIR\}/(\w+\.c)", cmake)
    assert sorted(listed) == runtime_sources(runtime)
    assert all((runtime / f).is_file() for f in listed)


def test_platformio_library_json(rendered):
    runtime = rendered["alpha"].out.runtime_dir
    lib = json.loads((runtime / "library.json").read_text())
    assert lib["version"] == versions(runtime)[0]
    for key in ("name", "description", "frameworks", "platforms", "build"):
        assert key in lib, key
    assert (runtime / lib["build"]["srcDir"]).is_dir()
    assert (runtime / lib["build"]["includeDir"] / lib["headers"]).is_file()
    assert "+<*.c>" in lib["build"]["srcFilter"]


def test_arduino_library_properties(rendered):
    runtime = rendered["alpha"].out.runtime_dir
    props = {}
    for line in (runtime / "library.properties").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, line
            props[key.strip()] = value.strip()
    for key in ("name", "version", "author", "maintainer", "sentence", "paragraph", "category",
                "url", "architectures"):
        assert props.get(key), key
    assert props["version"] == versions(runtime)[0]
    assert (runtime / props["includes"]).is_file()
    # Arduino's flat layout: sources at the library root, no src/ folder mixing layouts
    assert not (runtime / "src").exists() and runtime_sources(runtime)


def test_archive_holds_model_runtime_and_readme_only(tmp_path, rendered):
    out = rendered["alpha"].out
    assert out.archive.name == "alpha-mps2-an386.tar.gz"
    with tarfile.open(out.archive) as tar:
        names = tar.getnames()
        assert all(n == "alpha-mps2-an386" or n.startswith("alpha-mps2-an386/") for n in names)
        tops = {n.split("/")[1] for n in names if n.count("/") >= 1}
        assert tops == {"README.md", "model", "runtime"}
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / "alpha-mps2-an386"
    for f in out.model_dir.iterdir():
        assert (root / "model" / f.name).read_bytes() == f.read_bytes()
    assert runtime_sources(root / "runtime") == runtime_sources(out.runtime_dir)
    readme = (root / "README.md").read_text()
    assert "alpha_run(arena, image, logits)" in readme and "ALPHA_ARENA_WORDS" in readme


def _c_blocks(markdown: str) -> list[str]:
    return re.findall(r"```c\n(.*?)```", markdown, re.S)


def _compile_snippet(tmp_path, rendered, code: str) -> None:
    from library_helpers import run
    alpha = rendered["alpha"].out
    src = tmp_path / "snippet.c"
    src.write_text(code)
    run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{alpha.model_dir}",
         f"-I{alpha.runtime_dir}", "-c", src, "-o", tmp_path / "snippet.o"])


def test_readme_usage_example_compiles(tmp_path, rendered):
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Use the model in your firmware"):]
    section = section[:section.index("\n## ", 5)]
    (code,) = [textwrap.dedent(b) for b in _c_blocks(section)]
    _compile_snippet(tmp_path, rendered,
                     code.replace("fashion_glt", "alpha").replace("FASHION_GLT", "ALPHA"))


def test_archive_readme_example_compiles(tmp_path, rendered):
    with tarfile.open(rendered["alpha"].out.archive) as tar:
        readme = tar.extractfile("alpha-mps2-an386/README.md").read().decode()
    (code,) = _c_blocks(readme)
    _compile_snippet(tmp_path, rendered, code)
