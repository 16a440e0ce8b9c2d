"""Render stage: IR + board + test vectors -> a C library of the model plus its test harness.

Under the output folder (``build/<config>/<board>/`` in a deploy) it writes:

* ``model/``: ``<name>.h`` (the documented API), ``<name>.c`` (a straight line of runtime calls
  on a caller-owned arena), ``<name>_weights.c`` (``const`` packed weights and thresholds, with
  an overridable placement macro) and a ``CMakeLists.txt``. Every symbol and macro carries the
  model's name, so several models link into one program.
* ``runtime/``: the hand-written kernels (``firmware_templates/runtime``, copied verbatim) with
  their CMake, Zephyr, PlatformIO and Arduino files.
* ``harness/``: ``main.c``, ``<name>_vectors.c|h``, the bare-metal platform and ``linker.ld``:
  the test image, which uses the model only through ``<name>.h``.
* ``<name>-<board>.tar.gz``: ``model/`` + ``runtime/`` + a README with a usage example.
* ``kernels.json``: the fast path each layer's kernel takes on this board (:func:`kernel_choices`),
  which the report shows.

The same IR, board, name and vectors always give byte-identical files. Activation memory is one
region of the arena used from both ends (ping-pong): layer i writes its output at the start when
i is even and at the end when i is odd, so a layer's input and output never overlap; it is sized
by the largest input + output pair. The kernels' scratch follows it in the arena.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import shutil
import tempfile
import tarfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from . import __version__
from . import bits as B
from . import ir, ops, resources, targets
from .ops.bdense import sliced_blocks
from .atomic import writable_dir
from .errors import PipelineError

MODEL_TEMPLATES = {"model.h.j2": "{name}.h", "model.c.j2": "{name}.c",
                   "weights.c.j2": "{name}_weights.c", "CMakeLists.txt.j2": "CMakeLists.txt"}
HARNESS_TEMPLATES = {"main.c.j2": "main.c", "vectors.h.j2": "{name}_vectors.h",
                     "vectors.c.j2": "{name}_vectors.c"}
VARIANTS = ("opt", "ref")
RUNTIME_ABI_VERSION = 3  # must equal BNN_RUNTIME_ABI_VERSION in firmware_templates/runtime/bnn.h
DEFAULT_NAME = "model"
OUTPUT_DIRS = ("model", "runtime", "harness")
KERNELS_FILE = "kernels.json"

# C99 + C11 keywords, and names a model must not take because the runtime or C owns them.
C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union
unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary
_Noreturn _Static_assert _Thread_local asm bool true false main
""".split())
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_NAME_LENGTH = 40


class RenderError(PipelineError):
    """The IR or the vectors cannot be rendered into firmware."""


class InvalidModelNameError(RenderError):
    """The model name (``--name``) cannot prefix C identifiers."""


def check_model_name(name: str) -> str:
    """Return ``name`` if it can prefix every generated C symbol, else raise
    :class:`InvalidModelNameError` with the fix.

    Rules: a C identifier (letters, digits, ``_``, not starting with a digit), at most 40
    characters, not a C keyword nor ``main``, not ``bnn``/``bnn_...`` (the runtime's prefix) and
    not starting with ``_`` (reserved for the C implementation)."""
    why = None
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        why = "is not a C identifier (letters, digits and _, not starting with a digit)"
    elif name in C_KEYWORDS:
        why = "is a C keyword or reserved name"
    elif name.lower() == "bnn" or name.lower().startswith("bnn_"):
        why = "collides with the runtime's bnn_ prefix"
    elif name.startswith("_"):
        why = "starts with _, which C reserves for the implementation"
    elif len(name) > MAX_NAME_LENGTH:
        why = f"is longer than {MAX_NAME_LENGTH} characters"
    if why:
        raise InvalidModelNameError(f"model name {name!r} {why}; pass --name with a C "
                                    "identifier such as fashion_net")
    return name


