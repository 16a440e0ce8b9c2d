"""`python3 -m pipeline setup`: install everything the project needs, idempotently.

Runs with the system Python before the virtual environment exists, so it uses the standard
library only. A second run finds everything in place and returns in seconds:
* Debian packages (cross compiler, newlib, QEMU, Fashion-MNIST), installed with
  ``--no-install-recommends`` (without it apt pulls about 3 GB of GUI packages);
* ``.venv`` with the package installed editable with every extra, at the exact versions of
  ``constraints.txt`` (``pip install -c constraints.txt -e .[train,export,test,peers,bench]``;
  peers is the 0.7 MB TFLite Micro interpreter of ``python -m bench peers``, bench the Unicorn
  emulator of ``python -m bench flash``); a stamp file
  records the hash of pyproject.toml, setup.py and constraints.txt, so changing a pin or a range
  re-installs.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

from .errors import PipelineError

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / "setup.stamp"
APT_PACKAGES = ("gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "qemu-system-arm",
                "dataset-fashion-mnist", "cmake")
CONSTRAINTS = ROOT / "constraints.txt"
EXTRAS = "train,export,test,peers,bench"
# Files whose content decides what the virtual environment holds.
REQUIREMENT_FILES = ("pyproject.toml", "setup.py", "constraints.txt")
# Installed on its own with --no-deps: its declared dependency is the full tensorflow wheel,
# which would be installed on top of tensorflow-cpu.
NO_DEPS_PINS = ("tf-keras==2.21.0",)
PIP_PIN = "pip==25.2"


class SetupError(PipelineError):
    """The environment could not be installed."""


def add_arguments(parser) -> None:
    parser.add_argument("--force", action="store_true", help="reinstall the virtual environment")


def run(args) -> int:
    start = time.monotonic()
    install_apt_packages()
    install_venv(force=args.force)
    print(f"setup: ready in {time.monotonic() - start:.1f} s "
          f"(activate with `. {VENV.relative_to(ROOT)}/bin/activate`)")
    return 0


def missing_apt_packages() -> list[str]:
    missing = []
    for pkg in APT_PACKAGES:
        res = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                             capture_output=True, text=True)
        if res.returncode != 0 or "install ok installed" not in res.stdout:
            missing.append(pkg)
    return missing


def install_apt_packages() -> None:
    if shutil.which("dpkg-query") is None:
        raise SetupError("this set-up needs a Debian/Ubuntu machine (dpkg and apt); install "
                         f"{', '.join(APT_PACKAGES)} by other means")
    missing = missing_apt_packages()
    if not missing:
        print("setup: Debian packages present")
        return
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise SetupError(f"missing Debian packages {' '.join(missing)}: run as root "
                             f"`apt-get install --no-install-recommends {' '.join(missing)}`")
        prefix = ["sudo"]
    print(f"setup: installing Debian packages {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        if subprocess.run(prefix + cmd, env=env).returncode != 0:
            raise SetupError(f"`{' '.join(cmd)}` failed; check the package sources and retry")
    still = missing_apt_packages()
    if still:
        raise SetupError(f"Debian packages still missing after install: {' '.join(still)}")


def _requirements_hash() -> str:
    h = hashlib.sha256()
    for name in REQUIREMENT_FILES:
        h.update(name.encode())
        h.update((ROOT / name).read_bytes())
    h.update(" ".join(NO_DEPS_PINS + (PIP_PIN, EXTRAS, sys.version)).encode())
    return h.hexdigest()


def install_venv(force: bool = False) -> None:
    want = _requirements_hash()
    if not force and STAMP.exists() and STAMP.read_text().strip() == want:
        print("setup: virtual environment up to date")
        return
    if force and VENV.exists():
        shutil.rmtree(VENV)
    if sys.version_info[:2] not in ((3, 10), (3, 11), (3, 12)):
        raise SetupError(f"Python {sys.version.split()[0]} is not supported: larq-compute-engine "
                         "ships wheels for CPython 3.10-3.12; run setup with one of those")
    print(f"setup: creating {VENV} with the pinned packages (about a minute)", flush=True)
    if not (VENV / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    py = str(VENV / "bin" / "python")
    steps = (
        [py, "-m", "pip", "install", "-q", PIP_PIN],
        [py, "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), "-e", f"{ROOT}[{EXTRAS}]"],
        [py, "-m", "pip", "install", "-q", "--no-deps", *NO_DEPS_PINS],
    )
    for cmd in steps:
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            raise SetupError(f"`{' '.join(cmd)}` failed; fix the error above and re-run "
                             "`make setup`")
    STAMP.write_text(want + "\n")
