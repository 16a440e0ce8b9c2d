"""The content fingerprint of a dataset on disk: what makes the stage cache follow the data.

Size and modification time alone miss a swap of two files (``mv`` keeps each file's mtime), so
the fingerprint is the sha256 of every file's relative name and *content*. Hashing a large
dataset on every deploy would be slow, so content digests are remembered in a small JSON file
keyed by each file's (size, mtime, ctime, inode): a file is re-hashed only when one of those
changed, and a rename or swap always changes the ctime.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..atomic import write_text_atomic
from ..stages import file_digest


def dataset_files(dataset: str, path: str | os.PathLike) -> list[Path]:
    """The files the loader of ``dataset`` reads under ``path``, sorted: the four IDX files of
    Fashion-MNIST, the STL-10 binaries, every image file below a folder dataset's root. Files a loader needs but that are missing are listed too: the loader
    names them when it runs."""
    root = Path(path)
    if dataset == "fashion_mnist":
        from .fashion_mnist import FILES
        return sorted(root / name for pair in FILES.values() for name in pair)
    if dataset == "stl10":
        names = [f"{s}_{x}.bin" for s in ("train", "test") for x in ("X", "y")]
        return sorted(root / n for n in names + ["class_names.txt"])
    from .folder import EXTENSIONS
    if root.is_file():
        return [root]
    # Every image below the root, symlinked folders followed and hidden files included: a
    # superset of what the folder loader reads (it follows symlinked class folders and reads
    # hidden images too), so no file it reads can change unseen.
    files = []
    for dirpath, _, filenames in os.walk(root, followlinks=True):
        files += [Path(dirpath) / f for f in filenames if Path(f).suffix.lower() in EXTENSIONS]
    return sorted(files)


def dataset_fingerprint(dataset: str, path: str | os.PathLike,
                        memo: str | os.PathLike | None = None) -> str:
    """sha256 over the relative names and contents of the files of ``dataset`` under ``path``
    (:func:`dataset_files`); a missing file counts as a marker, so it appearing or vanishing
    changes the fingerprint. ``memo``: a JSON file remembering content digests by stat
    signature (created or updated here; optional)."""
    root = Path(path)
    files = dataset_files(dataset, root)
    known: dict = {}
    if memo is not None:
        try:
            known = json.loads(Path(memo).read_text())
        except (OSError, ValueError):
            known = {}
    h = hashlib.sha256()
    fresh: dict = {}
    for f in files:
        name = str(f.relative_to(root) if f != root else f.name)
        try:
            st = f.stat()
        except FileNotFoundError:
            h.update(f"missing:{name}".encode())
            continue
        signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        entry = known.get(str(f))
        digest = entry[1] if isinstance(entry, list) and entry[0] == signature else \
            file_digest(f)
        fresh[str(f)] = [signature, digest]
        h.update(name.encode())
        h.update(digest.encode())
    if memo is not None and fresh != known:
        write_text_atomic(memo, json.dumps(fresh))
    return h.hexdigest()
