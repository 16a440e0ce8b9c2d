"""`deploy`: every stage for one board, from raw data (or an IR file) to a verified report.

data -> train -> lower -> evaluate -> export -> render -> build -> emulate -> report, each skipped
when its inputs did not change (:mod:`pipeline.stages`). The board is checked first, so a typo
fails before any training. A failed check (over budget, firmware mismatch, fault, timeout)
raises its named error and leaves no report claiming success.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from . import ir, resources
from .atomic import writable_dir, write_text_atomic
from .build import BudgetExceededError
from .verify import FirmwareMismatchError  # noqa: F401  (re-exported: deploy raises it)
from .errors import PipelineError
from .stages import Stage, module_closure, run_stage

DEFAULT_CONFIG = resources.configs_dir() / "fashion_glt.yaml"


# The package modules each stage runs: their import closure (pipeline.stages.module_closure) is
# an input of the stage, so an edited module re-runs exactly the stages that import it. (The
# actions below only call into these modules, so deploy.py itself is no stage's input.)
STAGE_CODE: dict[str, tuple[str, ...]] = {
    "data": ("pipeline.data",),
    "train": ("pipeline.train",),
    "lower": ("pipeline.lower",),
    "evaluate": ("pipeline.evaluate",),
    "vectors": ("pipeline.vectors",),
    "export": ("pipeline.export", "pipeline.vectors"),
    "insensor": ("pipeline.insensor",),
    "render": ("pipeline.render",),
    "build": ("pipeline.build",),
    "emulate": ("pipeline.emulate", "pipeline.verify"),
}


def stage_resource_inputs() -> dict[str, list[Path]]:
    """Files other than Python modules that stages read: templates, the platform sources and
    the linker script template, board records."""
    templates = resources.templates_dir()
    return {"render": [templates], "build": [templates / "platform", resources.boards_dir()]}


def stage_code_inputs() -> dict[str, list[Path]]:
    """Source files each stage depends on (for tests and for `why did this re-run`)."""
    return {name: module_closure(*mods) for name, mods in STAGE_CODE.items()}


@dataclass
class Paths:
    root: Path  # build/<config>
    board: Path  # build/<config>/<board>

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.pt"

    @property
    def ir(self) -> Path:
        return self.root / "model.ir.json"

    @property
    def npz(self) -> Path:
        return self.root / "model.ir.npz"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors.npz"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation.json"

    @property
    def src(self) -> Path:
        """Where render writes model/, runtime/, harness/ and the .tar.gz: the board folder."""
        return self.board


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", required=True, help="board name (python -m pipeline boards)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="training config YAML")
    parser.add_argument("--ir", type=Path, help="deploy this IR file instead of training")
    parser.add_argument("--model", help="deploy this pretrained zoo model (zoo/<MODEL>/) instead "
                        f"of training; the zoo has: {', '.join(_zoo_names()) or 'none'}")
    parser.add_argument("--vectors", type=int, help="test vectors run on the board "
                        "(default: the config's deploy.vectors, or 20)")
    parser.add_argument("--variant", choices=("opt", "ref"), default="opt",
                        help="kernel variant the firmware calls")
    parser.add_argument("--build-dir", type=Path, default=Path("build"),
                        help="where outputs go (default: ./build)")
    parser.add_argument("--name", help="C name of the model: prefix of every generated symbol "
                        "(default: derived from the config or IR name)")
    parser.add_argument("--timeout", type=float, default=300.0, help="QEMU timeout, seconds")
    parser.add_argument("--lock-timeout", type=float, default=3600.0,
                        help="seconds to wait for another deploy into the same build directory")
    parser.add_argument("--force", action="store_true", help="re-run every stage")


def run(args: argparse.Namespace) -> int:
    from . import boards
    started = time.monotonic()
    board = boards.load_board(args.board)  # unknown board: fails before any work
    if args.name is not None:
        from .render import check_model_name
        check_model_name(args.name)  # a bad C name fails before any work too
    cfg = None
    if getattr(args, "model", None) is not None:
        if args.ir is not None:
            raise PipelineError("give --model or --ir, not both")
        args.ir = resources.zoo_model(args.model)  # an unknown name fails here, listing the zoo
    if args.ir is not None:
        ir.Model.load(args.ir)  # a missing or malformed IR fails here, before any work
        from .render import name_from_ir_path
        name = name_from_ir_path(args.ir)
        vectors = 20 if args.vectors is None else args.vectors
    else:
        from .config import load_config
        cfg = load_config(args.config)  # checks the whole architecture and the bit budget
        name = cfg.name
        vectors = cfg.deploy.vectors if args.vectors is None else args.vectors
    if not 1 <= vectors <= MAX_VECTORS:
        raise PipelineError(f"--vectors must be 1..{MAX_VECTORS:,}, got {vectors}")
    paths = Paths(args.build_dir / name, args.build_dir / name / board.name)
    writable_dir(paths.board)  # a read-only build directory fails now, naming the path
    with deploy_lock(paths.root, args.lock_timeout):
        out = _deploy_locked(args, board, cfg, paths, vectors)
    print(f"deploy: {board.name} done in {time.monotonic() - started:.1f} s -> {out}")
    return 0


MAX_VECTORS = 1_000_000  # as deploy.vectors in a config


def _zoo_names() -> list[str]:
    try:
        return resources.zoo_models()
    except resources.MissingResourceError:
        return []


class DeployLockedError(PipelineError):
    """Another deploy holds the build directory's lock for longer than --lock-timeout."""


