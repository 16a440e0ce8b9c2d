"""Stage caching: a stage is skipped only when the fingerprint of its inputs is unchanged *and*
its outputs are exactly the ones it wrote.

* Inputs are files and folders (hashed by relative name and content), parameters (JSON), and the
  stage's code: the import closure of the modules it names (:func:`module_closure`, derived from
  the ``import`` statements of the package's own sources, so a new helper module can never be
  forgotten), plus whatever templates or board files the stage lists among its inputs.
* ``<stamp dir>/.stamps/<stage>.json`` records the fingerprint and a digest of every output. It is
  written (atomically, under a per-process temporary name) only after the stage succeeded, so a
  failed or interrupted stage always runs again, and a deleted or edited output makes the stage
  run again instead of handing on a broken result.

File digests are memoised per process by (size, mtime, ctime, inode), so a file that is the
output of one stage and the input of the next is read once per run.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from .atomic import write_text_atomic

PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name  # "pipeline"


def file_digest(path: Path) -> str:
    """sha256 of a file's content (memoised by its stat signature)."""
    st = os.stat(path)
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@lru_cache(maxsize=4096)
def _digest(path: str, size: int, mtime_ns: int, ctime_ns: int, ino: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(paths: Iterable[Path]) -> str:
    """Digest of files and of every file under directories, by relative name and content.

    A path that does not exist contributes its name and a marker, so creating it changes the
    digest."""
    h = hashlib.sha256()
    for root in sorted(Path(p) for p in paths):
        if not root.exists():
            h.update(f"missing:{root.name}".encode())
            continue
        files = sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root]
        for f in files:
            if "__pycache__" in f.parts:
                continue
            h.update(str(f.relative_to(root.parent)).encode())
            h.update(file_digest(f).encode())
    return h.hexdigest()


# --- code inputs --------------------------------------------------------------------------------
def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports_of(name: str, path: Path) -> set[str]:
    """Package modules that ``path`` (module ``name``) imports anywhere in its body,
    including imports inside functions (the CLI imports heavy modules lazily)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # `from . import ir`
    out = set()
    for mod in found:
        parts = mod.split(".")
        # every enclosing package's __init__ runs on import too
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {m for m in out if _module_file(m) is not None}


def module_closure(*modules: str) -> list[Path]:
    """Source files of ``modules`` and of every package module they import, transitively."""
    return list(_closure(tuple(sorted(modules))))


@lru_cache(maxsize=64)
def _closure(modules: tuple[str, ...]) -> tuple[Path, ...]:
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise ValueError(f"{name} is not a module of the {PACKAGE} package")
        seen[name] = path
        todo.extend(_imports_of(name, path) - seen.keys())
    return tuple(sorted(seen.values()))


# --- stages -------------------------------------------------------------------------------------
@dataclass
class Stage:
    """One cached step. ``inputs``: files/folders; ``params``: JSON-able values; ``outputs``:
    files/folders it writes; ``code``: package modules whose import closure is an input too."""

    name: str
    stamp_dir: Path
    inputs: list[Path]
    params: dict[str, Any]
    outputs: list[Path]
    code: tuple[str, ...] = field(default_factory=tuple)

    def all_inputs(self) -> list[Path]:
        """The listed inputs plus the source files of the stage's code (import closure)."""
        return [*self.inputs, *module_closure(*self.code)] if self.code else list(self.inputs)

    def fingerprint(self) -> str:
        h = hashlib.sha256(tree_digest(self.all_inputs()).encode())
        h.update(json.dumps(self.params, sort_keys=True, default=str).encode())
        return h.hexdigest()

    def output_digests(self) -> dict[str, str | None]:
        """Digest of every output (a file, or a folder's files by name and content); None
        for an output that does not exist."""
        return {str(o): tree_digest([Path(o)]) if Path(o).exists() else None
                for o in self.outputs}

    @property
    def stamp(self) -> Path:
        return self.stamp_dir / ".stamps" / f"{self.name}.json"

    def why_stale(self) -> str | None:
        """None when up to date, else the reason the stage must run."""
        try:
            doc = json.loads(self.stamp.read_text())
        except FileNotFoundError:
            return "never ran"
        except (json.JSONDecodeError, OSError, UnicodeDecodeError):
            return "stamp unreadable"
        if not isinstance(doc, dict) or doc.get("fingerprint") != self.fingerprint():
            return "inputs changed"
        recorded = doc.get("outputs", {})
        for out, digest in self.output_digests().items():
            if digest is None:
                return f"output {Path(out).name} missing"
            if recorded.get(out) != digest:
                return f"output {Path(out).name} changed"
        return None

    def up_to_date(self) -> bool:
        return self.why_stale() is None

    def mark_done(self, fingerprint: str | None = None) -> None:
        """Record success; ``fingerprint`` is the one taken before the stage ran (an input
        edited while it ran then makes the next run repeat it)."""
        doc = {"fingerprint": fingerprint or self.fingerprint(), "outputs": self.output_digests()}
        write_text_atomic(self.stamp, json.dumps(doc, indent=1))

    def invalidate(self) -> None:
        self.stamp.unlink(missing_ok=True)


def run_stage(stage: Stage, action: Callable[[], Any], log: Callable[[str], None] = print) -> bool:
    """Run ``action`` unless ``stage`` is up to date. Returns True when it ran."""
    reason = stage.why_stale()
    if reason is None:
        log(f"[{stage.name}] up to date, skipped")
        return False
    fingerprint = stage.fingerprint()
    stage.invalidate()
    log(f"[{stage.name}] running ({reason})")
    action()
    stage.mark_done(fingerprint)
    return True
