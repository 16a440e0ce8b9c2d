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


def _find(program: str, env_dir: str) -> str:
    folder = os.environ.get(env_dir)
    found = shutil.which(program, path=folder) if folder else shutil.which(program)
    if found is None:
        where = f"{env_dir}={folder}" if folder else "PATH"
        raise MissingToolError(f"{program} not found on {where}: {SETUP_HINT}")
    return found


def arm_tool(name: str) -> str:
    """Path of ``arm-none-eabi-<name>`` (gcc, size, objcopy, nm, ...)."""
    return _find(ARM_PREFIX + name, "BNN_ARM_TOOLCHAIN_DIR")


def qemu_system_arm() -> str:
    return _find("qemu-system-arm", "BNN_QEMU_DIR")