def default_model_name(text: str) -> str:
    """A valid model name derived from a config or IR name: non-identifier characters become
    ``_``; a result that is still invalid gets the prefix ``m_``."""
    out = re.sub(r"[^A-Za-z0-9_]+", "_", str(text)).strip("_").lower()[:MAX_NAME_LENGTH - 2]
    out = out or DEFAULT_NAME
    try:
        return check_model_name(out)
    except InvalidModelNameError:
        return check_model_name("m_" + out.lstrip("_"))


def name_from_ir_path(path: Path) -> str:
    """The name deploy gives an IR file: its folder for ``model.ir.json``, else its stem. It
    becomes a folder under the build directory, so it must be one safe path component (the
    pattern config names follow); otherwise :class:`RenderError` asks to rename the file."""
    from .config import NAME_PATTERN
    path = Path(path)
    if path.name == "model.ir.json":
        name = path.resolve().parent.name
    else:
        name = path.name.removesuffix(".json").removesuffix(".ir")
    if not re.fullmatch(NAME_PATTERN, name):
        raise RenderError(f"{path}: the IR's name {name!r} becomes a folder under the build "
                          "directory; rename the file (letters, digits, '.', '_', '-')")
    return name


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


def c_string(text: str) -> str:
    """``text`` as a C string literal: printable ASCII kept, quotes, backslashes and anything
    else escaped as octal, so any layer name is safe in generated code."""
    out = []
    for ch in str(text):
        if ch in '"\\?':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode())
    return '"' + "".join(out) + '"'


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

    @property
    def params_type(self) -> str:
        """The runtime's params struct of this layer's kernel (its kind's ``c_params_type``)."""
        return ops.op_for(self.layer).c_params_type(self.layer)

    @property
    def template(self) -> str:
        """The call-site template of this layer's kind: macros ``params`` and ``call``."""
        return f"model/ops/{self.layer.kind}.c.j2"


def activation_bytes(shape: tuple[int, int, int], pack_groups: int) -> int:
    h, w, c = shape
    return 4 * h * w * B.words_per_pixel(c, pack_groups)


def plan_layers(model: ir.Model) -> tuple[list[LayerPlan], int]:
    """Place every layer's output in the arena; return the plans and the arena size in bytes."""
    plans, arena = [], 0
    for i, layer in enumerate(model.layers):
        g = model.out_pack_groups(i)
        is_output = layer.is_output
        out_bytes = 4 * layer.out_features if is_output else activation_bytes(layer.out_shape, g)
        in_bytes = 0 if i == 0 else plans[-1].out_bytes  # the image is read from flash
        # the logits go to the caller's buffer, not the arena
        arena = max(arena, in_bytes + (0 if is_output else out_bytes))
        plans.append(LayerPlan(i, layer, c_ident(layer.name), in_bytes, out_bytes,
                               i % 2 == 1, g))
    return plans, arena


def conv_scratch_bytes(layer) -> int:
    """See :func:`pipeline.ops.bconv2d.conv_scratch_bytes`."""
    from .ops.bconv2d import conv_scratch_bytes as scratch
    return scratch(layer)


def kernel_choices(model: ir.Model, board, variant: str = "opt") -> dict:
    """Which kernel path every layer of ``model`` takes in firmware for ``board`` (a
    :class:`pipeline.boards.Board`), as written to ``kernels.json``.

    Returns ``{"board", "target", "variant", "layers": [{"index", "name", "kind", "path"}]}``:
    ``target`` is the board's :class:`pipeline.targets.KernelTarget` family (``thumb2``,
    ``v6m``, ``helium``); ``path`` is the fast path the optimized kernel selects for the layer
    (its kind's ``kernel_path`` part, a mirror of the C predicates: e.g. ``"field9"`` for a
    bconv2d, ``"table"`` for a thermometer), ``"ref"`` for every layer when ``variant`` is
    ``ref``, and None for a kernel with a single implementation.

    The generated code keeps calling each kind's dispatching entry point (``bnn_bconv2d``), which
    makes the same choice at run time from the same geometry: the model's sources stay valid
    for any build of the runtime (the host, another core, a build without Helium), where a
    direct call to a path whose predicate does not hold would fail with ``BNN_ERR_SHAPE``."""
    target = targets.for_board(board)
    plans, _ = plan_layers(model)
    layers = []
    for p in plans:
        path = "ref" if variant == "ref" else \
            ops.op_for(p.layer).kernel_path(p.layer, p.out_pack_groups, target)
        layers.append({"index": p.index, "name": p.layer.name, "kind": p.layer.kind,
                       "path": path})
    return {"board": board.name, "target": target.name, "variant": variant, "layers": layers}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["c_array"] = c_array
    env.filters["c_ident"] = c_ident
    env.filters["c_string"] = c_string
    return env


