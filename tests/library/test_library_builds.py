"""model/ + runtime/ compile warning-free (-Wall -Wextra -Werror -pedantic -std=c99, no -D flags)
for Cortex-M0, M4, M55 and the host, and hold nothing of a harness: no main, no handlers, no
console, no writable static data (the models are reentrant). The weights' placement macro and
the runtime ABI check work."""
import re
import shutil
import subprocess

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from pipeline import boards
from pipeline.toolchain import arm_tool

from library_helpers import run

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
TARGETS = {"cortex-m0": "microbit", "cortex-m4": "mps2-an386", "cortex-m55": "mps3-an547"}
# Anything of a harness or a console: must be neither defined nor called by the library.
FORBIDDEN = re.compile(r"^(main|_start|Reset_Handler|.*_Handler|bnn_fault_entry|bnn_exit|"
                       r"bnn_write0|bnn_rec_.*|bnn_print|.*printf|puts|putchar|fputs|fwrite|write|"
                       r"_write|malloc|calloc|realloc|free|_sbrk|exit|abort)$")


def compile_library(rendered, out_dir, compiler, flags):
    """Objects of both models and the runtime; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    alpha, beta = rendered["alpha"].out, rendered["beta"].out
    includes = [f"-I{alpha.model_dir}", f"-I{beta.model_dir}", f"-I{alpha.runtime_dir}"]
    objects = []
    for src in [*alpha.model_dir.glob("*.c"), *beta.model_dir.glob("*.c"),
                *alpha.runtime_dir.glob("*.c")]:
        obj = out_dir / (src.stem + ".o")
        run([compiler, *flags, *STRICT, *includes, "-c", src, "-o", obj])
        objects.append(obj)
    return objects


def symbols(nm, objects):
    """(type, name) of every symbol of the objects, defined and undefined."""
    out = run([nm, *objects]).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[-2]) == 1:
            rows.append((parts[-2], parts[-1]))
    return rows


def writable_objects(objects):
    """Symbols placed in writable sections (.data, .bss, ...). Host PIE code keeps const data
    with pointers in .data.rel.ro, which the loader makes read-only: not counted."""
    found = []
    for obj in objects:
        with open(obj, "rb") as f:
            elf = ELFFile(f)
            sections = list(elf.iter_sections())
            for sym in elf.get_section_by_name(".symtab").iter_symbols():
                shndx = sym["st_shndx"]
                if not isinstance(shndx, int) or sym["st_info"]["type"] != "STT_OBJECT":
                    continue
                sec = sections[shndx]
                if sec["sh_flags"] & SH_FLAGS.SHF_WRITE and \
                        not sec.name.startswith(".data.rel.ro"):
                    found.append(f"{obj.name}:{sym.name} ({sec.name})")
    return found


def check_symbols(rows, objects=()):
    assert rows
    bad = sorted({name for _, name in rows if FORBIDDEN.match(name)})
    assert not bad, f"harness or console symbols in the library: {bad}"
    writable = sorted({name for kind, name in rows if kind in "bBcCsS"} |
                      set(writable_objects(objects)))
    assert not writable, f"writable static data (not reentrant): {writable}"
    defined = {name for kind, name in rows if kind in "TRD"}
    for fn in ("alpha_run", "alpha_run_hooked", "alpha_classify", "beta_run", "beta_run_hooked",
               "beta_classify", "bnn_bconv2d", "bnn_argmax"):
        assert fn in defined, fn


@pytest.mark.parametrize("cpu", sorted(TARGETS))
def test_library_compiles_strictly_for_cortex_m(tmp_path, rendered, cpu):
    board = boards.load_board(TARGETS[cpu])
    assert board.cpu == cpu
    objects = compile_library(rendered, tmp_path, arm_tool("gcc"), board.cpu_flags())
    check_symbols(symbols(arm_tool("nm"), objects), objects)


def test_library_compiles_strictly_on_the_host(tmp_path, rendered):
    objects = compile_library(rendered, tmp_path, "gcc", [])
    check_symbols(symbols("nm", objects), objects)


def test_symbol_check_catches_a_main(tmp_path):
    src = tmp_path / "m.c"
    src.write_text("static int counter;\nint main(void) { return counter++; }\n")
    run(["gcc", "-c", src, "-o", tmp_path / "m.o"])
    with pytest.raises(AssertionError):
        check_symbols(symbols("nm", [tmp_path / "m.o"]), [tmp_path / "m.o"])
    src.write_text("static int counter;\nint next(void) { return counter++; }\n")
    run(["gcc", "-c", src, "-o", tmp_path / "m.o"])
    assert writable_objects([tmp_path / "m.o"]) == ["m.o:counter (.bss)"]


def test_weights_placement_macro_moves_the_weights(tmp_path, rendered):
    alpha = rendered["alpha"].out
    obj = tmp_path / "w.o"
    placement = '-DALPHA_WEIGHTS_PLACEMENT=__attribute__((section(".alpha_weights"),aligned(16)))'
    run([arm_tool("gcc"), "-mcpu=cortex-m4", "-mthumb", *STRICT, placement,
         f"-I{alpha.model_dir}", f"-I{alpha.runtime_dir}", "-c",
         alpha.model_dir / "alpha_weights.c", "-o", obj])
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        sec = elf.get_section_by_name(".alpha_weights")
        assert sec is not None, [s.name for s in elf.iter_sections()]
        size, align = sec["sh_size"], sec["sh_addralign"]
        rodata = elf.get_section_by_name(".rodata")
        rodata_size = rodata["sh_size"] if rodata is not None else 0
    weight_bytes = sum(4 * layer.weights.size for layer in rendered["alpha"].model.layers
                       if hasattr(layer, "weights"))
    assert size >= weight_bytes and align == 16
    assert rodata_size < weight_bytes  # the arrays left .rodata (the params structs stay)


def test_model_refuses_a_runtime_of_another_abi(tmp_path, rendered):
    alpha = rendered["alpha"].out
    runtime = tmp_path / "runtime"
    shutil.copytree(alpha.runtime_dir, runtime)
    header = runtime / "bnn.h"
    text = header.read_text()
    assert "#define BNN_RUNTIME_ABI_VERSION 3\n" in text
    header.write_text(text.replace("#define BNN_RUNTIME_ABI_VERSION 3\n",
                                   "#define BNN_RUNTIME_ABI_VERSION 4\n"))
    proc = subprocess.run(["gcc", *STRICT, f"-I{alpha.model_dir}", f"-I{runtime}", "-c",
                           str(alpha.model_dir / "alpha.c"), "-o", str(tmp_path / "a.o")],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "generated for BNN runtime ABI 3" in proc.stderr


def test_two_models_compile_as_one_translation_unit(tmp_path, rendered):
    """A unity build (all model sources #included into one file) has no clashing names:
    every generated identifier, static ones included, carries the model's name."""
    alpha, beta = rendered["alpha"].out, rendered["beta"].out
    unity = tmp_path / "unity.c"
    unity.write_text("".join(f'#include "{f}"\n' for f in
                             [*sorted(alpha.model_dir.glob("*.c")),
                              *sorted(beta.model_dir.glob("*.c"))]))
    run(["gcc", *STRICT, f"-I{alpha.model_dir}", f"-I{beta.model_dir}",
         f"-I{alpha.runtime_dir}", "-c", unity, "-o", tmp_path / "unity.o"])
