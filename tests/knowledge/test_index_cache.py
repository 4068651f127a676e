"""knowledge.backends.sqlite.index_cache: the index persisted beside the SQLite file. A cached open searches exactly
like a fresh build (both sides, removed rows, scope and date filters); a cache made stale by another
KnowledgeBase on the same file, or damaged, is rebuilt; a read-only cache still opens; ``:memory:``
databases use none."""

from __future__ import annotations

import datetime as dt
import json
import logging
import mmap
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from knowledge.backends.sqlite import index_cache, memory_index, sqlite_store
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase
from knowledge.text import index_tokens

TOPICS = ["harbour", "election", "vaccine", "wildfire", "railway", "satellite", "tariff", "drought"]
GUILDS = [None, 11, 22]
QUERIES = ["harbour strike", "election results railway", "vaccine trial", "satellite launch tariff", "drought"]
FILTERS = [
    {},
    {"scope": 0},
    {"scope": 11},
    {"scope": 22, "date_from": dt.date(2024, 1, 3)},
    {"date_to": dt.date(2024, 1, 5)},
    {"date_from": dt.date(2024, 1, 2), "date_to": dt.date(2024, 1, 6)},
]


def _config(path: Path) -> KnowledgeConfig:
    return KnowledgeConfig(db=path)


async def _open(path: Path) -> KnowledgeBase:
    return await KnowledgeBase.open(_config(path), embedder=HashingEmbedder())


def _text(topic: str, i: int) -> str:
    return (
        f"The {topic} story number {i} developed on Monday. Officials said the {topic} report would follow.\n\n"
        f"Residents near the {topic} site spoke about item {i} and the {TOPICS[(i + 3) % len(TOPICS)]} debate."
    )


async def _fill(kb: KnowledgeBase, start: int = 0, count: int = 16) -> list[int]:
    ids = []
    for i in range(start, start + count):
        doc = await kb.add_text(
            _text(TOPICS[i % len(TOPICS)], i),
            title=f"{TOPICS[i % len(TOPICS)].title()} report {i}",
            guild_id=GUILDS[i % len(GUILDS)],
            published=dt.date(2024, 1, 1 + i % 7) if i % 5 else None,
        )
        ids.append(doc.id)
    return ids


def _results(kb: KnowledgeBase) -> list:
    """Both sides of every query under every filter, from the published snapshot."""
    snapshot = memory_index(kb.index).snapshot()
    out = []
    for q in QUERIES:
        vector = kb.embedder.encode([q])[0]
        for f in FILTERS:
            out.append(snapshot.search(vector, index_tokens(q), 20, **f))
    return out


async def _hits(kb: KnowledgeBase) -> list:
    return [
        [(h.passage.id, round(h.score, 9)) for h in await kb.search(q, k=8, scope=f.get("scope"))]
        for q in QUERIES
        for f in FILTERS
    ]


def _mapped(array: np.ndarray) -> bool:
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    return isinstance(base, mmap.mmap)


def _meta(db: Path) -> dict:
    return json.loads((db.parent / (db.name + ".index") / "meta.json").read_text())


async def test_a_cached_open_searches_exactly_like_a_fresh_build(tmp_path):
    db = tmp_path / "kb.db"
    kb = await _open(db)
    ids = await _fill(kb)
    await kb.remove_document(ids[3])
    await kb.remove_document(ids[10])
    rows_before = memory_index(kb.index).dense.rows
    await kb.close()  # saves the changed index

    cached = await _open(db)
    try:
        assert _mapped(memory_index(cached.index).snapshot().dense.matrix), (
            "the matrix must be mapped from the cache, not copied"
        )
        live = await cached.store.count_passages()
        assert memory_index(cached.index).dense.rows == live < rows_before, "removed rows are left out of the cache"
        cached_results, cached_hits = _results(cached), await _hits(cached)
    finally:
        await cached.close()

    shutil.rmtree(tmp_path / "kb.db.index")
    fresh = await _open(db)
    try:
        assert not _mapped(memory_index(fresh.index).snapshot().dense.matrix)
        assert _results(fresh) == cached_results
        assert await _hits(fresh) == cached_hits
    finally:
        await fresh.close()
    assert any(dense and bm25 for dense, bm25 in cached_results), "the queries must find something"


