"""Package metadata: compatible ranges in pyproject.toml, every one pinned exactly in
constraints.txt (what `make setup` installs), a plain install free of torch and TensorFlow, and
the set-up stamp following every file that decides the environment."""
import re
from pathlib import Path

from packaging.requirements import Requirement

from pipeline import resources, setup_env

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]


def project():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", line
            out[req.name.lower().replace("_", "-")] = spec.version
    return out


def test_every_requirement_is_pinned_and_its_pin_is_in_range():
    pinned = pins()
    proj = project()
    reqs = [Requirement(r) for r in proj["dependencies"]]
    reqs += [Requirement(r) for extra in proj["optional-dependencies"].values() for r in extra]
    for req in reqs:
        name = req.name.lower().replace("_", "-")
        if name == "glt-bnn":
            continue
        assert name in pinned, f"{name} has no exact pin in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])
    assert pinned["torch"] == "2.13.0"  # the CPU build; a looser spec would fetch CUDA wheels


def test_plain_install_is_the_c_generator_only():
    plain = {Requirement(r).name for r in project()["dependencies"]}
    assert plain == {"numpy", "jinja2", "jsonschema", "pyyaml", "pyelftools", "tqdm", "filelock"}
    extras = project()["optional-dependencies"]
    assert {"train", "export", "test"} <= set(extras)
    assert any(r.startswith("torch") for r in extras["train"])
    assert any(r.startswith("tensorflow-cpu") for r in extras["export"])


def test_setup_stamp_follows_constraints_and_layout(tmp_path, monkeypatch):
    for name in setup_env.REQUIREMENT_FILES:
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    monkeypatch.setattr(setup_env, "ROOT", tmp_path)
    first = setup_env._requirements_hash()
    assert setup_env._requirements_hash() == first
    for name in setup_env.REQUIREMENT_FILES:
        original = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(original + b"\n# changed\n")
        assert setup_env._requirements_hash() != first, name
        (tmp_path / name).write_bytes(original)
    assert "cmake" in setup_env.APT_PACKAGES


def test_resources_point_at_the_checkout_folders():
    assert resources.templates_dir() == REPO / "firmware_templates"
    assert resources.boards_dir() == REPO / "boards"
    assert resources.configs_dir() == REPO / "configs"
    assert (resources.runtime_dir() / "bnn.h").is_file()
    assert (resources.platform_dir() / "linker.ld.j2").is_file()


def test_no_module_locates_data_by_its_own_path():
    offenders = []
    for path in (REPO / "pipeline").rglob("*.py"):
        if path.name in ("resources.py", "setup_env.py", "deploy.py"):
            continue  # setup_env works on the checkout; deploy.py: see docs/library.md
        if re.search(r"parent\.parent|parents\[1\]", path.read_text()):
            offenders.append(path.name)
    assert not offenders
