"""Helpers of the firmware layer: build the smoke firmware, read ELF symbols."""
from pathlib import Path

from elftools.elf.elffile import ELFFile

from pipeline import boards, build

ROOT = Path(__file__).resolve().parents[2]
SMOKE_MAIN = ROOT / "firmware_templates" / "smoke" / "main.c"
SMOKE_EXIT_CODE = 37
SMOKE_ITERATIONS = 1000

QEMU_BOARDS = [b.name for b in boards.all_boards() if b.emulatable]
HARDWARE_BOARDS = [b.name for b in boards.all_boards() if not b.emulatable]


def build_smoke(board_name: str, out_dir: Path, opt: str = "-O2", **defines) -> build.BuildResult:
    """The smoke firmware for a board; keyword arguments become -D macros."""
    macros = {"BNN_SMOKE_EXIT_CODE": str(SMOKE_EXIT_CODE),
              "BNN_SMOKE_ITERATIONS": f"{SMOKE_ITERATIONS}u"}
    macros.update({k: str(v) for k, v in defines.items()})
    return build.build_firmware(boards.load_board(board_name), [SMOKE_MAIN], [], out_dir, macros,
                                opt=opt)


def symbol(elf: Path, name: str) -> tuple[int, int]:
    """(address without the Thumb bit, size) of a function symbol."""
    with open(elf, "rb") as f:
        (sym,) = ELFFile(f).get_section_by_name(".symtab").get_symbol_by_name(name)
        return sym["st_value"] & ~1, sym["st_size"]
