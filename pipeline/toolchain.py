"""Locating the cross toolchain (arm-none-eabi-*) and the emulator (qemu-system-arm).

A missing tool is a :class:`MissingToolError` that says how to install it; tests never skip on it.
``BNN_ARM_TOOLCHAIN_DIR`` and ``BNN_QEMU_DIR`` point at a folder holding the tools when they are
not on ``PATH``.
"""
from __future__ import annotations

import os
import shutil

from .errors import PipelineError

ARM_PREFIX = "arm-none-eabi-"
SETUP_HINT = ("run `make setup` (Debian: apt-get install --no-install-recommends gcc-arm-none-eabi "
              "libnewlib-arm-none-eabi qemu-system-arm)")


class MissingToolError(PipelineError):
    """A required external program is not installed."""


# Where Debian's packages and Arm's own toolchain archives put the tools: looked at only to say
# where a tool is when it is installed but not on PATH.
KNOWN_DIRS = ("/usr/bin", "/usr/local/bin", "/opt/arm-none-eabi/bin", "/opt/gcc-arm-none-eabi/bin")


def _find(program: str, env_dir: str) -> str:
    folder = os.environ.get(env_dir)
    search = folder if folder else os.environ.get("PATH", os.defpath)
    found = shutil.which(program, path=search)
    if found is not None:
        return found
    where = f"{env_dir}={folder}" if folder else f"PATH={search}"
    elsewhere = [d for d in KNOWN_DIRS if os.access(os.path.join(d, program), os.X_OK)
                 and d not in search.split(os.pathsep)]
    if elsewhere:
        raise MissingToolError(f"{program} is installed in {elsewhere[0]}, which is not on the "
                               f"searched {where}: add it to PATH or set {env_dir}={elsewhere[0]}")
    raise MissingToolError(f"{program} not found on {where}: {SETUP_HINT}, or set {env_dir} to "
                           "the folder that holds it")


def arm_tool(name: str) -> str:
    """Path of ``arm-none-eabi-<name>`` (gcc, size, objcopy, nm, ...)."""
    return _find(ARM_PREFIX + name, "BNN_ARM_TOOLCHAIN_DIR")


def qemu_system_arm() -> str:
    return _find("qemu-system-arm", "BNN_QEMU_DIR")
