"""Render stage: IR + board + test vectors -> C firmware sources.

The generated files hold only data (``static const`` packed weights and threshold tables in
flash, test vectors) and a straight-line sequence of runtime calls; every computation lives in
the hand-written runtime (``firmware_templates/runtime/``), copied verbatim beside them together
with the platform code. The same IR, board and vectors always give byte-identical sources.

Activation memory is one arena used from both ends (ping-pong): layer i writes its output at
the start of the arena when i is even and at its end when i is odd, so a layer's input and
output never overlap; the arena is sized by the largest input + output pair.
"""
from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from . import __version__
from . import bits as B
from . import ir
from .errors import PipelineError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "firmware_templates"
MODEL_TEMPLATES = ("model.h", "model.c", "vectors.h", "vectors.c", "main.c")
VARIANTS = ("opt", "ref")


class RenderError(PipelineError):
    """The IR or the vectors cannot be rendered into firmware."""


# --- number formatting filters (tested in tests/unit/test_render_filters.py) ---------------
def c_array(values, fmt: str = "d", per_line: int = 12, indent: str = "    ") -> str:
    """Format integers as the body of a C initializer list, ``per_line`` values a line.

    fmt ``d``: signed decimal; ``x``: 0x-prefixed 8-digit hex (uint32 words)."""
    flat = np.asarray(values).reshape(-1)
    if fmt == "x":
        items = [f"0x{int(v) & 0xFFFFFFFF:08x}u" for v in flat]
    elif fmt == "d":
        items = [str(int(v)) for v in flat]
    else:
        raise ValueError(f"unknown format {fmt!r}")
    if not items:
        return indent + "0"  # C forbids empty initializers; callers size arrays separately
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n".join(indent + line for line in lines)


def c_ident(name: str) -> str:
    """A layer name turned into a C identifier."""
    out = "".join(ch if ch.isalnum() else "_" for ch in name)
    return out if out and not out[0].isdigit() else "l_" + out


@dataclass(frozen=True)
class LayerPlan:
    index: int
    layer: ir.Layer
    ident: str
    in_bytes: int
    out_bytes: int
    out_at_end: bool  # output placed at the end of the arena (odd layers)
    out_pack_groups: int


def activation_bytes(shape: tuple[int, int, int], pack_groups: int) -> int:
    h, w, c = shape
    return 4 * h * w * B.words_per_pixel(c, pack_groups)


def plan_layers(model: ir.Model) -> tuple[list[LayerPlan], int]:
    """Place every layer's output in the arena; return the plans and the arena size in bytes."""
    plans, arena = [], 0
    for i, layer in enumerate(model.layers):
        g = model.out_pack_groups(i)
        is_output = isinstance(layer, ir.BDense) and layer.output
        out_bytes = 4 * layer.out_features if is_output else activation_bytes(layer.out_shape, g)
        in_bytes = 0 if i == 0 else plans[-1].out_bytes  # the image is read from flash
        # the logits go to the caller's buffer, not the arena
        arena = max(arena, in_bytes + (0 if is_output else out_bytes))
        plans.append(LayerPlan(i, layer, c_ident(layer.name), in_bytes, out_bytes,
                               i % 2 == 1, g))
    return plans, arena


def conv_scratch_bytes(layer: ir.BConv2d) -> int:
    """Mirror of bnn_bconv2d_get_buffer_size(); the firmware checks it at run time too."""
    kh, kw = layer.kernel
    cg = layer.in_shape[2] // layer.groups
    words = kh * kw * B.words_per_group(cg)
    if cg <= 16:  # dense fields (scalar builds): lanes of the next power of two >= cg bits
        lane = 1
        while lane < cg:
            lane *= 2
        per_word = 32 // lane
        nd = (kh * kw + per_word - 1) // per_word
        if nd < kh * kw:  # scratch: dense weights of a run of up to 32 channels + the field
            words = max(words, 33 * nd)
    return 4 * words


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / "model")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["c_array"] = c_array
    env.filters["c_ident"] = c_ident
    return env


def render(model: ir.Model, board_name: str, out_dir: Path, images: np.ndarray,
           expected_logits: np.ndarray, variant: str = "opt") -> list[Path]:
    """Write the generated sources plus the runtime and platform files into ``out_dir``.

    ``images`` uint8[N,H,W,C] are the test vectors, ``expected_logits`` int32[N,K] the
    oracle's logits for them (the firmware checks itself; the emulate stage checks it again)."""
    model.validate()
    if variant not in VARIANTS:
        raise RenderError(f"unknown kernel variant {variant!r}; use one of {VARIANTS}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[1:] != model.input_shape or len(images) < 1:
        raise RenderError(f"test vectors must be uint8[N>=1, {', '.join(map(str, model.input_shape))}]"
                          f", got {images.dtype}{list(images.shape)}")
    expected_logits = np.asarray(expected_logits)
    if expected_logits.shape != (len(images), model.num_classes):
        raise RenderError("expected logits do not match the vectors and the model's classes")

    plans, arena_bytes = plan_layers(model)
    scratch_bytes = max([conv_scratch_bytes(p.layer) for p in plans
                         if isinstance(p.layer, ir.BConv2d)] + [4])
    context = {
        "provenance": {
            "ir_sha256": model.sha256(),
            "board": board_name,
            "generator": f"glt-bnn {__version__}, jinja2 {jinja2.__version__}",
            "variant": variant,
        },
        "model": model,
        "plans": plans,
        "arena_words": (arena_bytes + 3) // 4,
        "scratch_words": scratch_bytes // 4,
        "variant_suffix": "" if variant == "opt" else "_ref",
        "num_classes": model.num_classes,
        "input_bytes": int(np.prod(model.input_shape)),
        "images": images.reshape(len(images), -1),
        "expected_logits": expected_logits.astype(np.int64),
        "expected_classes": np.argmax(expected_logits, axis=1),
        "ir": ir,
    }
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    env = _environment()
    for name in MODEL_TEMPLATES:
        text = env.get_template(f"{name}.j2").render(**context)
        (tmp / name).write_text(text)
    for sub in ("runtime", "platform"):
        for f in sorted((TEMPLATES / sub).iterdir()):
            if f.suffix in (".c", ".h", ".S"):
                shutil.copyfile(f, tmp / f.name)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return sorted(out_dir.iterdir())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ir", required=True, type=Path, help="model.ir.json")
    parser.add_argument("--board", required=True)
    parser.add_argument("--out", type=Path, help="output folder (default: <ir dir>/<board>/src)")
    parser.add_argument("--vectors", type=int, default=8, help="random test vectors to embed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", choices=VARIANTS, default="opt")


def run(args: argparse.Namespace) -> int:
    from . import boards, reference
    board = boards.load_board(args.board)
    model = ir.Model.load(args.ir)
    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, size=(args.vectors, *model.input_shape), dtype=np.uint8)
    logits = reference.run(model, images).logits
    out = args.out or args.ir.parent / board.name / "src"
    files = render(model, board.name, out, images, logits, args.variant)
    print(f"rendered {len(files)} files into {out}")
    return 0
