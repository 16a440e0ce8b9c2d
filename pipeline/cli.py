"""`python -m pipeline <verb> ...`: one stage per verb.

Each verb lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``; only the
chosen verb's module is imported, so `boards` or `ir show` do not pay for importing torch.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from .errors import PipelineError

# verb -> (module, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "setup": ("pipeline.setup_env", "install Debian packages and the pinned virtual environment"),
    "boards": ("pipeline.boards", "list the supported boards"),
    "data": ("pipeline.data", "prepare and cache a dataset"),
    "train": ("pipeline.train", "train the binarized network (teacher, KD, block pruning)"),
    "lower": ("pipeline.lower", "checkpoint -> integer IR (model.ir.json + .npz)"),
    "ir": ("pipeline.ir_cli", "inspect an IR file (`ir show`)"),
    "export": ("pipeline.export", "IR -> ONNX and TFLite (LCE), each checked against the oracle"),
    "insensor": ("pipeline.insensor", "learned thresholds -> comparator/DAC codes (JSON + C)"),
    "render": ("pipeline.render", "IR + board -> C firmware sources"),
    "build": ("pipeline.build", "compile rendered firmware for a board, check size budget"),
    "emulate": ("pipeline.emulate", "run firmware under QEMU and check it against the oracle"),
    "report": ("pipeline.report", "write report.json / report.md / plots"),
    "deploy": ("pipeline.deploy", "run every stage for a board, skipping up-to-date ones"),
}


def _top_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Fully-binarized GLT networks: training -> IR -> ONNX/TFLite -> Cortex-M firmware",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="verbs:\n" + "\n".join(f"  {v:<9} {h}" for v, (_, h) in VERBS.items()),
    )
    p.add_argument("verb", choices=list(VERBS), metavar="verb")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in VERBS:
        _top_parser().parse_args(argv[:1] or ["--help"])
        return 2
    # larq needs Keras 2, chosen before TensorFlow is imported; keep TensorFlow's C++ logs quiet.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    verb, rest = argv[0], argv[1:]
    module_name, help_text = VERBS[verb]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"python -m pipeline {verb}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except PipelineError as exc:
        first, *detail = str(exc).strip().splitlines() or [""]
        if detail:  # tool output (a compiler's, QEMU's) or a table: on stdout, before the error
            print("\n".join(detail), flush=True)
        print(f"error: {type(exc).__name__}: {first}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in USER_FIXABLE_ERRNOS:
            raise  # anything else is a bug and keeps its traceback
        where = exc.filename or "a file"
        print(f"error: FileAccessError: cannot access {where}: {exc.strerror}; check its "
              "permissions and free space, or choose another path", file=sys.stderr)
        return 2


# Operating-system errors the user fixes (permissions, read-only or full disks), not bugs.
USER_FIXABLE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
                       errno.ENOTDIR, errno.EISDIR}
