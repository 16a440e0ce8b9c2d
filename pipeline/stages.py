"""Stage caching: a stage is skipped when the fingerprint of its inputs did not change and
its outputs are still on disk.

The fingerprint is the sha256 of the stage's input files and parameters; it is stored in
``<build dir>/.stamps/<stage>.json`` only after the stage succeeded, so a failed or
interrupted stage always runs again.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(paths: Iterable[Path]) -> str:
    """Digest of files and of every file under directories, by relative name and content."""
    h = hashlib.sha256()
    for root in sorted(Path(p) for p in paths):
        files = sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root]
        for f in files:
            if "__pycache__" in f.parts:
                continue
            h.update(str(f.relative_to(root.parent)).encode())
            h.update(file_digest(f).encode())
    return h.hexdigest()


@dataclass
class Stage:
    name: str
    stamp_dir: Path
    inputs: list[Path]
    params: dict[str, Any]
    outputs: list[Path]

    def fingerprint(self) -> str:
        h = hashlib.sha256(tree_digest(self.inputs).encode())
        h.update(json.dumps(self.params, sort_keys=True, default=str).encode())
        return h.hexdigest()

    @property
    def stamp(self) -> Path:
        return self.stamp_dir / ".stamps" / f"{self.name}.json"

    def up_to_date(self) -> bool:
        if not self.stamp.exists() or not all(Path(o).exists() for o in self.outputs):
            return False
        try:
            return json.loads(self.stamp.read_text()).get("fingerprint") == self.fingerprint()
        except (json.JSONDecodeError, OSError):
            return False

    def mark_done(self) -> None:
        self.stamp.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.stamp.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint()}))
        os.replace(tmp, self.stamp)

    def invalidate(self) -> None:
        if self.stamp.exists():
            self.stamp.unlink()


def run_stage(stage: Stage, action: Callable[[], Any], log: Callable[[str], None] = print) -> bool:
    """Run ``action`` unless ``stage`` is up to date. Returns True when it ran."""
    if stage.up_to_date():
        log(f"[{stage.name}] up to date, skipped")
        return False
    stage.invalidate()
    log(f"[{stage.name}] running")
    action()
    stage.mark_done()
    return True
