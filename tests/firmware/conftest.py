"""The firmware layer's shared fixture: the smoke firmware built once per board."""
import pytest

from firmware_helpers import HARDWARE_BOARDS, QEMU_BOARDS, build_smoke


@pytest.fixture(scope="session")
def smoke_builds(tmp_path_factory):
    """The smoke firmware built once per board (all boards, hardware-only ones too)."""
    root = tmp_path_factory.mktemp("smoke")
    return {name: build_smoke(name, root / name) for name in QEMU_BOARDS + HARDWARE_BOARDS}
