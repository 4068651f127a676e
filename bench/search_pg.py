"""``bench/search.py --backend postgres``: the same corpus and questions over PostgreSQL with pgvector.

The store is built through ``PgStore.insert_document`` (documents, passages, vectors, the lexical
engine's rows: pg_textsearch's or BM25 postings, ``--bm25``) like any document, except that the
HNSW and bm25 indexes are made once after the load instead of row by row (what a bulk migration
would do, and ~10 times faster here); the questions then go through ``KnowledgeBase.search`` as for
SQLite. Without ``--db`` a private PostgreSQL (the ``pgserver`` wheel) is started in a temporary
folder and stopped at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import LiteralString, cast

import numpy as np
import psycopg
from psycopg import sql
from search import build_info, generate, log, percentile, time_searches

from knowledge import retrieval
from knowledge.backends.postgres import open_store, pg_search, pg_store
from knowledge.backends.postgres.search import filters
from knowledge.backends.postgres.textsearch import INDEX
from knowledge.config import KnowledgeConfig
from knowledge.embed import Embedder, SentenceTransformerEmbedder
from knowledge.service import KnowledgeBase


@contextlib.contextmanager
def private_server(folder: Path) -> Iterator[str]:
    """A PostgreSQL server of its own in ``folder`` with a fresh database; yields the database URL."""
    from pgserver import get_server  # pyright: ignore[reportPrivateImportUsage]

    server = get_server(folder, cleanup_mode="stop")
    try:
        admin = server.get_uri()
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield (
            admin.replace("/postgres?", f"/{name}?", 1)
            if "/postgres?" in admin
            else f"{admin.rsplit('/', 1)[0]}/{name}"
        )
    finally:
        server.cleanup()


def stored_passages(url: str) -> int:
    """Passages already in the database at ``url`` (0 for an empty one): a second run reuses them."""
    with psycopg.connect(url, autocommit=True) as conn:
        present = conn.execute("SELECT to_regclass('corpus_stats') IS NOT NULL").fetchone()
        if not (present and present[0]):
            return 0
        row = conn.execute("SELECT passages FROM corpus_stats WHERE id = 1").fetchone()
        return int(row[0]) if row else 0


def database_mb(url: str) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round(int(row[0]) / 2**20, 1) if row else 0.0


def config_for(url: str, bm25: str = "auto") -> KnowledgeConfig:
    return dataclasses.replace(KnowledgeConfig().with_db(url), pg_bm25=bm25)


async def build_pg(
    url: str, n: int, base: int, seed: int = 0, *, embedder: Embedder | None = None, bm25: str = "auto"
) -> dict:
    """Write ``n`` passages into the (empty) database at ``url``; returns what was built."""
    started = time.perf_counter()
    store = pg_store(await open_store(config_for(url, bm25)))
    lexical = store.lexical_engine
    written = docs = 0
    deferred: list[tuple[str, str]] = []
    try:
        for doc, passages, vectors in generate(n, base, seed, embedder):
            await store.insert_document(doc, passages, vectors, build_info["model"])
            if not deferred:  # after the first document, which makes the HNSW index
                deferred = defer_indexes(url)
            written += len(passages)
            docs += 1
            if docs % 2000 == 0:
                log(f"  {written} passages, {time.perf_counter() - started:.0f} s")
    finally:
        await store.close()
    loaded = time.perf_counter()
    log(f"loaded in {loaded - started:.0f} s; making the indexes ...")
    timings = restore_indexes(url, deferred)
    with psycopg.connect(url, autocommit=True) as conn:
        # What autovacuum would do in time: statistics for the planner, the visibility map for
        # index-only scans.
        conn.execute("VACUUM ANALYZE")
    return {
        "passages": written,
        "documents": docs,
        "lexical": lexical,
        "build_seconds": round(time.perf_counter() - started, 1),
        "load_seconds": round(loaded - started, 1),
        "hnsw_seconds": round(sum(t for name, t in timings.items() if "hnsw" in name), 1),
        "bm25_index_seconds": round(timings.get(INDEX, 0.0), 1),
        "index_seconds": round(sum(timings.values()), 1),
        "text_source": build_info["text_source"],
        "base_vectors": build_info["base_vectors"],
    }


# The tables a document writes a row per passage or per term into: their indexes and keys are
# dropped for the load and made again from their own definitions, as a bulk load does (an index
# built once is ~10 times faster than one grown row by row, and the same index).
_BULK_TABLES = ("vectors", "postings", "bm25_texts")


def defer_indexes(url: str) -> list[tuple[str, str]]:
    """Drop the bulk tables' keys and indexes; returns (name, statement) to make them again."""
    with psycopg.connect(url, autocommit=True) as conn:
        constraints = conn.execute(
            "SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid), c.contype"
            " FROM pg_constraint c WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('p', 'f', 'u')"
            " ORDER BY c.contype DESC",  # foreign keys ('f') after the keys they might need
            [list(_BULK_TABLES)],
        ).fetchall()
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            [list(_BULK_TABLES)],
        ).fetchall()
        again = [(name, definition) for name, definition in indexes]
        again += [
            (name, f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            for name, table, definition, _ in sorted(constraints, key=lambda c: c[3] == "f")
        ]
        for name, table, _, _ in sorted(constraints, key=lambda c: c[3] != "f"):
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name))
            )
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return again


