"""The storage contract on both backends (``db``: a SQLite file or an empty PostgreSQL database),
and what only PostgreSQL promises: several knowledge bases (processes) over one database see each
other's writes at once, claim a day's briefing once between them, and share one log; ``migrate``
copies a store into it."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from kb_helpers import orphans, table_counts

from knowledge.answer import NO_DOCUMENTS
from knowledge.backends import copy_store
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import DatabaseError, DocumentNotFound, DuplicateDocument
from knowledge.service import KnowledgeBase, TextItem

ROOT = Path(__file__).resolve().parents[2]

DOCS = [
    TextItem(
        "Tram line approved\n\nThe council approved the eastern tram line on Thursday.", published=dt.date(2024, 3, 7)
    ),
    TextItem("Harbour strike ends\n\nDock workers accepted a pay offer and the harbour cranes moved again."),
    TextItem("Glacier retreat\n\nThe glacier lost forty metres of ice this summer, surveyors said."),
]


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(self, texts, *, bulk=False):
        self.texts += len(texts)
        return super().encode(texts, bulk=bulk)


async def _open(db: str, embedder=None) -> KnowledgeBase:
    return await KnowledgeBase.open(KnowledgeConfig().with_db(db), embedder=embedder or HashingEmbedder())


# ---------------------------------------------------------------------------- both backends


async def test_documents_round_trip_with_their_passages_and_index(db):
    kb = await _open(db)
    try:
        report = await kb.add_texts(DOCS)
        assert not report.errors and len(report.added) == 3
        counts = table_counts(kb)
        assert counts["documents"] == 3 and counts["passages"] == counts["vectors"] == counts["lexical"] == 3
        hits = await kb.search("tram line council", k=3)
        assert hits[0].document.title == "Tram line approved"
        await kb.remove_document(hits[0].document.id)
        assert table_counts(kb)["documents"] == 2 and orphans(kb) == 0
        assert all(h.document.title != "Tram line approved" for h in await kb.search("tram line council", k=3))
    finally:
        await kb.close()


async def test_a_question_to_an_empty_collection_says_there_is_nothing_to_search(db):
    kb = await _open(db)
    try:
        empty = await kb.ask("When was the tram line approved?")
        assert empty.abstained and empty.text == NO_DOCUMENTS and not empty.citations
        await kb.add_text(DOCS[0].text, guild_id=7)
        # Another guild sees neither that document nor any shared one: still nothing to search.
        assert (await kb.ask("When was the tram line approved?", scope=8)).text == NO_DOCUMENTS
        own = await kb.ask("When was the tram line approved?", scope=7)
        assert own.text != NO_DOCUMENTS and own.citations
        # "What's new?" reads the newest documents of the asker's scope only.
        assert (await kb.ask("What's new?", scope=8)).text == NO_DOCUMENTS
        news = await kb.ask("What's new?", scope=7)
        assert news.citations and {c.document_id for c in news.citations} == {own.citations[0].document_id}
    finally:
        await kb.close()


async def test_title_search_ignores_case_on_both_engines(db):
    kb = await _open(db)
    try:
        await kb.add_texts(DOCS)
        assert [d.title for d in await kb.list_documents(title_like="GLACIER")] == ["Glacier retreat"]
        assert [d.title for d in await kb.list_documents(title_like="50%_off")] == []  # LIKE syntax is literal
        assert len(await kb.list_documents(limit=None)) == 3
    finally:
        await kb.close()


async def test_the_same_content_twice_in_one_scope_is_a_duplicate(db):
    kb = await _open(db)
    try:
        await kb.add_text(DOCS[0].text)
        with pytest.raises(DuplicateDocument):
            await kb.add_text(DOCS[0].text)
        await kb.add_text(DOCS[0].text, guild_id=5)  # another server may hold its own copy
        assert await kb.count_documents() == 2
    finally:
        await kb.close()


async def test_a_batch_is_written_whole_with_the_ids_search_returns(db):
    kb = await _open(db)
    try:
        await kb.add_text("Old report\n\nA report written before the batch, then removed.")
        [old] = await kb.list_documents()
        await kb.remove_document(old.id)
        report = await kb.add_texts(DOCS)
        assert not report.errors
        ids = [d.id for d in report.added]
        assert ids == list(range(old.id + 1, old.id + 4))  # in order, never reusing a removed id
        stored = {d.id: d.title for d in await kb.list_documents()}
        assert stored == {d.id: d.title for d in report.added}
        hits = await kb.search("glacier ice surveyors", k=1)
        assert hits[0].document.id == ids[2] and hits[0].passage.document_id == ids[2]
        counts = table_counts(kb)
        assert counts["passages"] == counts["vectors"] == counts["lexical"] == 3 and orphans(kb) == 0
    finally:
        await kb.close()


async def test_a_duplicate_written_meanwhile_costs_only_itself(db, monkeypatch):
    """Another process stores one of the batch's documents between this one's check and its write:
    the batch's transaction is refused whole, then the others are written one by one."""
    kb = await _open(db)
    try:
        await kb.add_text(DOCS[1].text)
        monkeypatch.setattr(kb.store, "find_by_hashes", _nothing_found)  # the check misses it, as in a race
        report = await kb.add_texts(DOCS)
        assert [d.title for d in report.added] == ["Tram line approved", "Glacier retreat"]
        [error] = report.errors
        assert isinstance(error, DuplicateDocument)
        assert await kb.count_documents() == 3 and orphans(kb) == 0
        assert {h.document.title for h in await kb.search("glacier ice", k=3)} >= {"Glacier retreat"}
    finally:
        await kb.close()


