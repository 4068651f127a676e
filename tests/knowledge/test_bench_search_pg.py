"""``bench/search.py --backend postgres``: the script's plumbing (with a hashing embedder, so it runs
in seconds), the bulk build leaving the schema as the migrations made it (either lexical engine),
and PostgreSQL's exact BM25 in SQL ranking as the in-memory index does on the bench's corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest

from knowledge.backends.postgres import PgSearch, open_store
from knowledge.backends.postgres.search import filters
from knowledge.backends.sqlite.index import LexicalIndex
from knowledge.embed import HashingEmbedder
from knowledge.retrieval import search_tokens

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import search_pg  # noqa: E402  # pyright: ignore[reportMissingImports]

# What bench/search.py prints for SQLite (its measure, its build and its main).
SQLITE_KEYS = {
    "bench",
    "passages",
    "documents",
    "build_seconds",
    "text_source",
    "base_vectors",
    "queries",
    "search_ms_p50",
    "search_ms_p95",
    "search_ms_p50_unscoped",
    "search_ms_p50_guild",
    *(f"{part}_ms_{q}" for part in ("embed", "dense", "bm25", "fts5_bm25") for q in ("p50", "p95")),
    "open_seconds",
    "rss_mb",
    "load_average",
}


def test_postgres_bench_prints_the_sqlite_keys_and_its_own() -> None:
    # No --db: the script starts a private server, builds 300 passages, measures and stops it.
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "search.py"), "--backend", "postgres"]
        + ["--passages", "300", "--queries", "5", "--base", "20", "--hashing"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert SQLITE_KEYS | {"backend", "open_seconds", "database_mb"} <= result.keys()
    assert result["backend"] == "postgres" and result["lexical"] == "bm25"
    assert result["passages"] == 300 and result["documents"] == 38 and result["queries"] == 5
    assert result["build_seconds"] > 0 and result["database_mb"] > 0
    assert result["search_ms_p50"] > 0 and result["dense_ms_p50"] > 0 and result["bm25_ms_p50"] > 0


def _schema(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        indexes = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename IN ('vectors', 'postings', 'bm25_texts')"
        ).fetchall()
        keys = conn.execute(
            "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid IN ('vectors'::regclass, 'postings'::regclass, 'bm25_texts'::regclass)"
            " AND contype IN ('p', 'f', 'u')"
        ).fetchall()
    return {r[0] for r in indexes + keys}


@pytest.mark.parametrize("bm25", ["auto", "sql"])
async def test_bulk_build_leaves_the_schema_of_the_migrations(pg_url: str, bm25: str) -> None:
    # The schema as the store makes it: the migrations, the lexical engine's index and the HNSW
    # index for the vectors' size.
    reference = await open_store(search_pg.config_for(pg_url, bm25))
    await reference.ensure_vector_index(HashingEmbedder().dim)
    await reference.close()
    expected = _schema(pg_url)
    assert any("INCLUDE (tf, length, scope, day)" in d for d in expected)
    assert any("USING bm25" in d for d in expected) == (bm25 == "auto")
    with psycopg.connect(pg_url, autocommit=True) as conn:  # empty again, for the build
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")

    built = await search_pg.build_pg(pg_url, 120, 10, embedder=HashingEmbedder(), bm25=bm25)

    assert built["passages"] == 120 and built["documents"] == 15
    assert built["lexical"] == ("bm25" if bm25 == "auto" else "postings")
    assert _schema(pg_url) == expected
    assert search_pg.stored_passages(pg_url) == 120


async def test_postgres_bm25_ranks_as_the_in_memory_index(pg_url: str) -> None:
    await search_pg.build_pg(pg_url, 400, 20, embedder=HashingEmbedder(), bm25="sql")
    store = await open_store(search_pg.config_for(pg_url, "sql"))
    try:
        async with store.connection.execute(
            "SELECT p.id, d.title, p.text, COALESCE(d.guild_id, 0) AS scope FROM passages p"
            " JOIN documents d ON d.id = p.document_id ORDER BY p.id"
        ) as cur:
            rows = list(await cur.fetchall())
        memory = LexicalIndex()
        memory.add([(r["title"], r["text"]) for r in rows])
        ids = [r["id"] for r in rows]
        scopes = np.array([r["scope"] for r in rows])
        index = PgSearch(store, HashingEmbedder().model_id).lexical
        queries = [" ".join(r["text"].split()[3:9]) for r in rows[::37]]
        guild = int(next(s for s in scopes if s))
        for query in queries:
            terms = list(dict.fromkeys(search_tokens(query)))
            assert terms
            for scope in (None, guild):
                keep = np.ones(len(rows), bool) if scope is None else np.isin(scopes, [0, scope])
                expected = [(ids[row], score) for row, score in memory.search(terms, keep, 20)]
                where, args = filters(scope, None, None)
                view = await index.statistics(terms)
                got = await index.rank(view, terms, query, 20, where, args)
                assert view.frequencies == memory.document_frequencies(terms)
                assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-5)
                # the same passages, except where two scores tie within float32 rounding
                clear = {p for p, s in expected if s > expected[-1][1] * (1 + 1e-5)}
                assert clear <= {p for p, _ in got}
    finally:
        await store.close()
