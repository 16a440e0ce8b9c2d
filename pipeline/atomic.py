"""Atomic file writes: a reader (or a later stage) sees the old file or the new one, never a
half-written one, and a failed write leaves nothing behind."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import PipelineError


class OutputNotWritableError(PipelineError):
    """An output folder cannot be created or written (read-only, permissions, disk full)."""


def writable_dir(path: str | os.PathLike, create: bool = True) -> Path:
    """Prove ``path`` writable (a file is created in it and removed), so that a read-only build
    directory fails before any expensive work, naming the folder. ``create``: make the folder
    now; else probe its nearest existing parent and create nothing (the writer makes it)."""
    path = Path(path)
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
            where = path
        else:
            where = next(p for p in (path, *path.parents) if p.exists())
            if not where.is_dir():
                raise NotADirectoryError(20, "Not a directory", str(where))
        fd, probe = tempfile.mkstemp(dir=where, prefix=".write-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputNotWritableError(f"cannot write into {path}: {exc.strerror or exc}; make it "
                                     "writable or choose another --build-dir/--out") from None
    return path


def write_atomic(path: str | os.PathLike, writer: Callable[[BinaryIO], object]) -> Path:
    """Call ``writer`` on a temporary file beside ``path``, then rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            writer(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`write_atomic`)."""
    return write_atomic(path, lambda f: f.write(data))


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`write_atomic`)."""
    return write_bytes_atomic(path, text.encode())