async def _nothing_found(keys):
    list(keys)
    return {}


async def test_log_rows_get_increasing_ids_and_read_back(db):
    kb = await _open(db)
    try:
        first = await kb.log_interaction("ask", input="why?", outcome="answered", passage_ids=[3, 4], scores=[0.5])
        second = await kb.log_interaction("feedback", outcome="up", ref_id=first, user_id=9)
        assert second > first
        row = await kb.interaction(first)
        assert row is not None and row.passage_ids == [3, 4] and row.scores == [0.5] and row.kind == "ask"
        stats = await kb.usage_stats(days=1)
        assert stats.questions == 1 and stats.thumbs_up == 1
    finally:
        await kb.close()


async def test_a_days_briefing_is_claimed_once(db):
    kb = await _open(db)
    try:
        day = dt.date(2026, 5, 1)
        assert await kb.claim_briefing(channel_id=7, day=day, guild_id=1)
        assert not await kb.claim_briefing(channel_id=7, day=day, guild_id=1)
        assert await kb.briefing_posted(7, day) and not await kb.briefing_posted(7, day + dt.timedelta(days=1))
        assert await kb.last_briefing_at(7) is not None
    finally:
        await kb.close()


async def test_reopening_embeds_nothing_again(db):
    kb = await _open(db)
    await kb.add_texts(DOCS)
    await kb.close()
    again = CountingEmbedder()
    kb = await _open(db, again)
    try:
        assert again.texts == 0
        assert (await kb.search("glacier ice", k=1))[0].document.title == "Glacier retreat"
    finally:
        await kb.close()


async def test_removing_a_document_that_is_not_there(db):
    kb = await _open(db)
    try:
        with pytest.raises(DocumentNotFound):
            await kb.remove_document(12345)
        with pytest.raises(DocumentNotFound):
            await kb.remove_document(10**20)  # past 64 bits: a clear "no document", not an overflow
    finally:
        await kb.close()


# ---------------------------------------------------------------------------- PostgreSQL: several processes


async def test_a_document_added_by_one_process_is_found_by_another_at_once(pg_url):
    writer, reader = await _open(pg_url), await _open(pg_url)
    try:
        assert await reader.search("tram line", k=3) == []
        doc = await writer.add_text(DOCS[0].text)
        hits = await reader.search("tram line council", k=3)  # no wait, no reload: nothing is cached
        assert [h.document.id for h in hits] == [doc.id]
        answer = await reader.ask("When did the council approve the tram line?")
        assert not answer.abstained and answer.citations[0].document_id == doc.id
        await writer.remove_document(doc.id)
        assert await reader.search("tram line council", k=3) == []
    finally:
        await writer.close()
        await reader.close()


async def test_two_processes_claiming_the_same_briefing_post_it_once(pg_url):
    a, b = await _open(pg_url), await _open(pg_url)
    try:
        day = dt.date(2026, 6, 1)
        claims = await asyncio.gather(*(kb.claim_briefing(channel_id=42, day=day) for kb in (a, b, a, b)))
        assert sorted(claims) == [False, False, False, True]
    finally:
        await a.close()
        await b.close()


async def test_the_same_document_indexed_by_two_processes_at_once_is_stored_once(pg_url):
    a, b = await _open(pg_url), await _open(pg_url)
    try:
        results = await asyncio.gather(a.add_text(DOCS[1].text), b.add_text(DOCS[1].text), return_exceptions=True)
        assert sum(isinstance(r, DuplicateDocument) for r in results) == 1, results
        assert await a.count_documents() == 1 and orphans(a) == 0
    finally:
        await a.close()
        await b.close()


