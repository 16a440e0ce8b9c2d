"""Fixtures of the kernel tests: the sanitizer build of the C runtime, built once per session."""
import pytest

from kernel_harness import build_driver


@pytest.fixture(scope="session")
def driver(tmp_path_factory):
    """Path of the driver executable (driver.c + firmware_templates/runtime/*.c, ASan+UBSan)."""
    return build_driver(tmp_path_factory.mktemp("bnn_driver"))
