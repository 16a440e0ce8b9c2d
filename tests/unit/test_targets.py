"""pipeline.targets derives, without a compiler, the two compile-time facts the runtime's path
choice reads (Helium: __ARM_FEATURE_MVE & 1; no Thumb-2: __arm__ && !__thumb2__). Here the
cross-compiler's predefined macros, for every board's flags and for cpu strings at the edges
(feature suffixes, the soft float ABI), must agree with it."""
import shutil
import subprocess

import pytest

from pipeline import boards, targets


def predefined(flags: list[str]) -> dict[str, str]:
    gcc = shutil.which("arm-none-eabi-gcc")
    assert gcc, "arm-none-eabi-gcc not found: install gcc-arm-none-eabi"
    out = subprocess.run([gcc, *flags, "-dM", "-E", "-x", "c", "-"], input="",
                         capture_output=True, text=True, check=True).stdout
    macros = {}
    for line in out.splitlines():
        _, name, *value = line.split(" ", 2)
        macros[name] = value[0] if value else ""
    return macros


def compiled_target(flags: list[str]) -> tuple[bool, bool]:
    m = predefined(flags)
    return int(m.get("__ARM_FEATURE_MVE", "0")) & 1 == 1, "__thumb2__" not in m


@pytest.mark.parametrize("board", boards.board_names())
def test_every_board_target_matches_its_compiler_flags(board):
    b = boards.load_board(board)
    t = targets.for_board(b)
    assert compiled_target(b.cpu_flags()) == (t.mve, t.v6m), (b.cpu_flags(), t)


@pytest.mark.parametrize("cpu, abi", [
    ("cortex-m55", "hard"), ("cortex-m55", "softfp"), ("cortex-m55", "soft"),
    ("cortex-m55+nomve", "hard"), ("cortex-m55+nomve.fp", "hard"), ("cortex-m0plus", "soft"),
    ("cortex-m23", "soft"), ("cortex-m33", "hard"), ("cortex-m7", "hard"), ("cortex-m3", "soft"),
])
def test_cpu_strings_at_the_edges(cpu, abi):
    flags = ["-mthumb", f"-mcpu={cpu}", f"-mfloat-abi={abi}"]
    if abi != "soft":
        flags.append("-mfpu=auto")
    t = targets.for_cpu(cpu, abi)
    assert compiled_target(flags) == (t.mve, t.v6m), (flags, t)


def test_families():
    assert targets.for_cpu("cortex-m55", "hard") is targets.HELIUM
    assert targets.for_cpu("cortex-m0", "soft") is targets.V6M
    assert targets.for_cpu("cortex-m4", "hard") is targets.THUMB2 is targets.HOST