async def test_a_loaded_index_grows_and_shrinks_without_writing_into_the_map(tmp_path):
    db = tmp_path / "kb.db"
    kb = await _open(db)
    ids = await _fill(kb, count=8)
    await kb.close()

    kb = await _open(db)
    assert not memory_index(kb.index).snapshot().dense.matrix.flags.writeable  # read-only map: a write would raise
    await kb.remove_document(ids[0])
    [new] = await _fill(kb, start=100, count=1)
    assert new in {h.document.id for h in await kb.search("harbour story number 100", k=3)}
    assert all(h.document.id != ids[0] for h in await kb.search("harbour story number 0", k=20))
    await kb.close()

    again = await _open(db)
    try:
        assert _mapped(memory_index(again.index).snapshot().dense.matrix)
        assert new in {h.document.id for h in await again.search("harbour story number 100", k=3)}
        assert memory_index(again.index).dense.rows == await again.store.count_passages()
    finally:
        await again.close()


async def test_a_document_removed_by_another_knowledge_base_is_not_served_from_the_cache(tmp_path):
    db = tmp_path / "kb.db"
    kb = await _open(db)
    ids = await _fill(kb, count=8)
    await kb.close()

    a, b = await _open(db), await _open(db)
    [added] = await _fill(b, start=200, count=1)
    await a.remove_document(ids[2])
    await b.close()  # b still holds ids[2]: it must not save
    await a.close()  # a lacks b's document: neither
    try:
        reopened = await _open(db)
        assert not _mapped(memory_index(reopened.index).snapshot().dense.matrix), "the stale cache must be rebuilt"
        passages = {h.passage.document_id for h in await reopened.search("harbour story number 200", k=50)}
        assert added in passages
        everything = {h.passage.document_id for q in QUERIES for h in await reopened.search(q, k=50)}
        assert ids[2] not in everything
        assert _meta(db)["fingerprint"] == list(await sqlite_store(reopened.store).index_fingerprint())
    finally:
        await reopened.close()


async def test_documents_added_by_two_knowledge_bases_make_the_cache_stale(tmp_path):
    db = tmp_path / "kb.db"
    kb = await _open(db)
    await _fill(kb, count=4)
    await kb.close()
    before = _meta(db)

    a, b = await _open(db), await _open(db)
    [from_a] = await _fill(a, start=300, count=1)
    [from_b] = await _fill(b, start=301, count=1)
    await a.close()
    await b.close()
    assert _meta(db)["token"] == before["token"], "neither held every document: no save"

    reopened = await _open(db)
    try:
        assert not _mapped(memory_index(reopened.index).snapshot().dense.matrix)
        found = {
            h.document.id
            for q in ("harbour story number 300", "election story number 301")
            for h in await reopened.search(q, k=3)
        }
        assert {from_a, from_b} <= found
    finally:
        await reopened.close()
    assert _meta(db)["token"] != before["token"], "the rebuilt index is saved"


async def test_a_knowledge_base_that_closes_after_another_saved_keeps_the_newer_cache(tmp_path):
    db = tmp_path / "kb.db"
    kb = await _open(db)
    await _fill(kb, count=4)
    await kb.close()

    a, b = await _open(db), await _open(db)
    [added] = await _fill(b, start=400, count=1)
    await b.close()  # b holds every document: saved
    await a.close()  # a changed nothing: nothing to save
    reopened = await _open(db)
    try:
        assert _mapped(memory_index(reopened.index).snapshot().dense.matrix)
        assert added in {h.document.id for h in await reopened.search("harbour story number 400", k=3)}
    finally:
        await reopened.close()


def _corrupt_truncate(folder: Path, meta: dict) -> None:
    path = folder / f"{meta['token']}-matrix.npy"
    path.write_bytes(path.read_bytes()[:-100])


def _corrupt_empty_meta(folder: Path, meta: dict) -> None:
    (folder / "meta.json").write_bytes(b"")


