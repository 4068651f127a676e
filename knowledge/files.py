"""Reading files to index: folders expanded to their files (links out of a folder, FIFOs and devices
skipped) and a file's bytes read with its type and size checked before and during the read.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from . import ingest
from .errors import KnowledgeError, UnsupportedFileType

log = logging.getLogger(__name__)


def read_checked(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, at most ``max_bytes``. A FIFO, socket or device (``/dev/zero``, a named
    pipe) is refused before any read: opening a FIFO waits for a writer, a device never ends."""
    ingest.check_file(path.name, 0, None)  # the type first: no stat of a file we would refuse anyway
    name = ingest.clean_name(path.name)
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; the checks run
        # on the opened file (fstat), so it can't be swapped between check and read.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise UnsupportedFileType(f"{name}: not a regular file (a folder, pipe or device)")
            ingest.check_file(name, st.st_size, max_bytes)
            data = f.read(max_bytes + 1)  # the size can change after the stat
    except OSError as e:
        raise KnowledgeError(f"{name}: cannot read the file ({e.strerror or e})") from e
    ingest.check_file(name, len(data), max_bytes)
    return data


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files of ``paths``, folders walked recursively (hidden files skipped), in a stable order.

    Inside a folder, a link is followed only to a regular file inside that same folder: a
    ``seeds/notes.txt`` link to ``../.env`` would put a secret into every answer. FIFOs, sockets and
    devices are skipped (reading one hangs or never ends). A path given directly is taken as it is;
    ``read_checked`` refuses what is not a regular file."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            root = p.resolve()
            out.extend(sorted(f for f in p.rglob("*") if not f.name.startswith(".") and _inside_regular(f, root)))
        else:
            out.append(p)
    return out


def _inside_regular(path: Path, root: Path) -> bool:
    """A regular file whose real location (links resolved) is inside the folder ``root``."""
    try:
        if stat.S_ISDIR(path.lstat().st_mode):
            return False
        real = path.resolve(strict=True)
        inside = real.is_relative_to(root) and stat.S_ISREG(real.stat().st_mode)
    except (OSError, RuntimeError) as e:  # a dangling link or a loop (RuntimeError on Python 3.11)
        log.warning("skipped %s: %s", path, e)
        return False
    if not inside:
        log.warning("skipped %s: not a regular file inside the folder (a link out of it, a FIFO or a device)", path)
    return inside
