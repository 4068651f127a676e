"""PostgreSQL's lexical engines (``backends.postgres.engines``): pg_textsearch's bm25 index on a server that has the
extension, the exact BM25 in SQL from postings on one that has not (or with ``pg_bm25="sql"``), one
recorded per database and converted once each way; what every process sees of the other's writes;
and the start-up warning about an old pgvector."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import LiteralString, cast

import numpy as np
import psycopg
import pytest
from kb_helpers import orphans, table_counts

from knowledge.backends import lexical
from knowledge.backends.postgres import pg_search, pg_store, textsearch
from knowledge.backends.postgres import store as postgres_store
from knowledge.backends.postgres.lexical import BM25, POSTINGS
from knowledge.backends.postgres.search import filters
from knowledge.backends.sqlite.index import LexicalIndex
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase, TextItem

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "Tram line approved\n\nThe council approved the eastern tram line on Thursday after a long debate.",
    "Harbour strike ends\n\nDock workers accepted a pay offer and the harbour cranes moved again.",
    "Glacier retreat\n\nThe glacier lost forty metres of ice this summer, surveyors said.",
    "Council budget\n\nThe council passed its budget; the harbour and the tram get more money.",
    "Night ferry\n\nThe night ferry between the islands returns in May, the port authority said.",
]


async def _open(url: str, bm25: str = "auto") -> KnowledgeBase:
    config = dataclasses.replace(KnowledgeConfig().with_db(url), pg_bm25=bm25)
    return await KnowledgeBase.open(config, embedder=HashingEmbedder())


def _one(url: str, sql: str, args: tuple = ()):
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, args).fetchone()  # type: ignore[arg-type]  # the tests' own SQL
    assert row is not None
    return row[0]


def _settled(kb: KnowledgeBase) -> str:
    """The engine the knowledge base's store settled on when it opened."""
    return pg_store(kb.store).lexical_engine


def _engine(url: str) -> str:
    return _one(url, "SELECT lexical FROM corpus_stats WHERE id = 1")


def _has_bm25_index(url: str) -> bool:
    return bool(_one(url, "SELECT COUNT(*) FROM pg_indexes WHERE indexname = %s", (textsearch.INDEX,)))


def _term_stats(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: int(df) for t, df in conn.execute("SELECT term, df FROM term_stats").fetchall() if df}


def _postings(url: str) -> set[tuple]:
    with psycopg.connect(url) as conn:
        return set(conn.execute("SELECT term, passage_id, tf, length, scope, day FROM postings").fetchall())