async def test_every_process_writes_to_the_one_log(pg_url):
    a, b = await _open(pg_url), await _open(pg_url)
    try:
        await asyncio.gather(*(kb.log_interaction("ask", input=f"q{i}") for i, kb in enumerate((a, b) * 5)))
        rows = await a.interactions(kind="ask")
        assert sorted(r.input or "" for r in rows) == sorted(f"q{i}" for i in range(10))
        assert len({r.id for r in rows}) == 10
    finally:
        await a.close()
        await b.close()


async def test_a_newer_schema_is_refused(pg_url):
    await (await _open(pg_url)).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO newsdesk_schema (version) VALUES (99)")
    with pytest.raises(DatabaseError, match="schema version is 99"):
        await _open(pg_url)


async def test_an_unreachable_server_is_one_clear_error(tmp_path):
    url = f"postgresql://nobody@/nodb?host={tmp_path}"  # no server listens on this socket folder
    with pytest.raises(DatabaseError, match="cannot open the database postgresql://") as raised:
        await _open(url)
    assert "\n" not in str(raised.value).strip()


async def test_the_password_never_appears_in_errors(pg_url):
    url = pg_url.replace("postgresql://postgres:@", "postgresql://postgres:s3cret@").replace("/t_", "/missing_t_")
    with pytest.raises(DatabaseError) as raised:
        await _open(url)
    assert "s3cret" not in str(raised.value)


# ---------------------------------------------------------------------------- migrate


async def test_migrate_copies_everything_keeping_ids_and_vectors(tmp_path, pg_url):
    source = await _open(str(tmp_path / "old.db"))
    report = await source.add_texts(DOCS)
    removed = report.added[0]
    await source.remove_document(removed.id)  # a gap: ids are kept, not renumbered
    asked = await source.log_interaction("ask", input="glacier?", passage_ids=[report.added[2].id])
    await source.claim_briefing(channel_id=5, day=dt.date(2026, 1, 2), guild_id=3)
    await source.close()

    config = KnowledgeConfig().with_db(str(tmp_path / "old.db"))
    first = await copy_store(config, pg_url)
    second = await copy_store(config, pg_url)  # idempotent: nothing left to copy
    assert (first.documents, first.passages, first.vectors, first.interactions, first.briefing_posts) == (2, 2, 2, 1, 1)
    assert (second.documents, second.already_there, second.interactions, second.briefing_posts) == (0, 2, 0, 0)

    embedder = CountingEmbedder()
    kb = await _open(pg_url, embedder)
    try:
        assert embedder.texts == 0  # vectors were copied, not re-embedded
        assert sorted(d.id for d in await kb.list_documents()) == sorted(d.id for d in report.added[1:])
        hits = await kb.search("glacier ice surveyors", k=1)
        assert hits[0].document.id == report.added[2].id
        row = await kb.interaction(asked)
        assert row is not None and row.input == "glacier?"
        assert await kb.briefing_posted(5, dt.date(2026, 1, 2))
        fresh = await kb.add_text("New plant\n\nA new solar plant opened near the river.")
        assert fresh.id > removed.id > 0 and fresh.id not in {d.id for d in report.added}
    finally:
        await kb.close()


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "knowledge.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_migrate_command_refuses_a_target_that_is_not_postgresql(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NEWSDESK_DB": str(tmp_path / "a.db")}
    result = _cli("migrate", "--to", str(tmp_path / "b.db"), env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --to must be a postgresql:// URL"


@pytest.mark.model
def test_index_in_one_process_then_ask_and_remove_from_others(tmp_path, pg_url):
    """What the issue checks by hand: `newsdesk --db URL index FILE` in one process, `ask` in another
    cites FILE; after `docs remove ID` it no longer does."""
    note = tmp_path / "ferry-timetable.txt"
    note.write_text(
        "Night ferry returns\n\nThe night ferry between the two islands returns on 4 May, the port authority said.",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env["PYTHONPATH"] = str(ROOT)
    indexed = _cli("--db", pg_url, "index", str(note), env=env)
    assert indexed.returncode == 0, indexed.stderr
    asked = _cli("--db", pg_url, "ask", "When does the night ferry return?", env=env)
    assert asked.returncode == 0, asked.stderr
    assert "4 May" in asked.stdout and "Night ferry returns" in asked.stdout
    listed = _cli("--db", pg_url, "docs", "list", env=env)
    doc_id = listed.stdout.split()[0].lstrip("#")
    removed = _cli("--db", pg_url, "docs", "remove", doc_id, env=env)
    assert removed.returncode == 0, removed.stderr
    again = _cli("--db", pg_url, "ask", "When does the night ferry return?", env=env)
    assert "Night ferry returns" not in again.stdout