@dataclass(frozen=True)
class Rendered:
    """What :func:`render` wrote: the folders of one model and the archive."""
    root: Path
    name: str
    board: str

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def runtime_dir(self) -> Path:
        return self.root / "runtime"

    @property
    def harness_dir(self) -> Path:
        return self.root / "harness"

    @property
    def archive(self) -> Path:
        return self.root / f"{self.name}-{self.board}.tar.gz"

    def library_sources(self) -> list[Path]:
        """The model's and the runtime's C files: what a user project compiles."""
        return sorted(self.model_dir.glob("*.c")) + sorted(self.runtime_dir.glob("*.c"))

    def firmware_sources(self) -> list[Path]:
        """The library plus the harness (main, vectors, platform): the test image."""
        return sorted(self.harness_dir.glob("*.c")) + self.library_sources()

    def include_dirs(self) -> list[Path]:
        """Include path of the test image: model/, runtime/, harness/."""
        return [self.model_dir, self.runtime_dir, self.harness_dir]

    @property
    def kernels_json(self) -> Path:
        """The kernel path of every layer on this board (:func:`kernel_choices`)."""
        return self.root / KERNELS_FILE

    @property
    def linker_script(self) -> Path:
        """The harness's linker script, rendered from the board's memory map."""
        return self.harness_dir / "linker.ld"


def _write_archive(src_root: Path, archive: Path, top: str, readme: str) -> None:
    """A reproducible .tar.gz of model/ + runtime/ + README.md under ``top/`` (fixed times,
    owners and modes, sorted entries)."""
    def info(name: str, size: int | None) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(f"{top}/{name}" if name else top)
        ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "", ""
        if size is None:
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        else:
            ti.size, ti.mode = size, 0o644
        return ti

    with open(archive, "wb") as raw, \
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info("", None))
        data = readme.encode()
        tar.addfile(info("README.md", len(data)), io.BytesIO(data))
        for sub in ("model", "runtime"):
            tar.addfile(info(sub, None))
            for f in sorted((src_root / sub).rglob("*")):
                rel = f.relative_to(src_root).as_posix()
                if f.is_dir():
                    tar.addfile(info(rel, None))
                else:
                    with open(f, "rb") as fh:
                        tar.addfile(info(rel, f.stat().st_size), fh)