def restore_indexes(url: str, statements: list[tuple[str, str]]) -> dict[str, float]:
    """Run ``defer_indexes``' statements; returns the seconds each took."""
    timings: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        # For this session's index builds only (an HNSW graph built in memory is much faster).
        conn.execute("SET maintenance_work_mem = '2GB'")
        for name, statement in statements:
            t = time.perf_counter()
            # The definitions come from the catalogue (pg_get_indexdef, pg_get_constraintdef).
            conn.execute(cast(LiteralString, statement))
            timings[name] = time.perf_counter() - t
            log(f"  {name}: {timings[name]:.0f} s")
    return timings


async def measure_pg(url: str, n_queries: int, embedder: Embedder | None = None, bm25: str = "auto") -> dict:
    """``measure`` over PostgreSQL: ``kb.search`` end to end, then each side's query on its own."""
    config = config_for(url, bm25)
    if embedder is None:
        embedder = SentenceTransformerEmbedder(
            config.model, query_threads=config.query_threads, index_threads=config.index_threads
        )
    started = time.perf_counter()
    kb = await KnowledgeBase.open(config, embedder=embedder)
    try:
        open_s = time.perf_counter() - started
        index = pg_search(kb.index)
        passages = await kb.store.count_passages()
        qs, scopes, searched = await time_searches(kb, n_queries)

        # Each side alone: dense = pgvector's HNSW query; stats = the passage count, total length
        # and document frequencies (SQLite holds them in memory) and the lexical engine; bm25 = the
        # engine's query given those (pg_textsearch's index, or the postings). fts5_bm25 has no
        # PostgreSQL counterpart on the query path: null.
        parts: dict[str, list[float]] = {"embed": [], "dense": [], "bm25": [], "stats": []}
        for q, scope in zip(qs, scopes, strict=True):
            t = time.perf_counter()
            vector = np.asarray(embedder.encode([q])[0], dtype=np.float32)
            parts["embed"].append((time.perf_counter() - t) * 1000)
            where, args = filters(scope, None, None)
            t = time.perf_counter()
            await index.dense(vector, retrieval.CANDIDATES, where, args)
            parts["dense"].append((time.perf_counter() - t) * 1000)
            terms = list(dict.fromkeys(retrieval.search_tokens(q)))
            t = time.perf_counter()
            view = await index.lexical.statistics(terms)
            parts["stats"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await index.lexical.rank(view, terms, retrieval.search_words(q), retrieval.CANDIDATES, where, args)
            parts["bm25"].append((time.perf_counter() - t) * 1000)
    finally:
        await kb.close()
    return {
        "backend": "postgres",
        "lexical": index.store.lexical_engine,
        "passages": passages,
        "queries": len(qs),
        **searched,
        **{f"{name}_ms_p50": percentile(v, 50) for name, v in parts.items()},
        **{f"{name}_ms_p95": percentile(v, 95) for name, v in parts.items()},
        "fts5_bm25_ms_p50": None,
        "fts5_bm25_ms_p95": None,
        "open_seconds": round(open_s, 2),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "database_mb": database_mb(url),
    }
