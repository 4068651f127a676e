"""PostgreSQL's ``term_stats``: each term's document frequency, kept by every write instead of
counted from the postings at each question, with either lexical engine (pg_textsearch's, which
keeps no postings, or the postings). It must equal the passages' own terms counted again (and,
with postings, ``COUNT(*) ... GROUP BY term`` over them) after every kind of write (adds, batches,
replaced and removed documents, two processes at once), and its migration fills it from the
postings of an existing database."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from knowledge.backends import lexical
from knowledge.backends.postgres import pg_search
from knowledge.backends.postgres.connection import PgDatabase
from knowledge.backends.postgres.schema import PG_MIGRATIONS
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase, TextItem

TEXTS = [
    "Tram line approved\n\nThe council approved the eastern tram line on Thursday. "
    + "It was a long debate. " * 20
    + "\n\nWork on the tram depot starts in spring, the council said. "
    + "Builders are ready. " * 30,
    "Harbour strike ends\n\nDock workers accepted a pay offer and the harbour cranes moved again.",
    "Glacier retreat\n\nThe glacier lost forty metres of ice this summer, surveyors said.",
    "Council budget\n\nThe council passed its budget; the harbour and the tram get more money.",
]


async def _open(url: str, bm25: str = "auto") -> KnowledgeBase:
    config = dataclasses.replace(KnowledgeConfig().with_db(url), pg_bm25=bm25)
    return await KnowledgeBase.open(config, embedder=HashingEmbedder())


@pytest.fixture(params=["postgres", "postgres-sql"])
def url(request: pytest.FixtureRequest) -> str:
    """An empty database kept with pg_textsearch's engine, or with postings (no extension there)."""
    return request.getfixturevalue("pg_url" if request.param == "postgres" else "pg_url_without_bm25")


