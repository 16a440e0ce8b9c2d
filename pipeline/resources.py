"""Where the package's data lives: firmware templates, the C runtime, board records, configs and
the pretrained model zoo.

The one place that locates them. In a source checkout (an editable install, or ``python -m``
from the repository) they are the top-level folders ``firmware_templates/`` and ``boards/``;
in an installed wheel they are package data under ``pipeline/`` (``firmware_templates/``,
``board_files/``, ``config_files/``, ``zoo_files/``: setup.py maps the same folders there), found with
:mod:`importlib.resources`. Nothing here depends on the current directory, and nothing is ever
written here: outputs go under ``./build`` or the folder given with ``--out``/``--build-dir``.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from .errors import PipelineError

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE_DIR.parent

# folder name in the repository -> its folder inside the installed package (setup.py)
_DATA = {"firmware_templates": "firmware_templates", "boards": "board_files",
         "configs": "config_files", "zoo": "zoo_files"}


class MissingResourceError(PipelineError):
    """Package data is missing: the installation is incomplete."""


class UnknownZooModelError(PipelineError):
    """No pretrained model of that name in the zoo."""


def _is_checkout() -> bool:
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "pipeline").is_dir()


@lru_cache(maxsize=None)
def data_dir(name: str) -> Path:
    """The folder ``name`` (``firmware_templates``, ``boards``, ``configs`` or ``zoo``) as a
    directory."""
    if name not in _DATA:
        raise KeyError(name)
    if _is_checkout() and (_CHECKOUT / name).is_dir():
        return _CHECKOUT / name
    path = Path(str(resources.files("pipeline").joinpath(_DATA[name])))
    if not path.is_dir():
        raise MissingResourceError(
            f"package data pipeline/{_DATA[name]} ({name}/) is missing; reinstall glt-bnn "
            "(`pip install --force-reinstall glt-bnn`) or run from a source checkout")
    return path


def templates_dir() -> Path:
    """``firmware_templates/``: runtime/ (C kernels + build files), model/, harness/, platform/,
    host/, smoke/."""
    return data_dir("firmware_templates")


def runtime_dir() -> Path:
    """The hand-written C runtime (bnn.h, kernels, CMake/Zephyr/PlatformIO/Arduino files)."""
    return templates_dir() / "runtime"


def platform_dir() -> Path:
    """Bare-metal platform code of the test harness (startup, faults, semihosting, counter)."""
    return templates_dir() / "platform"


def boards_dir() -> Path:
    """``boards/``: one YAML per board and schema.json."""
    return data_dir("boards")


def configs_dir() -> Path:
    """``configs/``: the training configs (fashion_glt.yaml is deploy's default)."""
    return data_dir("configs")


def zoo_dir() -> Path:
    """``zoo/``: one folder per pretrained model (model.ir.json + .npz, config.yaml,
    metrics.json, README.md)."""
    return data_dir("zoo")


def zoo_models() -> list[str]:
    """Names of the pretrained models in the zoo, sorted."""
    return sorted(p.parent.name for p in zoo_dir().glob("*/model.ir.json"))


def zoo_model(name: str) -> Path:
    """``model.ir.json`` of the zoo model ``name``; :class:`UnknownZooModelError` lists the
    models when there is none of that name."""
    import re
    path = zoo_dir() / str(name) / "model.ir.json"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", str(name)) or not path.is_file():
        known = ", ".join(zoo_models()) or "none"
        raise UnknownZooModelError(f"no zoo model {name!r}; the zoo has: {known}")
    return path


def checkout_root() -> Path | None:
    """The repository root when running from a source checkout, else None."""
    return _CHECKOUT if _is_checkout() else None