def render(model: ir.Model, board, out_dir: Path, images: np.ndarray,
           expected_logits: np.ndarray, variant: str = "opt",
           name: str = DEFAULT_NAME) -> Rendered:
    """Write ``model/``, ``runtime/``, ``harness/`` and ``<name>-<board>.tar.gz`` into ``out_dir``.

    ``board`` is a :class:`pipeline.boards.Board` or a board name (its memory map gives the
    harness's linker script); ``images`` uint8[N,H,W,C] are the harness's test vectors,
    ``expected_logits`` int32[N,K] the oracle's logits for them (the harness checks itself; the
    emulate stage checks it again); ``name`` prefixes every generated symbol
    (:func:`check_model_name`). Other files in ``out_dir`` are left alone; the four outputs are
    replaced only once all of them rendered."""
    from . import boards
    check_model_name(name)
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
    if isinstance(board, str):
        board = boards.load_board(board)

    plans, arena_bytes = plan_layers(model)
    kernels = kernel_choices(model, board, variant)
    scratch_bytes = max([ops.op_for(p.layer).scratch_bytes(p.layer) for p in plans] + [4])
    h, w, c = model.input_shape
    context = {
        "provenance": {
            "ir_sha256": model.sha256(),
            "board": board.name,
            "generator": f"glt-bnn {__version__}, jinja2 {jinja2.__version__}",
            "variant": variant,
        },
        "name": name,
        "NAME": name.upper(),
        "abi_version": RUNTIME_ABI_VERSION,
        "model": model,
        "plans": plans,
        "activation_bytes": 4 * ((arena_bytes + 3) // 4),
        "scratch_bytes": 4 * ((scratch_bytes + 3) // 4),
        "variant_suffix": "" if variant == "opt" else "_ref",
        "num_classes": model.num_classes,
        "input_h": h, "input_w": w, "input_c": c,
        "input_bytes": int(np.prod(model.input_shape)),
        "images": images.reshape(len(images), -1),
        "expected_logits": expected_logits.astype(np.int64),
        "ir": ir,
        # each layer's kernel path (kernels.json): a hidden dense layer's decides its layout
        "kernel_paths": [layer["path"] for layer in kernels["layers"]],
        "sliced_blocks": sliced_blocks,
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = Rendered(out_dir, name, board.name)
    # a temporary folder unique to this call: concurrent renders never share one, and a
    # failed render removes it (deploy also removes what an interrupted one left)
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=".render-", suffix=".tmp"))
    try:
        _render_into(tmp, out_dir, result, context, board, name, kernels)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _render_into(tmp: Path, out_dir: Path, result: "Rendered", context: dict, board,
                 name: str, kernels: dict) -> None:
    """Render every output into ``tmp``, then move them into ``out_dir``."""
    from . import build
    staged = Rendered(tmp, name, board.name)
    env = _environment()
    templates = resources.templates_dir()
    for sub, table in (("model", MODEL_TEMPLATES), ("harness", HARNESS_TEMPLATES)):
        (tmp / sub).mkdir(parents=True)
        for template, target in table.items():
            text = env.get_template(f"{sub}/{template}").render(**context)
            (tmp / sub / target.format(name=name)).write_text(text)
    shutil.copytree(templates / "runtime", staged.runtime_dir,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
    for f in sorted(resources.platform_dir().iterdir()):
        if f.suffix in (".c", ".h"):
            shutil.copyfile(f, staged.harness_dir / f.name)
    (staged.harness_dir / "linker.ld").write_text(build.render_linker_script(board))
    readme = env.get_template("model/README.md.j2").render(**context)
    _write_archive(tmp, staged.archive, f"{name}-{board.name}", readme)
    staged.kernels_json.write_text(json.dumps(kernels, indent=1) + "\n")
    for old in out_dir.glob(f"*-{board.name}.tar.gz"):
        old.unlink()
    for sub in OUTPUT_DIRS:
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)
        (tmp / sub).rename(out_dir / sub)
    staged.archive.rename(result.archive)
    staged.kernels_json.replace(result.kernels_json)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ir", required=True, type=Path, help="model.ir.json")
    parser.add_argument("--board", required=True)
    parser.add_argument("--out", type=Path,
                        help="output folder (default: ./build/<model>/<board>)")
    parser.add_argument("--name", help="C name of the model, prefix of every generated symbol "
                        "(default: derived from the IR's folder or file name)")
    parser.add_argument("--vectors", type=int, default=8, help="random test vectors to embed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", choices=VARIANTS, default="opt")


def run(args: argparse.Namespace) -> int:
    """`render`: the IR file's model for one board, with random test vectors."""
    from . import boards, reference
    board = boards.load_board(args.board)
    ir_name = name_from_ir_path(args.ir)
    name = check_model_name(args.name) if args.name else default_model_name(ir_name)
    model = ir.Model.load(args.ir)  # a bad IR fails before any folder is created
    out = writable_dir(args.out or Path("build") / ir_name / board.name)
    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, size=(args.vectors, *model.input_shape), dtype=np.uint8)
    logits = reference.run(model, images).logits
    result = render(model, board, out, images, logits, args.variant, name)
    print(f"rendered {name} into {out}: model/, runtime/, harness/, {result.archive.name}")
    return 0