def _corrupt_garbage_meta(folder: Path, meta: dict) -> None:
    (folder / "meta.json").write_bytes(b"\xff\xfe not json")


def _corrupt_version(folder: Path, meta: dict) -> None:
    (folder / "meta.json").write_text(json.dumps({**meta, "format": index_cache.FORMAT + 1}))


def _corrupt_missing_array(folder: Path, meta: dict) -> None:
    (folder / f"{meta['token']}-tfs.npy").unlink()


def _corrupt_rows_out_of_range(folder: Path, meta: dict) -> None:
    path = folder / f"{meta['token']}-rows.npy"
    rows = np.load(path)
    rows[0] = meta["rows"] + 5
    np.save(path, rows)


def _corrupt_wrong_dtype(folder: Path, meta: dict) -> None:
    path = folder / f"{meta['token']}-pids.npy"
    np.save(path, np.load(path).astype(np.float64))


def _corrupt_empty_array(folder: Path, meta: dict) -> None:
    (folder / f"{meta['token']}-offsets.npy").write_bytes(b"")


@pytest.mark.parametrize(
    "damage",
    [
        _corrupt_truncate,
        _corrupt_empty_meta,
        _corrupt_garbage_meta,
        _corrupt_version,
        _corrupt_missing_array,
        _corrupt_rows_out_of_range,
        _corrupt_wrong_dtype,
        _corrupt_empty_array,
    ],
)
async def test_a_damaged_cache_is_logged_and_rebuilt(tmp_path, caplog, damage):
    db = tmp_path / "kb.db"
    kb = await _open(db)
    await _fill(kb, count=6)
    expected = _results(kb)
    await kb.close()
    meta = _meta(db)
    damage(tmp_path / "kb.db.index", meta)

    with caplog.at_level(logging.WARNING, logger="knowledge.backends.sqlite.index_cache"):
        reopened = await _open(db)
    try:
        assert not _mapped(memory_index(reopened.index).snapshot().dense.matrix)
        assert _results(reopened) == expected
        assert any("rebuilding" in r.getMessage() for r in caplog.records)
    finally:
        await reopened.close()
    assert _meta(db)["token"] != meta["token"], "the rebuilt index replaces the damaged cache"
    again = await _open(db)
    try:
        assert _mapped(memory_index(again.index).snapshot().dense.matrix)
    finally:
        await again.close()


async def test_a_read_only_cache_folder_still_opens(tmp_path):
    db = tmp_path / "kb.db"
    kb = await _open(db)
    ids = await _fill(kb, count=6)
    await kb.close()
    folder = tmp_path / "kb.db.index"
    for p in [*folder.iterdir(), folder]:
        p.chmod(stat.S_IRUSR | stat.S_IXUSR if p.is_dir() else stat.S_IRUSR)
    try:
        kb = await _open(db)  # loads the read-only cache
        assert _mapped(memory_index(kb.index).snapshot().dense.matrix)
        await kb.remove_document(ids[1])
        [new] = await _fill(kb, start=500, count=1)
        await kb.close()  # saving may fail (not as root): logged, never raised
        kb = await _open(db)
        try:
            assert new in {h.document.id for h in await kb.search("harbour story number 500", k=3)}
            assert ids[1] not in {h.document.id for q in QUERIES for h in await kb.search(q, k=50)}
        finally:
            await kb.close()
    finally:
        for p in tmp_path.rglob("*"):
            p.chmod(0o700)


async def test_memory_databases_use_no_cache(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert index_cache.cache_dir(":memory:") is None
    kb = await KnowledgeBase.open(KnowledgeConfig(db=Path(":memory:")), embedder=HashingEmbedder())
    await _fill(kb, count=3)
    assert (await kb.search("harbour", k=2))[0].document.title.startswith("Harbour")
    await kb.close()
    assert os.listdir(tmp_path) == []


async def test_an_empty_database_saves_no_cache(tmp_path):
    kb = await _open(tmp_path / "kb.db")
    await kb.close()
    assert not (tmp_path / "kb.db.index").exists()