def _postings_counted(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT term, COUNT(*) FROM postings GROUP BY term").fetchall())


def _counted(url: str) -> dict[str, int]:
    """Each term's passages, counted from the stored title and text (what either engine must keep),
    checked against the postings where the database keeps them."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id"
        ).fetchall()
        engine = conn.execute("SELECT lexical FROM corpus_stats WHERE id = 1").fetchone()
    counted = dict(Counter(t for counts, _ in lexical.tokenise([(a, b) for a, b in rows]) for t in counts))
    assert _postings_counted(url) == (counted if engine == ("postings",) else {})
    return counted


def _kept(url: str) -> dict[str, int]:
    """term_stats, a term at 0 being the same as no row."""
    with psycopg.connect(url) as conn:
        return {t: int(df) for t, df in conn.execute("SELECT term, df FROM term_stats").fetchall() if df != 0}


def _assert_exact(url: str) -> dict[str, int]:
    counted = _counted(url)
    assert _kept(url) == counted
    return counted


async def test_term_stats_follow_adds_batches_replacements_and_removals(url, tmp_path: Path):
    pg_url = url
    kb = await _open(pg_url)
    try:
        first = await kb.add_text(TEXTS[0])
        assert _assert_exact(pg_url)["tram"] == 2  # two passages of one document hold it

        batch = await kb.add_texts([TextItem(t, published=dt.date(2024, 3, i + 1)) for i, t in enumerate(TEXTS[1:])])
        assert not batch.errors and len(batch.added) == 3
        assert _assert_exact(pg_url)["tram"] == 3

        note = tmp_path / "notes" / "ferry.md"
        note.parent.mkdir()
        note.write_text("# Night ferry\n\nThe night ferry returns in May, the harbour office said.\n")
        await kb.index_paths([note.parent])
        assert _assert_exact(pg_url)["ferri"] == 1
        note.write_text("# Night bus\n\nThe night bus replaces the tram on Sundays, the council said.\n")
        report = await kb.index_paths([note.parent])
        assert len(report.updated) == 1
        counted = _assert_exact(pg_url)
        assert "ferri" not in counted and counted["tram"] == 4

        # What search reads: the same frequencies as the postings give, and 0 for a term in none.
        index = pg_search(kb.index).lexical
        terms = ["tram", "harbour", "ferri", "nowher"]
        expected = {t: counted.get(t, 0) for t in terms}
        assert (await index.statistics(terms)).frequencies == expected
        assert await index.document_frequencies(terms) == expected

        await kb.remove_document(first.id)
        assert _assert_exact(pg_url)["tram"] == 2
        for doc in await kb.list_documents():
            await kb.remove_document(doc.id)
        assert _counted(pg_url) == {}
        with psycopg.connect(pg_url) as conn:  # terms in no passage leave no rows behind
            assert conn.execute("SELECT COUNT(*) FROM term_stats").fetchone() == (0,)
        assert (await index.statistics(terms)).frequencies == dict.fromkeys(terms, 0)
    finally:
        await kb.close()


async def test_the_migration_fills_term_stats_from_existing_postings(pg_url):
    new = next(i for i, script in enumerate(PG_MIGRATIONS) if "CREATE TABLE term_stats" in script)

    class OldStore(PgDatabase):  # that version's store: its migrations, no lexical engine to settle
        migrations = PG_MIGRATIONS[:new]

    old = await OldStore.open(pg_url)
    await old.close()
    # Postings written at the version before, by SQL: that version's store knows no term_stats.
    with psycopg.connect(pg_url) as conn:
        for doc, passages in enumerate([[{"tram": 2, "line": 1}, {"tram": 1}], [{"harbour": 1, "tram": 1}]], 1):
            [(doc_id,)] = conn.execute(
                "INSERT INTO documents (title, origin, content_hash, text, words, added_at)"
                " VALUES ('t', 'o', %s, 'x', 1, '2024-01-01') RETURNING id",
                [f"h{doc}"],
            ).fetchall()
            for counts in passages:
                [(pid,)] = conn.execute(
                    "INSERT INTO passages (document_id, ordinal, paragraph_index, char_start, char_end, text,"
                    " text_hash, length) VALUES (%s, 0, 0, 0, 1, 'x', 'h', 3) RETURNING id",
                    [doc_id],
                ).fetchall()
                for term, tf in counts.items():
                    conn.execute(
                        "INSERT INTO postings (term, passage_id, tf, length, scope, day) VALUES (%s, %s, %s, 3, 0, 0)",
                        [term, pid, tf],
                    )
        assert conn.execute("SELECT to_regclass('term_stats')").fetchone() == (None,)

    kb = await _open(pg_url, bm25="sql")  # migrates to the current version (postings kept)
    try:
        assert _kept(pg_url) == _postings_counted(pg_url) == {"tram": 3, "line": 1, "harbour": 1}
        index = pg_search(kb.index).lexical
        assert await index.document_frequencies(["tram", "harbour", "glacier"]) == {
            "tram": 3,
            "harbour": 1,
            "glacier": 0,
        }
        await kb.add_text(TEXTS[0])  # and kept from there on
        assert _kept(pg_url) == _postings_counted(pg_url)
    finally:
        await kb.close()


async def test_two_processes_writing_at_once_keep_term_stats_exact(url):
    pg_url = url
    a, b = await _open(pg_url), await _open(pg_url)
    try:
        # Overlapping terms in every document; batches hold several documents in one transaction.
        def items(who: str, round_: int) -> list[TextItem]:
            return [
                TextItem(f"{who} {round_} {i}\n\n{text}\n\nFiled by {who} in round {round_}, item {i}.")
                for i, text in enumerate(TEXTS)
            ]

        async def work(kb: KnowledgeBase, who: str) -> None:
            for round_ in range(4):
                report = await kb.add_texts(items(who, round_))
                assert not report.errors, report.errors
                single = await kb.add_text(f"{who} single {round_}\n\nThe tram and the harbour, once more.")
                if round_ % 2:
                    await kb.remove_document(single.id)
                    await kb.remove_document(report.added[0].id)

        # Several writers in each process too (each on a connection of its own pool).
        await asyncio.gather(*(work(kb, f"{name}{j}") for kb, name in ((a, "alpha"), (b, "beta")) for j in range(3)))
        counted = _assert_exact(pg_url)
        assert counted["tram"] > 0 and await a.count_documents() == 6 * (4 * 5 - 2 * 2)
    finally:
        await a.close()
        await b.close()
