"""PostgreSQL's search engines side by side, on a store built by ``bench/search.py --backend postgres
--db URL``: the lexical side as exact BM25 in SQL (the postings table) and as pg_textsearch's
``bm25`` index (block-max WAND); the dense side as pgvector's HNSW and pgvectorscale's
StreamingDiskANN, both against exact search.

    python bench/pg_engines.py --db URL [--queries 200] [--lexical] [--dense] [--churn ROUNDS]

``--lexical`` makes (once) a ``bm25_texts`` table (each passage's title and text, scope and day) with
a bm25 index, then times both lexical queries on the bench's questions and compares their top
candidates; ``--exhaustive N`` also scores N questions over every row (a sequential scan with the
index's own statistics) to check the index's top-k against its own exact ranking. ``--dense`` makes
(once) a ``bench_diskann`` table (the vectors as ``vector(384)``, which the diskann index needs: it
takes no expression) with a StreamingDiskANN index and times HNSW and DiskANN, with recall@10
against exact search on ``--exact`` questions. ``--churn R`` removes a share of the vectors and
writes them back ``R`` times (with VACUUM between, once with writes during the VACUUM), then
measures recall again: pgvector before 0.8.3 could corrupt an HNSW graph while vacuuming.

Progress on stderr; one JSON object as the last line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import LiteralString, cast

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search import GUILDS, log, percentile, questions, source_texts  # noqa: E402

from knowledge import retrieval  # noqa: E402
from knowledge.backends.postgres import open_store, textsearch  # noqa: E402
from knowledge.backends.postgres.lexical import BM25, POSTINGS, PostingsBm25  # noqa: E402
from knowledge.backends.postgres.search import filters as _filters  # noqa: E402
from knowledge.config import KnowledgeConfig  # noqa: E402
from knowledge.embed import SentenceTransformerEmbedder  # noqa: E402

BM25_INDEX = textsearch.INDEX
WINDOW_START = dt.date(2019, 3, 1).toordinal()


def own_sql(sql: str) -> LiteralString:
    """This benchmark's SQL, built from its own pieces and ``search.filters``; values are parameters."""
    return cast(LiteralString, sql)


def connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET jit = off")
    return conn


def relation_mb(conn: psycopg.Connection, name: str) -> float:
    row = conn.execute("SELECT pg_total_relation_size(to_regclass(%s))", [name]).fetchone()
    return round(int(row[0] or 0) / 2**20, 1) if row else 0.0


def index_mb(conn: psycopg.Connection, name: str) -> float:
    row = conn.execute("SELECT pg_relation_size(to_regclass(%s))", [name]).fetchone()
    return round(int(row[0] or 0) / 2**20, 1) if row else 0.0


# ---------------------------------------------------------------------------- lexical


def recorded_engine(url: str) -> str:
    """The lexical engine the database is kept for (a store from before migration 5: postings)."""
    with connect(url) as conn:
        present = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'corpus_stats' AND column_name = 'lexical'"
        ).fetchone()
        row = conn.execute("SELECT lexical FROM corpus_stats WHERE id = 1").fetchone() if present else None
    return str(row[0]) if row else POSTINGS


def keeping(url: str) -> KnowledgeConfig:
    """A configuration that opens the database without converting it: a postings store keeps its
    postings (the exact engine compared against), a bm25 store its index."""
    setting = "auto" if recorded_engine(url) == BM25 else "sql"
    return dataclasses.replace(KnowledgeConfig().with_db(url), pg_bm25=setting)


async def _migrated(url: str) -> None:
    store = await open_store(keeping(url))
    await store.close()


def setup_bm25(url: str) -> dict:
    """``bm25_texts`` filled and indexed as a conversion does (``engines``), beside the postings."""
    out: dict = {}
    asyncio.run(_migrated(url))
    with connect(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_textsearch")
        if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM bm25_texts)").fetchone() == (True,):
            t = time.perf_counter()
            conn.execute(
                f"INSERT INTO bm25_texts SELECT p.id, COALESCE(d.guild_id, 0), {textsearch.DAY_SQL},"
                f" {textsearch.BODY_SQL} FROM passages p JOIN documents d ON d.id = p.document_id"
            )
            out["bm25_fill_seconds"] = round(time.perf_counter() - t, 1)
        if conn.execute("SELECT to_regclass(%s)", [BM25_INDEX]).fetchone() == (None,):
            conn.execute("SET maintenance_work_mem = '1GB'")
            t = time.perf_counter()
            conn.execute(
                f"CREATE INDEX {BM25_INDEX} ON bm25_texts USING bm25 (body)"
                f" WITH (text_config = '{textsearch.TEXT_CONFIG}')"
            )
            out["bm25_index_seconds"] = round(time.perf_counter() - t, 1)
            conn.execute("VACUUM ANALYZE bm25_texts")
    return out