@contextmanager
def deploy_lock(root: Path, timeout_s: float):
    """Hold ``<root>/.deploy.lock`` (an OS-level lock through the ``filelock`` package, released
    by the kernel if the holder dies) while a deploy writes into ``root``; a second deploy into
    the same directory waits for it, then fails with :class:`DeployLockedError`."""
    lock = FileLock(str(root / ".deploy.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"deploy: waiting for another deploy into {root} (up to {timeout_s:.0f} s)",
              flush=True)
        try:
            lock.acquire(timeout=timeout_s)
        except Timeout:
            raise DeployLockedError(f"another deploy kept {root} locked for {timeout_s:.0f} s; "
                                    "wait for it, or use another --build-dir") from None
    try:
        yield
    finally:
        lock.release()


# Temporary names of interrupted writers: atomic writes and stamps (*.tmp), render
# (.render-*.tmp), build (.build-*), export (.export.*).
LEFTOVERS = ("*.tmp", ".build-*", ".export.*")


def _remove_leftovers(paths: Paths) -> None:
    """Remove what an interrupted deploy left behind (only called while holding the lock, so
    no running writer owns them)."""
    for folder in (paths.root, paths.root / ".stamps", paths.root / "data", paths.board,
                   paths.board / ".stamps"):
        for pattern in LEFTOVERS:
            for stale in folder.glob(pattern):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
                else:
                    stale.unlink(missing_ok=True)


def _deploy_locked(args, board, cfg, paths: Paths, vectors: int) -> Path:
    _remove_leftovers(paths)
    for stale in ("report.json", "report.md"):  # never leave a success report from an old run
        (paths.board / stale).unlink(missing_ok=True)
    if args.force:
        for stamp in list((paths.root / ".stamps").glob("*.json")) + \
                list((paths.board / ".stamps").glob("*.json")):
            stamp.unlink()

    ir_path = args.ir.resolve() if args.ir is not None else paths.ir
    if cfg is not None:
        _train_and_lower(cfg, paths)
    _make_vectors(cfg, ir_path, paths, vectors)
    _export(ir_path, paths)
    _insensor(ir_path, paths)
    try:
        _render_build_emulate(board, ir_path, paths, args)
    except BudgetExceededError as exc:
        raise _vectors_budget_error(exc, ir.Model.load(ir_path), vectors) from None
    from . import report
    return report.write_report(board=board, ir_path=ir_path, paths=paths,
                               config_path=None if cfg is None else args.config)


class VectorsOverBudgetError(BudgetExceededError):
    """The model fits the board, but not with this many embedded test vectors."""


def _vectors_budget_error(exc: BudgetExceededError, model: ir.Model,
                          vectors: int) -> BudgetExceededError:
    """Say how much of an over-budget image is test vectors and how many would fit.

    Each vector is stored in flash as its uint8 image plus the oracle's int32 logits."""
    report = exc.report
    if report is None:
        return exc
    per_vector = int(np.prod(model.input_shape)) + 4 * model.num_classes
    over = report["flash_bytes"] - report["budget"]["flash"]
    ram_over = report["ram_bytes"] - report["budget"]["ram"]
    if over <= 0 or ram_over > 0 or over > (vectors - 1) * per_vector:
        return exc  # the model itself does not fit: the table says why
    fit = vectors - -(-over // per_vector)
    return VectorsOverBudgetError(
        f"the firmware is {over:,} B over the flash budget ({report['budget']['flash']:,} B), and "
        f"its {vectors} test vectors take {vectors * per_vector:,} B ({per_vector:,} B each): "
        f"at most {fit} fit; use --vectors {fit} (make: VECTORS={fit})\n"
        + str(exc), report)


def _train_and_lower(cfg, paths: Paths) -> None:
    from . import train as train_mod
    from .data import CACHE_FILE, cache_params, prepare

    dataset = paths.root / "data" / CACHE_FILE
    # The data stage's parameters include the content fingerprint of the dataset files, so
    # swapped or edited files re-read the data and everything downstream follows.
    run_stage(Stage("data", paths.root, [], cache_params(cfg.data, cfg.seed, paths.root),
                    [dataset], code=STAGE_CODE["data"]),
              lambda: prepare(cfg, paths.root, refresh=True))
    train_stage = Stage("train", paths.root, [dataset], {"config": cfg.to_dict()},
                        [paths.checkpoint], code=STAGE_CODE["train"])
    run_stage(train_stage, lambda: train_mod.train(cfg, paths.root))

    def lower() -> None:
        from .lower import lower_checkpoint
        lower_checkpoint(paths.checkpoint).save(paths.ir)

    run_stage(Stage("lower", paths.root, [paths.checkpoint], {}, [paths.ir, paths.npz],
                    code=STAGE_CODE["lower"]), lower)

    def evaluate() -> None:
        from .evaluate import evaluate_model
        result = evaluate_model(cfg, paths.checkpoint, paths.ir, paths.root)
        _write_json(paths.evaluation, result)

    run_stage(Stage("evaluate", paths.root, [dataset, paths.checkpoint, paths.ir, paths.npz],
                    {"config": cfg.to_dict()}, [paths.evaluation], code=STAGE_CODE["evaluate"]),
              evaluate)


def _make_vectors(cfg, ir_path: Path, paths: Paths, n: int) -> None:
    """Test vectors: the first n test images of the dataset, or seeded random images."""
    from .vectors import write_vectors
    inputs = _ir_inputs(ir_path)
    if cfg is not None:
        inputs += [paths.checkpoint, paths.root / "data" / "dataset.npz"]
    run_stage(Stage("vectors", paths.root, inputs, {"n": n, "random": cfg is None},
                    [paths.vectors], code=STAGE_CODE["vectors"]),
              lambda: write_vectors(cfg, ir_path, paths.root, paths.vectors, n))


def _ir_inputs(ir_path: Path) -> list[Path]:
    return [ir_path, ir_path.with_name(ir_path.name.removesuffix(".json") + ".npz")]


# What the export stage imports: without them (a plain `pip install glt-bnn`, no [export]
# extra) deploy skips the stage, says so, and the report shows the exports as not run.
EXPORT_MODULES = ("onnx", "onnxruntime", "tensorflow", "larq", "larq_compute_engine")


def _export(ir_path: Path, paths: Paths) -> None:
    import importlib.util
    outputs = [paths.root / "model.onnx", paths.root / "model.tflite", paths.root / "export.json"]
    missing = [m for m in EXPORT_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        for stale in outputs:
            stale.unlink(missing_ok=True)
        print(f"[export] skipped: {', '.join(missing)} not installed "
              "(pip install 'glt-bnn[export]' adds the ONNX and TFLite exports)")
        return

    def export() -> None:
        from .export import export_all
        from .vectors import export_images
        model = ir.Model.load(ir_path)
        with np.load(paths.vectors) as z:
            images = z["images"]
        images, labels, source = export_images(paths.root / "data" / "dataset.npz", images)
        export_all(model, paths.root, images, source, labels)

    cache = paths.root / "data" / "dataset.npz"
    run_stage(Stage("export", paths.root, [*_ir_inputs(ir_path), paths.vectors, cache], {},
                    outputs, code=STAGE_CODE["export"]), export)


def _insensor(ir_path: Path, paths: Paths) -> None:
    from .insensor import write_insensor
    run_stage(Stage("insensor", paths.root, _ir_inputs(ir_path), {},
                    [paths.root / "insensor.json", paths.root / "insensor.h"],
                    code=STAGE_CODE["insensor"]),
              lambda: write_insensor(ir.Model.load(ir_path), paths.root))


def _render_build_emulate(board, ir_path: Path, paths: Paths, args) -> None:
    from . import build, reference, render, verify
    board_file = board.path
    name = args.name
    name = render.check_model_name(name) if name else render.default_model_name(paths.root.name)
    rendered = render.Rendered(paths.src, name, board.name)

    def do_render() -> None:
        model = ir.Model.load(ir_path)
        with np.load(paths.vectors) as z:
            images = z["images"]
        logits = reference.run(model, images).logits
        render.render(model, board, paths.src, images, logits, args.variant, name)
        shutil.rmtree(paths.board / "src", ignore_errors=True)  # the layout before model/

    run_stage(Stage("render", paths.board, [*_ir_inputs(ir_path), paths.vectors, board_file,
                                            *stage_resource_inputs()["render"]],
                    {"variant": args.variant, "name": name},
                    [rendered.model_dir, rendered.runtime_dir, rendered.harness_dir,
                     rendered.archive, rendered.kernels_json], code=STAGE_CODE["render"]),
              do_render)

    elf = paths.board / "firmware.elf"

    def do_build() -> None:
        build.build_firmware(board, rendered.firmware_sources(), rendered.include_dirs(),
                             paths.board, linker_script=rendered.linker_script)

    run_stage(Stage("build", paths.board, [*rendered.include_dirs(), board_file,
                                           *stage_resource_inputs()["build"]], {},
                    [elf, paths.board / "size.json"], code=STAGE_CODE["build"]), do_build)

    emulation = paths.board / "emulation.json"
    if board.qemu is None:
        if emulation.exists():
            emulation.unlink()
        print(f"[emulate] {board.name} is a hardware-only board: built and size-checked, not run")
        return

    def do_emulate() -> None:
        with np.load(paths.vectors) as z:
            images, labels = z["images"], z["labels"]
        doc = verify.emulate_and_verify(board, elf, ir.Model.load(ir_path), images, labels,
                                        paths.board / "qemu.log", args.timeout)
        _write_json(emulation, doc)

    run_stage(Stage("emulate", paths.board, [elf, paths.vectors, *_ir_inputs(ir_path),
                                             board_file],
                    {"timeout": args.timeout}, [emulation], code=STAGE_CODE["emulate"]),
              do_emulate)


def _write_json(path: Path, doc: dict) -> None:
    write_text_atomic(path, json.dumps(doc, indent=1, default=_json_default))


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(type(v))
