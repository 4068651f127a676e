"""The SQLite store (knowledge.backends.sqlite) on a real file in a temp dir: migrations, WAL, persistence, deletes that leave
nothing behind, one transaction per document, scopes, and vectors of two models kept apart. What is on
disk is checked with plain ``sqlite3`` on the file, not through the store under test."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from knowledge.backends.sqlite import SqliteStore, memory_index, sqlite_store
from knowledge.backends.sqlite.schema import MIGRATIONS
from knowledge.chunking import chunk_paragraphs
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import DuplicateDocument
from knowledge.models import NewDocument, NewPassage
from knowledge.scope import GLOBAL_SCOPE
from knowledge.service import KnowledgeBase, TextItem

EMBEDDER = HashingEmbedder(dim=16, model_id="model-a")


def _doc(
    title: str, paragraphs: list[str], *, guild_id: int | None = None, published: dt.date | None = None
) -> tuple[NewDocument, list[NewPassage], np.ndarray]:
    passages = chunk_paragraphs(paragraphs, title=title)
    text = "\n\n".join(paragraphs)
    doc = NewDocument(
        title=title,
        source=None,
        published=published,
        author=None,
        guild_id=guild_id,
        origin=f"{title}.txt",
        content_hash=f"hash-{title}-{guild_id}",
        text=text,
        words=len(text.split()),
    )
    return doc, passages, EMBEDDER.encode([p.text for p in passages])


def _rows(db: Path, sql: str, args: tuple = ()) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def _count(db: Path, table: str) -> int:
    return _rows(db, f"SELECT COUNT(*) FROM {table}")[0][0]


@pytest_asyncio.fixture(loop_scope="function")
async def store(tmp_path: Path):
    store = await SqliteStore.open(tmp_path / "store.db")
    yield store
    await store.close()


# ---------------------------------------------------------------------------------------------- schema


async def test_migrations_set_user_version_to_their_count(store):
    assert await store.schema_version() == len(MIGRATIONS)
    assert _rows(store.path, "PRAGMA user_version")[0][0] == len(MIGRATIONS)


async def test_reopening_applies_no_migration_twice(tmp_path):
    db = tmp_path / "store.db"
    await (await SqliteStore.open(db)).close()
    tables = _rows(db, "SELECT name FROM sqlite_master ORDER BY name")
    store = await SqliteStore.open(db)  # a migration run twice would fail on CREATE TABLE
    try:
        assert await store.schema_version() == len(MIGRATIONS)
    finally:
        await store.close()
    assert _rows(db, "SELECT name FROM sqlite_master ORDER BY name") == tables


async def test_database_is_in_wal_mode(store):
    assert _rows(store.path, "PRAGMA journal_mode")[0][0] == "wal"


async def test_data_survives_reopening(tmp_path):
    db = tmp_path / "store.db"
    store = await SqliteStore.open(db)
    doc_id, ids = await store.insert_document(*_doc("Kept", ["One paragraph.", "Another one."]), "model-a")
    await store.close()
    store = await SqliteStore.open(db)
    try:
        doc = await store.get_document(doc_id)
        assert doc is not None
        assert doc.title == "Kept" and doc.passages == len(ids)
        assert await store.document_text(doc_id) == "One paragraph.\n\nAnother one."
        pids, *_ = await store.load_vectors("model-a")
        assert list(pids) == ids
    finally:
        await store.close()


# ---------------------------------------------------------------------------------------------- documents


async def test_deleting_a_document_leaves_no_passage_vector_or_fts_row(store):
    keep_id, keep_ids = await store.insert_document(*_doc("Keep", ["Harbour cranes stood idle."]), "model-a")
    gone_id, gone_ids = await store.insert_document(
        *_doc("Gone", ["Zanzibar spice markets reopened.", "Traders returned to Zanzibar."]), "model-a"
    )
    assert await store.delete_document(gone_id) == gone_ids
    marks = ",".join("?" * len(gone_ids))
    assert _rows(store.path, "SELECT COUNT(*) FROM documents WHERE id = ?", (gone_id,))[0][0] == 0
    assert _rows(store.path, f"SELECT COUNT(*) FROM passages WHERE id IN ({marks})", tuple(gone_ids))[0][0] == 0
    assert _rows(store.path, f"SELECT COUNT(*) FROM vectors WHERE passage_id IN ({marks})", tuple(gone_ids))[0][0] == 0
    assert _rows(store.path, f"SELECT COUNT(*) FROM passages_fts WHERE rowid IN ({marks})", tuple(gone_ids))[0][0] == 0
    assert _rows(store.path, "SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH 'zanzibar'")[0][0] == 0
    # the other document is untouched
    assert (
        _count(store.path, "passages")
        == _count(store.path, "vectors")
        == _count(store.path, "passages_fts")
        == len(keep_ids)
    )
    assert await store.get_document(keep_id) is not None


async def test_a_failure_mid_document_writes_nothing_of_it(store):
    doc, passages, vectors = _doc("Broken", ["First paragraph here.", "x " * 100, "Third paragraph."])
    assert len(passages) >= 2
    # the second passage cannot be bound: the first passage, its FTS row and vector are already written
    bad = [passages[0], NewPassage(1, 1, 0, 1, object(), "h")] + list(passages[2:])  # type: ignore[arg-type]
    with pytest.raises(sqlite3.Error):
        await store.insert_document(doc, bad, vectors[: len(bad)], "model-a")
    for table in ("documents", "passages", "vectors", "passages_fts"):
        assert _count(store.path, table) == 0, table
    # the connection is usable afterwards
    doc_id, _ = await store.insert_document(doc, passages, vectors, "model-a")
    assert (await store.get_document(doc_id)).passages == len(passages)


async def test_wrong_number_of_vectors_is_refused_and_writes_nothing(store):
    doc, passages, vectors = _doc("Mismatch", ["One.", "x " * 100, "Three."])
    with pytest.raises(ValueError):
        await store.insert_document(doc, passages, vectors[:-1], "model-a")
    assert _count(store.path, "documents") == 0
    assert _count(store.path, "passages") == 0


async def test_failed_replacement_keeps_the_old_document(store):
    old_id, old_ids = await store.insert_document(*_doc("Old", ["The old text."]), "model-a")
    doc, passages, vectors = _doc("New", ["The new text."])
    bad = [NewPassage(0, 0, 0, 1, object(), "h")]  # type: ignore[arg-type]
    with pytest.raises(sqlite3.Error):
        await store.insert_document(doc, bad, vectors, "model-a", replace_id=old_id)
    assert (await store.get_document(old_id)).title == "Old"
    assert _count(store.path, "passages_fts") == len(old_ids)


async def test_replacement_removes_the_old_document_in_the_same_write(store):
    old_id, old_ids = await store.insert_document(*_doc("Old", ["The old text."]), "model-a")
    new_id, new_ids = await store.insert_document(*_doc("New", ["The new text."]), "model-a", replace_id=old_id)
    assert [d.title for d in await store.list_documents()] == ["New"]
    assert _rows(store.path, "SELECT text FROM passages") == [("The new text.",)]
    assert [r[0] for r in _rows(store.path, "SELECT rowid FROM passages_fts ORDER BY rowid")] == new_ids


# ---------------------------------------------------------------------------------------------- scopes


@pytest_asyncio.fixture(loop_scope="function")
async def scoped(store):
    ids = {}
    for name, guild in (("global", None), ("guild1", 1), ("guild2", 2)):
        ids[name], _ = await store.insert_document(
            *_doc(name, [f"Lighthouse keepers of {name} met today."], guild_id=guild), "model-a"
        )
    return store, ids


@pytest.mark.parametrize(
    "scope, visible",
    [
        (None, {"global", "guild1", "guild2"}),
        (0, {"global"}),
        (1, {"global", "guild1"}),
        (2, {"global", "guild2"}),
        (3, {"global"}),
    ],
)
async def test_list_documents_by_scope(scoped, scope, visible):
    store, _ = scoped
    assert {d.title for d in await store.list_documents(scope=scope)} == visible
    assert await store.count_documents(scope=scope) == len(visible)


@pytest.mark.parametrize(
    "scope, visible", [(None, {"global", "guild1", "guild2"}), (0, {"global"}), (1, {"global", "guild1"})]
)
async def test_fts_search_by_scope(scoped, scope, visible):
    store, ids = scoped
    found = {pid for pid, _ in await store.fts_search('"lighthouse"', limit=10, scope=scope)}
    hits = await store.passages_with_documents(list(found))
    assert {doc.title for _, doc in hits.values()} == visible


async def test_fts_search_by_published_date(store):
    await store.insert_document(*_doc("Early", ["Glacier melt measured."], published=dt.date(2021, 5, 1)), "model-a")
    await store.insert_document(
        *_doc("Late", ["Glacier melt measured again."], published=dt.date(2023, 5, 1)), "model-a"
    )
    await store.insert_document(*_doc("Undated", ["Glacier melt, no date."]), "model-a")

    async def titles(**dates) -> set[str]:
        found = await store.fts_search('"glacier"', limit=10, **dates)
        return {d.title for _, d in (await store.passages_with_documents([p for p, _ in found])).values()}

    assert await titles() == {"Early", "Late", "Undated"}
    assert await titles(date_from=dt.date(2022, 1, 1)) == {"Late"}
    assert await titles(date_to=dt.date(2022, 1, 1)) == {"Early"}


async def test_same_content_may_exist_once_per_scope(store):
    doc, passages, vectors = _doc("Twice", ["Same words."], guild_id=1)
    await store.insert_document(doc, passages, vectors, "model-a")
    # The unique index's refusal (what another process's write of the same content meets) is a
    # DuplicateDocument, not a raw IntegrityError that would abort a whole indexing batch.
    with pytest.raises(DuplicateDocument):
        await store.insert_document(doc, passages, vectors, "model-a")
    other = NewDocument(**{**doc.__dict__, "guild_id": 2})
    await store.insert_document(other, passages, vectors, "model-a")
    assert await store.count_documents() == 2


# ---------------------------------------------------------------------------------------------- vectors


async def test_load_vectors_returns_only_that_models_vectors(store):
    _, ids = await store.insert_document(*_doc("Doc", ["Alpha text.", "y " * 100]), "model-a")
    other = np.ones((len(ids), 8), dtype=np.float32) / np.sqrt(8)
    await store.add_vectors("model-b", list(zip(ids, other, strict=True)))
    pa, _, _, _, ma = await store.load_vectors("model-a")
    pb, _, _, _, mb = await store.load_vectors("model-b")
    assert list(pa) == list(pb) == ids
    assert ma.shape == (len(ids), 16) and mb.shape == (len(ids), 8)
    assert np.allclose(mb, other)
    assert await store.passages_missing_vectors("model-b") == []
    assert [m[0] for m in await store.passages_missing_vectors("model-c")] == ids


async def test_load_vectors_spells_global_as_the_global_scope(store):
    # One spelling of "global": the dense index gets the scope value 0, not a sentinel of its own.
    _, global_ids = await store.insert_document(*_doc("Global", ["Alpha text."]), "model-a")
    _, guild_ids = await store.insert_document(*_doc("Guild", ["Beta text."], guild_id=42), "model-a")
    pids, _, gids, _, _ = await store.load_vectors("model-a")
    by_pid = dict(zip(pids.tolist(), gids.tolist(), strict=True))
    assert {by_pid[p] for p in global_ids} == {GLOBAL_SCOPE} and {by_pid[p] for p in guild_ids} == {42}


async def test_vectors_by_hash_is_per_model(store):
    doc, passages, vectors = _doc("Doc", ["Alpha text."])
    await store.insert_document(doc, passages, vectors, "model-a")
    h = passages[0].text_hash
    assert np.allclose(np.frombuffer((await store.vectors_by_hash("model-a", [h]))[h], dtype="<f4"), vectors[0])
    assert await store.vectors_by_hash("model-b", [h]) == {}


class CountingEmbedder(HashingEmbedder):
    def __init__(self, dim: int, model_id: str) -> None:
        super().__init__(dim=dim, model_id=model_id)
        self.texts = 0

    def encode(self, texts, *, bulk=False):
        self.texts += len(texts)
        return super().encode(texts, bulk=bulk)


async def test_opening_with_another_model_embeds_every_passage_for_it_without_mixing(tmp_path):
    config = KnowledgeConfig(db=tmp_path / "kb.db")
    async with await KnowledgeBase.open(config, embedder=CountingEmbedder(16, "model-a")) as kb:
        await kb.add_texts(
            [
                TextItem("Ferry strike\n\nFerry crews walked out at dawn."),
                TextItem("Bridge opens\n\nThe new bridge opened to traffic."),
            ]
        )
        passages = await kb.store.count_passages()
    other = CountingEmbedder(32, "model-b")
    async with await KnowledgeBase.open(config, embedder=other) as kb:
        assert other.texts == passages  # every passage embedded for the new model at open
        assert len(memory_index(kb.index).dense) == passages
        assert (await kb.search("ferry crews", k=1))[0].document.title == "Ferry strike"
        _, _, _, _, ma = await sqlite_store(kb.store).load_vectors("model-a")
        _, _, _, _, mb = await sqlite_store(kb.store).load_vectors("model-b")
    assert ma.shape == (passages, 16) and mb.shape == (passages, 32)
    assert _rows(Path(config.db), "SELECT model, dim, COUNT(*) FROM vectors GROUP BY model ORDER BY model") == [
        ("model-a", 16, passages),
        ("model-b", 32, passages),
    ]


async def test_reopening_with_the_same_model_embeds_nothing(tmp_path):
    config = KnowledgeConfig(db=tmp_path / "kb.db")
    async with await KnowledgeBase.open(config, embedder=CountingEmbedder(16, "model-a")) as kb:
        await kb.add_text("Ferry strike\n\nFerry crews walked out at dawn.")
    again = CountingEmbedder(16, "model-a")
    async with await KnowledgeBase.open(config, embedder=again) as kb:
        assert again.texts == 0
        assert len(memory_index(kb.index).dense) == await kb.store.count_passages() > 0


async def test_ids_are_never_reused_after_a_removal(tmp_path):
    from knowledge import KnowledgeBase, KnowledgeConfig
    from knowledge.embed import HashingEmbedder

    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp_path / "kb.db"), embedder=HashingEmbedder())
    try:
        first = await kb.add_text("The first report talks about harbour cranes.", title="First")
        first_passages = [p.id for p in await kb.store.passages_of_documents([first.id])]
        await kb.remove_document(first.id)
        second = await kb.add_text("The second report talks about rail freight.", title="Second")
        second_passages = [p.id for p in await kb.store.passages_of_documents([second.id])]
    finally:
        await kb.close()
    assert second.id > first.id
    assert min(second_passages) > max(first_passages)
