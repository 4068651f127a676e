"""The index cache beside the database under hostile conditions: a tampered ``meta.json`` (a path
in the token, a pickled array, an array header claiming terabytes), a file where the folder goes, a
full disk during the save, leftovers of a killed save, and two saves racing. Opening always works
and searches the database's own rows."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from knowledge.backends.sqlite import index_cache, memory_index, sqlite_store
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase

TEXTS = [
    ("Harbour strike", "Dock workers at the harbour began a strike over pay on Monday."),
    ("Rail fares", "Rail fares will rise in spring, the transport ministry said."),
    ("Drought", "The drought has emptied reservoirs across the southern region."),
]


async def _open(db: Path) -> KnowledgeBase:
    return await KnowledgeBase.open(KnowledgeConfig(db=db), embedder=HashingEmbedder())


async def _saved(db: Path) -> dict:
    kb = await _open(db)
    for title, text in TEXTS:
        await kb.add_text(text, title=title)
    await kb.close()
    return json.loads((db.parent / "kb.db.index" / "meta.json").read_text())


async def _opens_and_finds_the_harbour(db: Path) -> None:
    kb = await _open(db)
    try:
        hits = await kb.search("harbour strike", k=3)
        assert hits and hits[0].document.title == "Harbour strike"
        assert memory_index(kb.index).dense.rows == await kb.store.count_passages()
    finally:
        await kb.close()


def _rewrite_meta(db: Path, **changes) -> None:
    path = db.parent / "kb.db.index" / "meta.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


async def test_a_token_naming_another_path_is_refused(tmp_path):
    db = tmp_path / "kb.db"
    meta = await _saved(db)
    outside = tmp_path / "outside"
    outside.mkdir()
    for f in (db.parent / "kb.db.index").iterdir():
        if f.name.startswith(meta["token"]):
            (outside / f.name.replace(meta["token"], "x")).write_bytes(f.read_bytes())
    _rewrite_meta(db, token="../outside/x")
    folder = db.parent / "kb.db.index"
    assert index_cache.load(folder, "test-hashing", tuple(meta["fingerprint"]), meta["database_id"]) is None
    await _opens_and_finds_the_harbour(db)


async def test_a_pickled_array_is_never_unpickled(tmp_path):
    db = tmp_path / "kb.db"
    meta = await _saved(db)
    path = db.parent / "kb.db.index" / f"{meta['token']}-pids.npy"
    np.save(path, np.array([object(), 1, 2], dtype=object), allow_pickle=True)
    await _opens_and_finds_the_harbour(db)


async def test_an_array_header_claiming_terabytes_is_ignored(tmp_path):
    db = tmp_path / "kb.db"
    meta = await _saved(db)
    path = db.parent / "kb.db.index" / f"{meta['token']}-matrix.npy"
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 384), }"
    header += b" " * (118 - len(header)) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64)
    await _opens_and_finds_the_harbour(db)


async def test_a_file_where_the_cache_folder_goes_is_replaced(tmp_path):
    db = tmp_path / "kb.db"
    kb = await _open(db)
    await kb.add_text(TEXTS[0][1], title=TEXTS[0][0])
    (tmp_path / "kb.db.index").write_text("not a folder")
    await kb.close()
    assert (tmp_path / "kb.db.index" / "meta.json").exists()
    await _opens_and_finds_the_harbour(db)


async def test_a_full_disk_during_the_save_leaves_nothing_behind(tmp_path, monkeypatch, caplog):
    db = tmp_path / "kb.db"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(index_cache.np, "save", full)
    kb = await _open(db)
    await kb.add_text(TEXTS[0][1], title=TEXTS[0][0])
    await kb.close()  # the save fails: logged, not raised
    assert any("No space left" in r.getMessage() for r in caplog.records)
    assert sorted(p.name for p in tmp_path.iterdir() if ".index" in p.name) == []
    monkeypatch.undo()
    await _opens_and_finds_the_harbour(db)


async def test_leftovers_of_a_killed_save_are_swept_once_old(tmp_path):
    db = tmp_path / "kb.db"
    old_tmp = tmp_path / "kb.db.index.tmp-dead"
    old_tmp.mkdir()
    (old_tmp / "x-matrix.npy").write_bytes(b"\0" * 1024)
    recent = tmp_path / "kb.db.index.tmp-busy"  # maybe another process saving right now
    recent.mkdir()
    hour_ago = time.time() - 2 * 3600
    os.utime(old_tmp, (hour_ago, hour_ago))
    await _saved(db)
    assert not old_tmp.exists()
    assert recent.exists()


async def test_two_saves_racing_leave_one_whole_cache(tmp_path):
    db = tmp_path / "kb.db"
    meta = await _saved(db)
    kb = await _open(db)
    try:
        snapshot = memory_index(kb.index).snapshot()
        fingerprint = await sqlite_store(kb.store).index_fingerprint()
        database_id = await sqlite_store(kb.store).database_id()
    finally:
        await kb.close()
    folder = tmp_path / "kb.db.index"
    results: list[bool] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(index_cache.save(folder, snapshot, "test-hashing", fingerprint, database_id))
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert any(results)
    assert index_cache.load(folder, "test-hashing", fingerprint, database_id) is not None
    assert json.loads((folder / "meta.json").read_text())["token"] != meta["token"]
    assert [p.name for p in tmp_path.iterdir() if ".index." in p.name] == []
    await _opens_and_finds_the_harbour(db)


@pytest.mark.parametrize("field", ["rows", "terms", "fingerprint", "title_weight"])
async def test_meta_fields_of_the_wrong_type_are_ignored(tmp_path, field):
    db = tmp_path / "kb.db"
    await _saved(db)
    _rewrite_meta(db, **{field: "many"})
    await _opens_and_finds_the_harbour(db)


# ---------------------------------------------------------------------------- caches that must not be trusted


def _cache_file(db: Path, meta: dict, name: str) -> Path:
    return db.parent / "kb.db.index" / f"{meta['token']}-{name}.npy"


def _resave(path: Path, array: np.ndarray) -> None:
    """Rewrite one array in place, keeping its name, type and shape (what a tamperer keeps)."""
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)


def _with_checksum_of_the_files(db: Path, meta: dict) -> None:
    """meta.json's checksum recomputed over the arrays as they now are: a tamperer who knows the
    format. What is left to catch them is the database id and the rows compared with the database."""
    folder = db.parent / "kb.db.index"
    arrays = {name: np.load(folder / f"{meta['token']}-{name}.npy") for name in index_cache._ARRAYS}
    _rewrite_meta(db, checksum=index_cache.checksum(arrays))


async def test_a_header_claiming_2_63_rows_never_stops_a_start(tmp_path, caplog):
    db = tmp_path / "kb.db"
    meta = await _saved(db)
    # One byte per item: numpy asks mmap for 2^63 - 1 + 128 bytes, and mmap raises OverflowError.
    header = b"{'descr': '|b1', 'fortran_order': False, 'shape': (9223372036854775807,), }"
    header += b" " * (118 - len(header)) + b"\n"
    _cache_file(db, meta, "alive").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    await _opens_and_finds_the_harbour(db)
    assert any("index cache" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    await _opens_and_finds_the_harbour(db)  # rebuilt and saved whole at close: the next start maps it


async def test_a_cache_copied_from_another_database_with_the_same_ids_is_rebuilt(tmp_path):
    db, other = tmp_path / "kb.db", tmp_path / "other" / "kb.db"
    other.parent.mkdir()
    await _saved(db)
    # The other database: the same documents in another order, so the same counts and ids, each id
    # another text (trusted, its index would answer with this database's passage of that id).
    kb = await _open(other)
    for title, text in reversed(TEXTS):
        await kb.add_text(text, title=title)
    await kb.close()
    kb = await _open(db)
    try:
        assert await sqlite_store(kb.store).index_fingerprint() == await _fingerprint(other)
    finally:
        await kb.close()
    shutil.rmtree(db.parent / "kb.db.index")
    shutil.copytree(other.parent / "kb.db.index", db.parent / "kb.db.index")
    await _opens_and_finds_the_harbour(db)  # this database's passages, not the other's


async def test_a_copy_of_the_database_file_that_diverged_does_not_share_its_cache(tmp_path):
    db, twin = tmp_path / "kb.db", tmp_path / "twin" / "kb.db"
    twin.parent.mkdir()
    await _saved(db)
    shutil.copy(db, twin)  # the same database id, carried by the copy
    for path, text in ((db, "The harbour strike ended with a pay deal."), (twin, "Bakers baked bread on Sunday.")):
        kb = await _open(path)
        await kb.add_text(text, title="Latest")
        await kb.close()
    shutil.rmtree(db.parent / "kb.db.index")
    shutil.copytree(twin.parent / "kb.db.index", db.parent / "kb.db.index")
    kb = await _open(db)
    try:
        [hit] = await kb.search("harbour pay deal", k=1)
        assert hit.document.title == "Latest" and "pay deal" in hit.passage.text
    finally:
        await kb.close()


@pytest.mark.parametrize("content", ["random bytes", "NaN"])
@pytest.mark.parametrize("checksum", ["kept", "recomputed"])
async def test_a_matrix_of_the_right_shape_with_wrong_content_is_rebuilt(tmp_path, content, checksum):
    db = tmp_path / "kb.db"
    meta = await _saved(db)
    path = _cache_file(db, meta, "matrix")
    matrix = np.load(path)
    if content == "NaN":
        bad = np.full_like(matrix, np.nan)
    else:
        bad = np.frombuffer(np.random.default_rng(5).bytes(matrix.nbytes), dtype="<f4").reshape(matrix.shape)
    _resave(path, bad)
    if checksum == "recomputed":
        _with_checksum_of_the_files(db, meta)
    await _opens_and_finds_the_harbour(db)
    kb = await _open(db)
    try:
        assert np.isfinite(memory_index(kb.index).snapshot().dense.matrix[: memory_index(kb.index).dense.rows]).all()
    finally:
        await kb.close()


async def test_rows_swapped_under_a_recomputed_checksum_are_caught_against_the_database(tmp_path):
    db = tmp_path / "kb.db"
    meta = await _saved(db)
    path = _cache_file(db, meta, "matrix")
    _resave(path, np.load(path)[::-1])  # every vector now belongs to another passage
    _with_checksum_of_the_files(db, meta)
    await _opens_and_finds_the_harbour(db)


async def test_a_cache_without_a_database_id_is_rebuilt(tmp_path):
    db = tmp_path / "kb.db"
    await _saved(db)
    meta = json.loads((db.parent / "kb.db.index" / "meta.json").read_text())
    del meta["database_id"]
    (db.parent / "kb.db.index" / "meta.json").write_text(json.dumps(meta))
    await _opens_and_finds_the_harbour(db)


async def _fingerprint(db: Path) -> tuple[int, int, int, int]:
    kb = await _open(db)
    try:
        return await sqlite_store(kb.store).index_fingerprint()
    finally:
        await kb.close()