def _stored_passages(url: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(  # type: ignore[return-value]
            "SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id ORDER BY p.id"
        ).fetchall()


def _frequencies_of_stored_text(url: str) -> dict[str, int]:
    """What term_stats must hold whatever the engine: each term's passages, from the stored text."""
    rows = _stored_passages(url)
    tokens = lexical.tokenise([(title, text) for _, title, text in rows])
    return dict(Counter(term for counts, _ in tokens for term in counts))


# ---------------------------------------------------------------------------- the engine a database gets


async def test_a_server_with_pg_textsearch_searches_its_bm25_index(pg_url):
    kb = await _open(pg_url)
    try:
        assert _settled(kb) == _engine(pg_url) == BM25 and _has_bm25_index(pg_url)
        report = await kb.add_texts([TextItem(t) for t in TEXTS])
        counts = table_counts(kb)
        assert counts["passages"] == counts["lexical"] == 5 and _one(pg_url, "SELECT COUNT(*) FROM postings") == 0
        hits = await kb.search("harbour cranes dock workers", k=3)
        harbour = report.added[1]
        assert hits[0].document.id == harbour.id and hits[0].bm25_rank == 1
        assert _term_stats(pg_url) == _frequencies_of_stored_text(pg_url)

        await kb.remove_document(harbour.id)
        assert all(h.document.id != harbour.id for h in await kb.search("harbour cranes dock workers", k=5))
        assert orphans(kb) == 0 and table_counts(kb)["lexical"] == 4
        assert _term_stats(pg_url) == _frequencies_of_stored_text(pg_url)  # counted off without postings
    finally:
        await kb.close()


async def test_a_database_that_cannot_have_the_extension_keeps_exact_bm25_in_sql(pg_url_without_bm25, caplog):
    caplog.set_level(logging.INFO, logger="knowledge.backends.postgres.engines")
    kb = await _open(pg_url_without_bm25)
    try:
        assert _settled(kb) == POSTINGS and not _has_bm25_index(pg_url_without_bm25)
        assert any("permission denied" in r.getMessage() for r in caplog.records), caplog.text
        await kb.add_texts([TextItem(t) for t in TEXTS])
        assert table_counts(kb)["lexical"] == 5
        assert _one(pg_url_without_bm25, "SELECT COUNT(*) FROM bm25_texts") == 0

        # Exact: the in-memory index's BM25 over the same passages, score for score.
        rows = _stored_passages(pg_url_without_bm25)
        memory = LexicalIndex()
        memory.add([(title, text) for _, title, text in rows])
        side = pg_search(kb.index).lexical
        terms = ["harbour", "council", "tram"]
        where, args = filters(None, None, None)
        view = await side.statistics(terms)
        got = await side.rank(view, terms, "harbour council tram", 10, where, args)
        expected = [(rows[r][0], s) for r, s in memory.search(terms, np.ones(len(rows), bool), 10)]
        assert dict(got) == pytest.approx(dict(expected), rel=1e-6)
    finally:
        await kb.close()


async def test_the_sql_setting_keeps_postings_on_a_server_with_the_extension(pg_url):
    # As an operator sets it: the environment, read by the same function the bot and the CLI use.
    config = KnowledgeConfig.from_env({"NEWSDESK_DB": pg_url, "NEWSDESK_PG_BM25": "SQL"})
    kb = await KnowledgeBase.open(config, embedder=HashingEmbedder())
    try:
        assert _settled(kb) == _engine(pg_url) == POSTINGS
        await kb.add_text(TEXTS[0])
        assert _one(pg_url, "SELECT COUNT(*) FROM bm25_texts") == 0 and _postings(pg_url)
        assert (await kb.search("eastern tram", k=1))[0].bm25_rank == 1
    finally:
        await kb.close()


async def test_a_database_is_converted_once_each_way_and_keeps_everything(pg_url, caplog, tmp_path):
    kb = await _open(pg_url, bm25="sql")
    try:
        await kb.add_texts([TextItem(t) for t in TEXTS[:3]])
        note = tmp_path / "notes" / "budget.md"
        note.parent.mkdir()
        note.write_text("# Council budget\n\nThe council passed its budget on Monday.\n")
        [replaced] = (await kb.index_paths([note.parent])).added
        note.write_text("# Council budget\n\nThe council passed its budget; the harbour gets more money.\n")
        assert len((await kb.index_paths([note.parent])).updated) == 1  # a new version replaces it
        before = _postings(pg_url)
        stats = _term_stats(pg_url)
    finally:
        await kb.close()
    assert stats == _frequencies_of_stored_text(pg_url)

    caplog.set_level(logging.WARNING, logger="knowledge.backends.postgres.engines")
    kb = await _open(pg_url)  # the server has pg_textsearch: converted
    try:
        assert [r.getMessage() for r in caplog.records if "converting" in r.getMessage()] == [
            "converting the lexical index of 4 passages from postings to bm25 (once)"
        ]
        assert _settled(kb) == _engine(pg_url) == BM25 and _has_bm25_index(pg_url)
        assert table_counts(kb)["lexical"] == 4 and not _postings(pg_url) and _term_stats(pg_url) == stats
        assert (await kb.search("council budget harbour money", k=1))[0].document.title == replaced.title
        assert (await kb.search("glacier ice surveyors", k=1))[0].bm25_rank == 1
        ferry = await kb.add_text(TEXTS[4])
        await kb.remove_document(ferry.id)
    finally:
        await kb.close()
    caplog.clear()
    kb = await _open(pg_url)  # opened again: nothing to convert
    await kb.close()
    assert not [r for r in caplog.records if "converting" in r.getMessage()]

    kb = await _open(pg_url, bm25="sql")  # and back: the same postings as before, made from the text
    try:
        assert _settled(kb) == POSTINGS and not _has_bm25_index(pg_url)
        assert _postings(pg_url) == before and _term_stats(pg_url) == stats
        assert _one(pg_url, "SELECT COUNT(*) FROM bm25_texts") == 0
        assert (await kb.search("glacier ice surveyors", k=1))[0].bm25_rank == 1
    finally:
        await kb.close()


async def test_a_bm25_database_found_without_its_index_gets_it_again(pg_url, caplog):
    kb = await _open(pg_url)
    await kb.add_text(TEXTS[2])
    await kb.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as a restore that skipped it would leave it
        conn.execute(f"DROP INDEX {textsearch.INDEX}")
    caplog.set_level(logging.WARNING, logger="knowledge.backends.postgres.engines")
    kb = await _open(pg_url)
    try:
        assert _has_bm25_index(pg_url) and "making the bm25 index again" in caplog.text
        assert (await kb.search("glacier ice", k=1))[0].bm25_rank == 1
    finally:
        await kb.close()


async def test_a_process_open_before_a_conversion_follows_it(pg_url):
    old = await _open(pg_url, bm25="sql")
    try:
        first = await old.add_text(TEXTS[0])
        new = await _open(pg_url)  # converts the database while `old` is open
        try:
            assert (await old.search("eastern tram line", k=1))[0].document.id == first.id
            second = await old.add_text(TEXTS[1])  # written for the engine the database keeps now
            assert table_counts(new)["lexical"] == 2 and not _postings(pg_url)
            hits = await new.search("harbour cranes", k=1)
            assert hits[0].document.id == second.id and hits[0].bm25_rank == 1
        finally:
            await new.close()
    finally:
        await old.close()


async def test_bm25_search_stays_right_after_many_removals_re_adds_and_vacuums(pg_url):
    # pg_textsearch before 1.1.0 could miscount its documents when VACUUM followed deletions.
    kb = await _open(pg_url)

    def item(i: int, round_: int) -> TextItem:
        return TextItem(f"Report {i}\n\nThe quarry{i} inspection in round {round_} found the mill{i % 7} safe.")

    try:
        live = {i: (await kb.add_text(item(i, 0).text)).id for i in range(40)}
        for round_ in range(1, 4):
            for i in range(round_ % 2, 40, 2):  # half of them out, VACUUM, back in, VACUUM
                await kb.remove_document(live.pop(i))
            await asyncio.to_thread(_vacuum, pg_url, "bm25_texts")
            for i in range(round_ % 2, 40, 2):
                live[i] = (await kb.add_text(item(i, round_).text)).id
            await asyncio.to_thread(_vacuum, pg_url, "bm25_texts")
        assert _one(pg_url, "SELECT COUNT(*) FROM bm25_texts") == 40
        passage_of = {doc_id: pid for pid, (_, doc) in (await _passages(kb)).items() for doc_id in [doc.id]}
        where, args = filters(None, None, None)
        side = pg_search(kb.index).lexical
        for i in range(40):
            words = f"quarry{i} inspection"
            terms = lexical.index_tokens(words)
            got = await side.rank(await side.statistics(terms), terms, words, 3, where, args)
            assert got[0][0] == passage_of[live[i]], (i, got)
        assert _term_stats(pg_url) == _frequencies_of_stored_text(pg_url)
    finally:
        await kb.close()


async def _passages(kb: KnowledgeBase):
    async with pg_store(kb.store).connection.execute("SELECT id FROM passages") as cur:
        pids = [int(r["id"]) for r in await cur.fetchall()]
    return await kb.store.passages_with_documents(pids)


def _vacuum(url: str, table: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(cast(LiteralString, f"VACUUM {table}"))


# ---------------------------------------------------------------------------- several processes

_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from knowledge.config import KnowledgeConfig
    from knowledge.embed import HashingEmbedder
    from knowledge.service import KnowledgeBase

    async def main(url, action, value):
        kb = await KnowledgeBase.open(KnowledgeConfig().with_db(url), embedder=HashingEmbedder())
        try:
            if action == "add":
                print((await kb.add_text(value)).id)
            else:
                await kb.remove_document(int(value))
        finally:
            await kb.close()

    asyncio.run(main(*sys.argv[1:]))
    """
)


def _child(url: str, action: str, value: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, url, action, value], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip()


@pytest.mark.parametrize("engine", ["postgres", "postgres-sql"])
async def test_what_another_process_adds_or_removes_is_seen_by_the_next_question(engine, request):
    url = request.getfixturevalue("pg_url" if engine == "postgres" else "pg_url_without_bm25")
    kb = await _open(url)
    try:
        await kb.add_texts([TextItem(t) for t in TEXTS[:3]])
        assert all("Night ferry" != h.document.title for h in await kb.search("night ferry islands", k=3))
        doc_id = int(await asyncio.to_thread(_child, url, "add", TEXTS[4]))
        hits = await kb.search("night ferry islands", k=3)  # no reload, no wait
        assert hits[0].document.id == doc_id and hits[0].bm25_rank == 1
        await asyncio.to_thread(_child, url, "remove", str(doc_id))
        assert all(h.document.id != doc_id for h in await kb.search("night ferry islands", k=3))
        assert _term_stats(url) == _frequencies_of_stored_text(url)
    finally:
        await kb.close()


# ---------------------------------------------------------------------------- the query itself


async def test_the_score_is_read_from_the_index_scan_not_computed_again(pg_url):
    kb = await _open(pg_url)
    try:
        await kb.add_texts([TextItem(t) for t in TEXTS])
        where, args = filters(101, None, None)
        plan_sql = cast(LiteralString, "EXPLAIN (VERBOSE) " + textsearch.textsearch_sql(where).replace("?", "%s"))
        with psycopg.connect(pg_url) as conn:
            conn.execute("SET enable_seqscan = off")  # five rows: make the planner take the index as at scale
            plan = "\n".join(
                r[0] for r in conn.execute(plan_sql, ["harbour", *args, "harbour", 10], prepare=False).fetchall()
            )
        assert "Index Scan using bm25_texts_body" in plan
        # Both the selected score and the sort key read the scan's score; no row is scored again.
        output = next(line for line in plan.splitlines() if "Output:" in line)
        assert "bm25_get_current_score()" in output and "<@>" not in output, plan
    finally:
        await kb.close()


async def test_filters_apply_to_the_bm25_side(pg_url):
    kb = await _open(pg_url)
    try:
        ours = await kb.add_text(TEXTS[1], guild_id=7)
        theirs = await kb.add_text(TEXTS[1] + " Talks went on all night.", guild_id=8)
        shared = await kb.add_text(TEXTS[3])
        side = pg_search(kb.index).lexical
        view = await side.statistics(["harbour"])
        for scope, expected in ((7, {ours.id, shared.id}), (None, {ours.id, theirs.id, shared.id})):
            where, args = filters(scope, None, None)
            got = await side.rank(view, ["harbour"], "harbour", 10, where, args)
            documents = {d.id for pid, _ in got for d in [(await kb.store.passages_with_documents([pid]))[pid][1]]}
            assert documents == expected
    finally:
        await kb.close()


# ---------------------------------------------------------------------------- start-up


async def test_an_old_pgvector_is_named_once_in_the_log_and_nothing_fails(pg_url, monkeypatch, caplog):
    monkeypatch.setattr(postgres_store, "_warned_pgvector", set())
    caplog.set_level(logging.WARNING, logger="knowledge.backends.postgres.store")
    version = _one(pg_url, "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
    for text in TEXTS[:2]:
        kb = await _open(pg_url)
        await kb.add_text(text)
        await kb.close()
    warned = [r.getMessage() for r in caplog.records if "pgvector" in r.getMessage()]
    if postgres_store.version_tuple(version) < postgres_store.PGVECTOR_MINIMUM:
        assert len(warned) == 1 and version in warned[0] and "0.8.4" in warned[0]
    else:
        assert warned == []


def test_versions_compare_as_numbers():
    assert (
        postgres_store.version_tuple("0.8.1") < postgres_store.PGVECTOR_MINIMUM <= postgres_store.version_tuple("0.8.4")
    )
    assert postgres_store.version_tuple("0.10.0") > postgres_store.PGVECTOR_MINIMUM
    assert postgres_store.version_tuple("") < postgres_store.PGVECTOR_MINIMUM
