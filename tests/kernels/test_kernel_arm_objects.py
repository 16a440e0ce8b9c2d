"""The runtime cross-compiles warning-free for Cortex-M, and only the _ref kernels call libgcc's
__popcountsi2 (Cortex-M has no popcount instruction; the optimized kernels use carry-save
accumulation and SWAR byte counts instead)."""
import re
import shutil
import subprocess

import pytest

from kernel_harness import RUNTIME, runtime_sources

FUNCTION = re.compile(r"^[0-9a-f]+ <([A-Za-z_][A-Za-z0-9_.]*)>:$")
TARGETS = [("cortex-m4", "-O2"), ("cortex-m4", "-O3"), ("cortex-m4", "-Os"),
           ("cortex-m0", "-O2"), ("cortex-m7", "-O2"), ("cortex-m55", "-O2"),
           ("cortex-m55+mve", "-O2"), ("cortex-m55+mve", "-O3")]
# "+mve": the hard-float build of the mps3-an547 board, which enables Helium (MVE) and with it
# the vector conv path of bnn_bconv2d_mve.c
CPU_FLAGS = {"cortex-m55+mve": ["-mcpu=cortex-m55", "-mfloat-abi=hard", "-mfpu=auto"]}


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} not found: install gcc-arm-none-eabi (see ../shared/TOOLCHAIN.md)"
    return path


def popcount_callers(objdump_text):
    """Function name -> True when its body holds a call/relocation to __popcountsi2."""
    functions, current = {}, None
    for line in objdump_text.splitlines():
        m = FUNCTION.match(line)
        if m:
            current = m.group(1)
            functions[current] = False
        elif current and "__popcountsi2" in line:
            functions[current] = True
    return functions


@pytest.mark.parametrize("cpu, opt", TARGETS)
def test_only_reference_kernels_call_popcountsi2(tmp_path, cpu, opt):
    gcc, objdump = tool("arm-none-eabi-gcc"), tool("arm-none-eabi-objdump")
    functions = {}
    for src in runtime_sources():
        obj = tmp_path / (src.stem + ".o")
        subprocess.run([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", opt,
                        *CPU_FLAGS.get(cpu, [f"-mcpu={cpu}"]),
                        "-mthumb", f"-I{RUNTIME}", "-c", str(src), "-o", str(obj)],
                       check=True, capture_output=True, text=True)
        dump = subprocess.run([objdump, "-d", "-r", str(obj)], check=True, capture_output=True,
                              text=True).stdout
        functions.update(popcount_callers(dump))
    optimized = {"bnn_thermometer_opt", "bnn_bconv2d_opt", "bnn_bmaxpool2d_opt",
                 "bnn_bdense_hidden_opt", "bnn_bdense_output_opt", "bnn_argmax_opt",
                 "bnn_xor_popcount"}
    if cpu.endswith("+mve"):
        optimized.add("bnn_conv_runs_mve")
    assert optimized <= set(functions), "optimized kernels missing from the objects"
    callers = {name for name, calls in functions.items() if calls}
    assert callers, "no function calls __popcountsi2: the _ref kernels should (check the parser)"
    assert all(name.endswith("_ref") for name in callers), \
        f"non-reference functions call __popcountsi2: {sorted(n for n in callers if not n.endswith('_ref'))}"
