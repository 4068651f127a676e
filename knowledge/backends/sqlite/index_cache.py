"""The ``HybridIndex`` persisted beside an SQLite database (``<db file>.index/``), so a start maps
it from disk instead of rebuilding it: rebuilding reads every vector through Python and tokenises
every passage (measured ~12 s and ~1 GB at 100,000 passages), mapping it takes a fraction of a second
and the matrix's pages are shared with the page cache.

The folder holds ``meta.json`` and one ``.npy`` per array: the dense side's columns and matrix, and
the BM25 postings concatenated (rows and term frequencies of every term in turn, with per-term
offsets and the terms as one UTF-8 blob). Saved from a snapshot with removed rows left out, so a
loaded index equals a fresh build of the same rows, statistics included.

When a cache is trusted: ``meta.json`` names the format, the model, the database's random id
(``SqliteStore.database_id``, written once by a migration) and its ``SqliteStore.index_fingerprint`` at the time
of the save, which was checked to hold exactly the index's rows, and a SHA-256 of every array.
Ids are AUTOINCREMENT, so any later insert or delete (from any process) changes the fingerprint
and the cache is rebuilt. The database id keeps a cache copied from another database with the same
counts and ids from being taken for this one's (it would cite that database's passages); the
checksum catches bytes changed in place (random bytes or NaNs in the right shape load fine); and a
sample of rows (the newest and a few random ones) is compared with the database's own vectors,
which catches a cache of a copy of this very file that has since diverged. Checking costs one read
of the arrays (measured 0.16 s for SHA-256 over the 153 MB matrix of 100,000 passages), still far
from the ~12 s of a rebuild. Bump ``FORMAT`` whenever the arrays or the tokens
(``text.index_tokens``) change meaning.

Failure is never fatal: a cache that is missing, stale, truncated, of another format, of another
database, damaged or unreadable for any reason is logged and rebuilt (opening never fails because
of the cache); one that cannot be written is logged and skipped. A save writes a temporary
folder and renames it into place; array files carry the save's token in their names, so a reader
never pairs ``meta.json`` of one save with arrays of another (it finds no file and rebuilds).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import time
import uuid
import weakref
from pathlib import Path

import numpy as np

from .index import DenseIndex, HybridIndex, IndexSnapshot, LexicalIndex
from .store import SqliteStore

log = logging.getLogger(__name__)

FORMAT = 2  # 2: the database id, the checksum
# name -> (dtype, dimensions); every array is checked against this before it is used.
_ARRAYS: dict[str, tuple[str, int]] = {
    "pids": ("<i8", 1),
    "dids": ("<i8", 1),
    "gids": ("<i8", 1),
    "days": ("<i4", 1),
    "alive": ("|b1", 1),
    "matrix": ("<f4", 2),
    "lengths": ("<f4", 1),
    "rows": ("<i4", 1),
    "tfs": ("<f4", 1),
    "offsets": ("<i8", 1),
    "terms": ("|u1", 1),
}
_TOKEN = re.compile(r"[0-9a-f]{32}")
# Leftovers of a save killed half-way are swept by the next save once this old (seconds).
_STALE_TEMP_S = 3600.0
# The snapshot each index was last loaded or saved as: at close, an index whose published snapshot
# is another one has changed since, and is saved again.
_persisted: weakref.WeakKeyDictionary[HybridIndex, IndexSnapshot | None] = weakref.WeakKeyDictionary()

Fingerprint = tuple[int, int, int, int]
# Rows of a loaded cache compared with the database's own: the newest (a copy of the file that
# diverged differs there first) and a few at random.
_SAMPLE_NEWEST, _SAMPLE_RANDOM = 8, 24
# Stored vectors are L2-normalised (or zero): a row far from either is not one we wrote.
_NORM_TOLERANCE = 1e-2
_CHUNK_ROWS = 8192


def cache_dir(db_path: Path | str) -> Path | None:
    """Where the cache of a database lives; None for in-memory databases (nothing to persist)."""
    name = str(db_path)
    if name in ("", ":memory:") or name.startswith("file:"):
        return None
    return Path(name + ".index")


async def load_or_build(store: SqliteStore, model: str) -> HybridIndex:
    """The index of every passage with a vector of ``model``: from the cache when it matches the
    database, else built from the database (and saved)."""
    folder = cache_dir(store.path)
    before = await store.index_fingerprint()
    database_id = await store.database_id()
    if folder is not None:
        started = time.perf_counter()
        index = await asyncio.to_thread(load, folder, model, before, database_id)
        if index is not None and not await _agrees_with_database(store, model, index):
            log.warning("index cache in %s disagrees with the database's rows: rebuilding it", folder)
            index = None
        if index is not None:
            log.info(
                "index of %d rows mapped from %s in %.2f s", index.dense.rows, folder, time.perf_counter() - started
            )
            _persisted[index] = index.snapshot()
            return index
    pids, dids, gids, days, matrix = await store.load_vectors(model)
    texts = await store.passage_texts(model)  # same rows, same order
    index = await asyncio.to_thread(
        HybridIndex.build, pids, dids, gids, days, matrix, [(title, text) for _, title, text in texts]
    )
    _persisted[index] = None
    # Saved only when nothing was written meanwhile and the vectors cover every passage (another
    # model's process may have added passages this one has no vector of yet): otherwise the
    # fingerprint would vouch for rows the index does not have.
    if folder is not None and len(pids) and before == await store.index_fingerprint():
        if before[:2] == (len(pids), int(pids.max())):
            snapshot = index.snapshot()
            if await asyncio.to_thread(save, folder, snapshot, model, before, database_id):
                _persisted[index] = snapshot
    return index


async def _agrees_with_database(store: SqliteStore, model: str, index: HybridIndex) -> bool:
    """Whether sampled rows of a loaded cache hold the database's own document, scope, date and
    vector for their passage."""
    view = index.snapshot().dense
    n = view.n
    if n == 0:
        return True
    rng = np.random.default_rng()
    rows = sorted({*range(max(0, n - _SAMPLE_NEWEST), n), *rng.integers(0, n, min(n, _SAMPLE_RANDOM)).tolist()})
    pids = [int(view.pids[r]) for r in rows]
    stored = await store.index_rows(model, pids)
    for row, pid in zip(rows, pids, strict=True):
        found = stored.get(pid)
        if found is None:
            return False
        did, gid, day, blob = found
        cached = (int(view.dids[row]), int(view.gids[row]), int(view.days[row]))
        if cached != (did, gid, day) or np.asarray(view.matrix[row], dtype="<f4").tobytes() != blob:
            return False
    return True


async def save_if_changed(store: SqliteStore, model: str, index: HybridIndex) -> None:
    """At close: save an index loaded or built by ``load_or_build`` that changed since, when it
    still holds exactly the database's passages (another process may have written meanwhile)."""
    folder = cache_dir(store.path)
    if folder is None or index not in _persisted:
        return
    snapshot = index.snapshot()
    if _persisted[index] is snapshot:
        return
    view = snapshot.dense
    try:
        before = await store.index_fingerprint()
        ids = await store.passage_ids()
        same = before == await store.index_fingerprint()
    except sqlite3.Error as e:
        log.warning("index cache not saved: %s", e)
        return
    alive = view.pids[: view.n][view.alive[: view.n]]
    if not same or not np.array_equal(np.sort(alive), ids):
        log.info("index cache not saved: the database changed under this process; the next start rebuilds it")
        return
    try:
        database_id = await store.database_id()
    except sqlite3.Error as e:
        log.warning("index cache not saved: %s", e)
        return
    if len(ids) and await asyncio.to_thread(save, folder, snapshot, model, before, database_id):
        _persisted[index] = snapshot