def sizes(url: str) -> dict:
    """Each table's size with its indexes, and the bm25 index alone."""
    with connect(url) as conn:
        out = {f"{t}_mb": relation_mb(conn, t) for t in ("bm25_texts", "postings", "term_stats", "passages", "vectors")}
        out["bm25_index_mb"] = index_mb(conn, BM25_INDEX)
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        out["database_mb"] = round(int(row[0]) / 2**20, 1) if row else 0.0
    return out


def textsearch_sql(where: str, *, score: bool = True) -> str:
    select = f"passage_id, body <@> to_bm25query(%s, '{BM25_INDEX}') AS score" if score else "passage_id"
    return (
        f"SELECT {select} FROM bm25_texts WHERE {where.replace('?', '%s')}"
        f" ORDER BY body <@> to_bm25query(%s, '{BM25_INDEX}') LIMIT %s"
    )


def query_text(q: str) -> str:
    return " ".join(retrieval.query_terms(q)[:32])


async def lexical_compare(url: str, qs: list[str], scopes: list[int | None], exhaustive: int) -> dict:
    store = await open_store(keeping(url))
    has_postings = store.lexical_engine == POSTINGS
    index = PostingsBm25(store.connection)  # the exact engine, beside pg_textsearch's
    n = retrieval.CANDIDATES
    parts: dict[str, list[float]] = {"sql_bm25": [], "textsearch": [], "textsearch_noscore": []}
    overlap10, overlap100, returned = [], [], []
    exact_recall, exact_score_err = [], []
    conn = connect(url)
    try:
        for i, (q, scope) in enumerate(zip(qs, scopes, strict=True)):
            where, args = _filters(scope, None, None)
            terms = list(dict.fromkeys(retrieval.search_tokens(q)))
            sql_hits: list[tuple[int, float]] = []
            if has_postings:
                t = time.perf_counter()
                view = await index.statistics(terms)
                sql_hits = await index.rank(view, terms, "", n, where, args) if terms else []
                parts["sql_bm25"].append((time.perf_counter() - t) * 1000)
            text = query_text(q)
            t = time.perf_counter()
            rows = (
                conn.execute(own_sql(textsearch_sql(where)), [text, *args, text, n], prepare=False).fetchall()
                if text
                else []
            )
            parts["textsearch"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            conn.execute(
                own_sql(textsearch_sql(where, score=False)), [*args, text, n], prepare=False
            ).fetchall() if text else []
            parts["textsearch_noscore"].append((time.perf_counter() - t) * 1000)
            # Date windows (date words in a question): a week, a month, a year, inside 2019-2024.
            start = WINDOW_START + (i * 97) % (5 * 365)
            for name, days in (("week", 7), ("month", 30), ("year", 365)):
                w_where, w_args = _filters(scope, dt.date.fromordinal(start), dt.date.fromordinal(start + days))
                t = time.perf_counter()
                if text:
                    conn.execute(own_sql(textsearch_sql(w_where)), [text, *w_args, text, n], prepare=False).fetchall()
                parts.setdefault(f"textsearch_{name}", []).append((time.perf_counter() - t) * 1000)
                if has_postings and terms:
                    t = time.perf_counter()
                    await index.rank(await index.statistics(terms), terms, "", n, w_where, w_args)
                    parts.setdefault(f"sql_bm25_{name}", []).append((time.perf_counter() - t) * 1000)
            ts_hits = [(int(pid), -float(s)) for pid, s in rows if s < 0]
            returned.append(len(ts_hits))
            a10, b10 = {p for p, _ in sql_hits[:10]}, {p for p, _ in ts_hits[:10]}
            a100, b100 = {p for p, _ in sql_hits}, {p for p, _ in ts_hits}
            if a10:
                overlap10.append(len(a10 & b10) / len(a10))
            if a100:
                overlap100.append(len(a100 & b100) / len(a100))
            if i < exhaustive and text:
                # The index's own ranking over every row: a sequential scan scoring each with the
                # index's statistics. What BMW's pruning must return.
                with conn.transaction():
                    conn.execute("SET LOCAL enable_indexscan = off")
                    conn.execute("SET LOCAL enable_bitmapscan = off")
                    exact = conn.execute(
                        own_sql(
                            f"SELECT passage_id, s FROM (SELECT passage_id, body <@> to_bm25query(%s, '{BM25_INDEX}')"
                            f" AS s FROM bm25_texts WHERE {where.replace('?', '%s')}) x WHERE s < 0 ORDER BY s LIMIT %s"
                        ),
                        [text, *args, n],
                    ).fetchall()
                if exact:
                    want = {int(p) for p, _ in exact}
                    exact_recall.append(len(want & b100) / len(want))
                    got = dict(ts_hits)
                    errs = [abs(got[int(p)] + float(s)) for p, s in exact if int(p) in got]
                    exact_score_err.append(max(errs) if errs else 0.0)
                log(f"  exhaustive {i + 1}/{exhaustive}: recall {exact_recall[-1] if exact else None}")
    finally:
        conn.close()
        await store.close()
    parts = {k: v for k, v in parts.items() if v}  # the SQL engine's only where there are postings
    return {
        **{f"{k}_ms_p50": percentile(v, 50) for k, v in parts.items()},
        **{f"{k}_ms_p95": percentile(v, 95) for k, v in parts.items()},
        "textsearch_vs_sql_overlap_at_10": round(float(np.mean(overlap10)), 3) if overlap10 else None,
        "textsearch_vs_sql_overlap_at_100": round(float(np.mean(overlap100)), 3) if overlap100 else None,
        "textsearch_returned_mean": round(float(np.mean(returned)), 1) if returned else None,
        "textsearch_vs_own_exact_recall_at_100": round(float(np.mean(exact_recall)), 4) if exact_recall else None,
        "textsearch_vs_own_exact_min_recall": round(float(np.min(exact_recall)), 4) if exact_recall else None,
        "textsearch_vs_own_exact_max_score_error": float(np.max(exact_score_err)) if exact_score_err else None,
    }


# ---------------------------------------------------------------------------- dense


def setup_diskann(url: str, dim: int) -> dict:
    out: dict = {}
    with connect(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vectorscale CASCADE")
        if conn.execute("SELECT to_regclass('bench_diskann')").fetchone() == (None,):
            t = time.perf_counter()
            conn.execute(
                own_sql(
                    f"CREATE TABLE bench_diskann AS SELECT passage_id, scope, day, vector::vector({dim}) AS embedding"
                    f" FROM vectors WHERE dim = {dim}"
                )
            )
            conn.execute("ALTER TABLE bench_diskann ADD PRIMARY KEY (passage_id)")
            out["diskann_fill_seconds"] = round(time.perf_counter() - t, 1)
        if conn.execute("SELECT to_regclass('bench_diskann_idx')").fetchone() == (None,):
            conn.execute("SET maintenance_work_mem = '2GB'")
            t = time.perf_counter()
            conn.execute("CREATE INDEX bench_diskann_idx ON bench_diskann USING diskann (embedding vector_cosine_ops)")
            out["diskann_index_seconds"] = round(time.perf_counter() - t, 1)
            conn.execute("VACUUM ANALYZE bench_diskann")
        out["diskann_index_mb"] = index_mb(conn, "bench_diskann_idx")
        out["hnsw_index_mb"] = index_mb(conn, f"vectors_hnsw_{dim}")
    return out


def hnsw_sql(dim: int, where: str) -> str:
    return (
        f"SELECT passage_id, vector::vector({dim}) <=> %s::vector({dim}) AS distance FROM vectors"
        f" WHERE dim = {dim} AND {where.replace('?', '%s')}"
        f" ORDER BY vector::vector({dim}) <=> %s::vector({dim}) LIMIT %s"
    )


def diskann_sql(dim: int, where: str) -> str:
    return (
        f"SELECT passage_id, embedding <=> %s::vector({dim}) AS distance FROM bench_diskann"
        f" WHERE {where.replace('?', '%s')} ORDER BY embedding <=> %s::vector({dim}) LIMIT %s"
    )


def exact_top(conn: psycopg.Connection, table_sql: str, vec: np.ndarray, args: list, k: int) -> list[tuple[int, float]]:
    """The exact ``k`` nearest (id, distance): a sequential scan computing every distance."""
    with conn.transaction():
        conn.execute("SET LOCAL enable_indexscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        rows = conn.execute(own_sql(table_sql), [vec, *args, vec, k]).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def recalls(exact: list[tuple[int, float]], found: list[tuple[int, float]]) -> tuple[float, float]:
    """recall@10 by id, and by distance: the share of the 10 found that are no farther than the
    exact 10th (the bench's vectors are mixes of 400 stories, so many lie at nearly one distance
    and which of them make the exact 10 is a tie-break)."""
    if not exact:
        return 1.0, 1.0
    top = sorted(found, key=lambda r: r[1])[:10]
    by_id = len({p for p, _ in exact} & {p for p, _ in top}) / len(exact)
    by_distance = sum(d <= exact[-1][1] + 1e-6 for _, d in top) / len(exact)
    return by_id, by_distance


def dense_compare(
    url: str, vectors: list[np.ndarray], scopes: list[int | None], n_exact: int, *, diskann: bool
) -> dict:
    dim = int(vectors[0].shape[0])
    n = retrieval.CANDIDATES
    conn = connect(url)
    register_vector(conn)
    conn.execute("SET hnsw.ef_search = 200")
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    if diskann:
        conn.execute("SET diskann.query_rescore = 200")
    names = ("hnsw", "diskann") if diskann else ("hnsw",)
    times: dict[str, list[float]] = {name: [] for name in names}
    recall: dict[str, list[float]] = {name: [] for name in names}
    recall_distance: dict[str, list[float]] = {name: [] for name in names}
    try:
        for i, (vec, scope) in enumerate(zip(vectors, scopes, strict=True)):
            where, args = _filters(scope, None, None)
            found: dict[str, list[tuple[int, float]]] = {}
            for name in names:
                sql = hnsw_sql(dim, where) if name == "hnsw" else diskann_sql(dim, where)
                t = time.perf_counter()
                rows = conn.execute(own_sql(sql), [vec, *args, vec, n]).fetchall()
                times[name].append((time.perf_counter() - t) * 1000)
                found[name] = [(int(r[0]), float(r[1])) for r in rows]
            if i < n_exact:
                exact = exact_top(conn, hnsw_sql(dim, where), vec, args, 10)
                for name in names:
                    by_id, by_distance = recalls(exact, found[name])
                    recall[name].append(by_id)
                    recall_distance[name].append(by_distance)
                log(f"  exact {i + 1}/{n_exact}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in recall.items()))
    finally:
        conn.close()
    out = {}
    for name in names:
        out[f"{name}_ms_p50"] = percentile(times[name], 50)
        out[f"{name}_ms_p95"] = percentile(times[name], 95)
        if recall[name]:
            out[f"{name}_recall_at_10"] = round(float(np.mean(recall[name])), 4)
            out[f"{name}_recall_at_10_min"] = round(float(np.min(recall[name])), 2)
            out[f"{name}_distance_recall_at_10"] = round(float(np.mean(recall_distance[name])), 4)
            out[f"{name}_distance_recall_at_10_min"] = round(float(np.min(recall_distance[name])), 2)
    return out


def churn(url: str, rounds: int, share: float, seed: int = 7) -> dict:
    """Remove ``share`` of the vectors (and the DiskANN copy) and write them back, ``rounds`` times,
    with VACUUM after each removal; in odd rounds rows are written back while VACUUM runs."""
    rng = random.Random(seed)
    conn = connect(url)
    has_diskann = conn.execute("SELECT to_regclass('bench_diskann_idx') IS NOT NULL").fetchone() == (True,)
    ids = [int(r[0]) for r in conn.execute("SELECT passage_id FROM vectors").fetchall()]
    started = time.perf_counter()
    for r in range(rounds):
        gone = rng.sample(ids, int(len(ids) * share))
        conn.execute("DROP TABLE IF EXISTS churn_vectors")
        conn.execute("CREATE TABLE churn_vectors AS SELECT * FROM vectors WHERE passage_id = ANY(%s)", [gone])
        conn.execute("DELETE FROM vectors WHERE passage_id = ANY(%s)", [gone])
        if has_diskann:
            conn.execute("DROP TABLE IF EXISTS churn_diskann")
            conn.execute("CREATE TABLE churn_diskann AS SELECT * FROM bench_diskann WHERE passage_id = ANY(%s)", [gone])
            conn.execute("DELETE FROM bench_diskann WHERE passage_id = ANY(%s)", [gone])
        if r % 2 == 0:
            conn.execute("VACUUM vectors")
            if has_diskann:
                conn.execute("VACUUM bench_diskann")
            back(conn, has_diskann)
        else:
            # writes while VACUUM runs (pgvector 0.8.4 fixed a race between the two)
            vacuum = threading.Thread(target=_vacuum, args=(url, has_diskann))
            vacuum.start()
            back(conn, has_diskann)
            vacuum.join()
        log(f"  churn round {r + 1}/{rounds}: {len(gone)} rows out and back, {time.perf_counter() - started:.0f} s")
    conn.execute("DROP TABLE IF EXISTS churn_vectors")
    conn.execute("DROP TABLE IF EXISTS churn_diskann")
    conn.execute("VACUUM ANALYZE vectors")
    conn.close()
    return {"churn_rounds": rounds, "churn_share": share, "churn_seconds": round(time.perf_counter() - started, 1)}


def back(conn: psycopg.Connection, has_diskann: bool) -> None:
    # in slices, as documents come back one by one
    rows = [int(r[0]) for r in conn.execute("SELECT passage_id FROM churn_vectors").fetchall()]
    for i in range(0, len(rows), 2000):
        chunk = rows[i : i + 2000]
        conn.execute("INSERT INTO vectors SELECT * FROM churn_vectors WHERE passage_id = ANY(%s)", [chunk])
        if has_diskann:
            conn.execute("INSERT INTO bench_diskann SELECT * FROM churn_diskann WHERE passage_id = ANY(%s)", [chunk])


def _vacuum(url: str, has_diskann: bool) -> None:
    with connect(url) as conn:
        conn.execute("VACUUM vectors")
        if has_diskann:
            conn.execute("VACUUM bench_diskann")


# ---------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--lexical", action="store_true")
    ap.add_argument("--exhaustive", type=int, default=0)
    ap.add_argument("--dense", action="store_true")
    ap.add_argument("--no-diskann", action="store_true")
    ap.add_argument("--exact", type=int, default=50)
    ap.add_argument("--churn", type=int, default=0)
    ap.add_argument("--churn-share", type=float, default=0.2)
    args = ap.parse_args()
    texts, _ = source_texts()
    qs = questions(args.queries, texts)
    scopes: list[int | None] = [None if i % 2 == 0 else GUILDS[i % len(GUILDS)] for i in range(len(qs))]
    result: dict = {"bench": "pg_engines", "queries": len(qs)}
    with connect(args.db) as conn:
        row = conn.execute("SELECT passages FROM corpus_stats WHERE id = 1").fetchone()
        result["passages"] = int(row[0]) if row else 0
        result["extensions"] = dict(conn.execute("SELECT extname, extversion FROM pg_extension").fetchall())
    if args.lexical:
        log("lexical: bm25 index ...")
        result["lexical"] = recorded_engine(args.db)
        if result["lexical"] == POSTINGS:  # add the bm25 table and index beside the postings
            result.update(setup_bm25(args.db))
        result.update(sizes(args.db))
        log(f"  {result}")
        result.update(asyncio.run(lexical_compare(args.db, qs, scopes, args.exhaustive)))
        log(f"  {result}")
    if args.dense or args.churn:
        config = KnowledgeConfig()
        embedder = SentenceTransformerEmbedder(config.model, query_threads=1)
        vectors = [np.asarray(v, dtype=np.float32) for v in embedder.encode(qs)]
        diskann = not args.no_diskann
        if diskann:
            log("dense: diskann index ...")
            result.update(setup_diskann(args.db, int(vectors[0].shape[0])))
            log(f"  {result}")
        if args.dense:
            result.update(dense_compare(args.db, vectors, scopes, args.exact, diskann=diskann))
        if args.churn:
            result.update(churn(args.db, args.churn, args.churn_share))
            after = dense_compare(args.db, vectors, scopes, args.exact, diskann=diskann)
            result.update({f"after_churn_{k}": v for k, v in after.items()})
    result["load_average"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