# ---------------------------------------------------------------------------- saving


def export(snapshot: IndexSnapshot) -> dict[str, np.ndarray]:
    """The arrays of a snapshot's live rows, renumbered as a fresh build would number them."""
    dense, lexical = snapshot.dense, snapshot.lexical
    n = dense.n
    alive = dense.alive[:n]
    everything = bool(alive.all())
    renumber = np.cumsum(alive, dtype=np.int64) - 1

    def live(a: np.ndarray) -> np.ndarray:
        return a[:n] if everything else a[:n][alive]

    terms, sizes, rows_parts, tfs_parts = [], [], [], []
    for term in sorted(lexical.postings):  # sorted() copies the keys in one step: a writer may add some
        chunks = tuple(lexical.postings.get(term, ()))
        if len(chunks) == 1:
            rows, tfs = chunks[0]
        else:
            rows = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int32)
            tfs = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros(0, np.float32)
        cut = int(np.searchsorted(rows, n))  # rows are ascending: those added after the snapshot go
        rows, tfs = rows[:cut], tfs[:cut]
        if not everything:
            keep = alive[rows]
            rows, tfs = renumber[rows[keep]].astype(np.int32), tfs[keep]
        if len(rows):
            terms.append(term)
            sizes.append(len(rows))
            rows_parts.append(rows)
            tfs_parts.append(tfs)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    count = int(alive.sum())
    return {
        "pids": live(dense.pids),
        "dids": live(dense.dids),
        "gids": live(dense.gids),
        "days": live(dense.days),
        "alive": np.ones(count, dtype=bool),
        "matrix": live(dense.matrix),
        "lengths": live(lexical.lengths),
        "rows": np.concatenate(rows_parts) if rows_parts else np.zeros(0, np.int32),
        "tfs": np.concatenate(tfs_parts) if tfs_parts else np.zeros(0, np.float32),
        "offsets": offsets,
        "terms": np.frombuffer("\n".join(terms).encode("utf-8"), dtype=np.uint8),
    }


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, type, shape and bytes, in ``_ARRAYS`` order."""
    digest = hashlib.sha256()
    for name in _ARRAYS:
        array = arrays[name]
        if not array.flags.c_contiguous:
            raise ValueError(f"{name}: not in C order")
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        if array.size:  # a view of no bytes cannot be cast; its name, type and shape were hashed
            digest.update(array.data.cast("B"))  # the bytes in place: a 153 MB matrix is not copied
    return digest.hexdigest()


def save(folder: Path, snapshot: IndexSnapshot, model: str, fingerprint: Fingerprint, database_id: str) -> bool:
    """Write the cache of ``snapshot`` (which holds exactly the rows ``fingerprint`` counts, of the
    database ``database_id``) and rename it into place. False, logged, when it cannot be written."""
    try:
        return _save(folder, snapshot, model, fingerprint, database_id)
    except Exception as e:  # a cache is an optimisation: never the reason a close fails
        log.warning("index cache not saved in %s: %r", folder, e)
        return False


def _save(folder: Path, snapshot: IndexSnapshot, model: str, fingerprint: Fingerprint, database_id: str) -> bool:
    started = time.perf_counter()
    token = uuid.uuid4().hex
    _sweep(folder)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"{folder.name}.tmp-", dir=folder.parent))
    except OSError as e:
        log.warning("index cache not saved in %s: %s", folder.parent, e)
        return False
    old = folder.with_name(f"{folder.name}.old-{token}")
    rows = 0
    try:
        arrays = {name: np.ascontiguousarray(array, dtype=_ARRAYS[name][0]) for name, array in export(snapshot).items()}
        rows = len(arrays["pids"])
        for name, array in arrays.items():
            np.save(tmp / f"{token}-{name}.npy", array, allow_pickle=False)
        meta = {
            "format": FORMAT,
            "token": token,
            "model": model,
            "database_id": database_id,
            "checksum": checksum(arrays),
            "fingerprint": list(fingerprint),
            "rows": rows,
            "terms": len(arrays["offsets"]) - 1,
            "title_weight": LexicalIndex().title_weight,
        }
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            os.rename(folder, old)  # a folder cannot be renamed over a non-empty one
        except FileNotFoundError:
            pass
        os.rename(tmp, folder)
    except OSError as e:
        log.warning("index cache not saved in %s: %s", folder, e)
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    finally:
        _remove(old)
    log.info("index cache of %d rows saved in %s in %.2f s", rows, folder, time.perf_counter() - started)
    return True


def _remove(path: Path) -> None:
    if not path.exists() and not path.is_symlink():
        return
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:  # whatever else stood where the cache goes (a file, a link): replaced, not followed
            path.unlink()
    except OSError as e:
        log.warning("cannot remove %s: %s", path, e)


def _sweep(folder: Path) -> None:
    """Remove temporary and replaced folders that saves killed half-way left behind."""
    try:
        leftovers = [
            p for p in folder.parent.iterdir() if p.name.startswith((f"{folder.name}.tmp-", f"{folder.name}.old-"))
        ]
        for path in leftovers:
            if time.time() - path.stat().st_mtime > _STALE_TEMP_S:
                _remove(path)
    except OSError as e:
        log.warning("cannot sweep %s: %s", folder.parent, e)


# ---------------------------------------------------------------------------- loading


def load(folder: Path, model: str, fingerprint: Fingerprint, database_id: str) -> HybridIndex | None:
    """The cached index when the cache in ``folder`` is whole, unchanged since it was saved, and
    matches ``model`` and the database (its id and ``fingerprint``); None (logged) otherwise, for
    whatever reason: a header claiming 2^63 rows raises OverflowError deep in numpy, and a cache is
    never the reason a start fails."""
    try:
        return _load(folder, model, fingerprint, database_id)
    except Exception as e:
        log.warning("index cache in %s is unusable (%r): rebuilding it", folder, e)
        return None


def _load(folder: Path, model: str, fingerprint: Fingerprint, database_id: str) -> HybridIndex | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        log.info("no index cache in %s: building the index", folder)
        return None
    except (OSError, ValueError) as e:
        log.warning("index cache in %s is unreadable (%s): rebuilding it", folder, e)
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        log.warning("index cache in %s is of another format: rebuilding it", folder)
        return None
    if meta.get("database_id") != database_id:
        log.warning("index cache in %s belongs to another database: rebuilding it", folder)
        return None
    if meta.get("model") != model or meta.get("fingerprint") != list(fingerprint):
        log.info("index cache in %s is out of date: rebuilding it", folder)
        return None
    try:
        return _load_arrays(folder, meta, fingerprint)
    except (OSError, ValueError, TypeError, KeyError, EOFError, UnicodeDecodeError, OverflowError, MemoryError) as e:
        log.warning("index cache in %s is damaged (%s): rebuilding it", folder, e)
        return None


def _load_arrays(folder: Path, meta: dict, fingerprint: Fingerprint) -> HybridIndex:
    token = meta["token"]
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ValueError("bad token")
    if meta["title_weight"] != LexicalIndex().title_weight:
        raise ValueError("another title weight")
    a: dict[str, np.ndarray] = {}
    for name, (dtype, ndim) in _ARRAYS.items():
        array = np.load(folder / f"{token}-{name}.npy", mmap_mode="r", allow_pickle=False)
        if not isinstance(array, np.ndarray) or array.dtype != np.dtype(dtype) or array.ndim != ndim:
            raise ValueError(f"{name}: unexpected type")
        a[name] = array.view(np.ndarray)  # a plain view of the map: slicing a memmap is slower
    if not isinstance(meta["checksum"], str) or checksum(a) != meta["checksum"]:
        raise ValueError("checksum mismatch: the arrays changed since they were saved")
    n, terms = meta["rows"], meta["terms"]
    if n != fingerprint[0] or not all(len(a[k]) == n for k in ("pids", "dids", "gids", "days", "alive", "lengths")):
        raise ValueError("row counts disagree")
    if n and (int(a["pids"].max()) != fingerprint[1] or not a["alive"].all()):
        raise ValueError("rows disagree with the database")
    if len(a["matrix"]) != n or a["matrix"].shape[1] == 0:
        raise ValueError("matrix shape")
    for start in range(0, n, _CHUNK_ROWS):  # NaN, infinity or garbage fails the comparison
        chunk = a["matrix"][start : start + _CHUNK_ROWS]
        norms = np.einsum("ij,ij->i", chunk, chunk, dtype=np.float64)
        if not np.all((np.abs(norms - 1.0) < _NORM_TOLERANCE) | (norms == 0.0)):
            raise ValueError("vectors that are not unit length")
    rows, offsets = a["rows"], a["offsets"]
    if len(offsets) != terms + 1 or len(a["tfs"]) != len(rows) or offsets[0] != 0 or offsets[-1] != len(rows):
        raise ValueError("postings sizes disagree")
    if np.any(np.diff(offsets) <= 0) or (len(rows) and (rows.min() < 0 or rows.max() >= n)):
        raise ValueError("postings out of range")
    steps = np.diff(rows) > 0  # ascending within each term (a view's cut relies on it)
    steps[offsets[1:-1] - 1] = True
    if not steps.all():
        raise ValueError("postings out of order")
    words = a["terms"].tobytes().decode("utf-8").split("\n") if terms else []
    if len(words) != terms or len(set(words)) != terms:
        raise ValueError("terms disagree")
    dense = DenseIndex.adopt(a["pids"], a["dids"], a["gids"], a["days"], a["alive"], a["matrix"])
    lexical = LexicalIndex.from_arrays(words, offsets, rows, a["tfs"], a["lengths"])
    return HybridIndex(dense, lexical)
