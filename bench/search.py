"""Search latency and memory at scale: ``kb.search`` (query embedding by the real model, dense cosine,
FTS5 BM25, fusion, loading the hits) over a store of N passages.

    .venv/bin/python bench/search.py --passages 100000 [--queries 200] [--db PATH]

The store is built in a child process (so its memory doesn't count): passages of realistic text,
sentences recombined from the seeds and, when present at run time, the evaluation corpora under
``../shared/eval`` (read, never copied); vectors made *without* running the model on every passage:
a few hundred real passage vectors, perturbed and normalised; written through
``Store.insert_document``, ~8 passages per document, dates over 2019-2024, a fifth in three guilds.
The child opens a ``KnowledgeBase`` once (``first_open_seconds``: building the index and saving
its cache beside the file, see ``knowledge.backends.sqlite.index_cache``). Then this process opens it again
(``open_seconds``: a restart, mapping the cache) and times ~200 real questions (half unscoped as
from the CLI, half scoped to a guild as from the bot) through ``kb.search`` and then through
``kb.ask`` (the whole answer path: ``ask_ms_p50``/``ask_ms_p95``). With ``--db`` an existing store is
reused (without a cache beside it, its first run's ``open_seconds`` is a build).

Prints one JSON object as its last line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge import ingest, retrieval  # noqa: E402
from knowledge.backends import engine_of  # noqa: E402
from knowledge.backends.sqlite import SqliteStore, memory_index, sqlite_store  # noqa: E402
from knowledge.chunking import embedding_key  # noqa: E402
from knowledge.config import KnowledgeConfig  # noqa: E402
from knowledge.embed import Embedder, SentenceTransformerEmbedder  # noqa: E402
from knowledge.evaluation.beir import read_jsonl  # noqa: E402
from knowledge.models import NewDocument, NewPassage  # noqa: E402
from knowledge.service import KnowledgeBase  # noqa: E402
from knowledge.text import sha256  # noqa: E402

EVAL = Path(os.environ.get("NEWSDESK_EVAL_DIR", ROOT.parent / "shared" / "eval"))
GUILDS = (101, 202, 303)
PASSAGES_PER_DOCUMENT = 8
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def source_texts() -> tuple[list[str], str]:
    """Paragraph-sized real texts: the seeds' paragraphs and, when present, the evaluation corpora."""
    texts = [
        p
        for s in sorted((ROOT / "seeds").glob("*.txt"))
        for p in ingest.parse_bytes(s.read_bytes(), s.name).paragraphs
        if len(p.split()) >= 8
    ]
    used = ["seeds"]
    for name in ("realtimeqa-dev", "xquad-en"):
        corpus = EVAL / name / "corpus.jsonl"
        if corpus.exists():
            texts += [row["text"] for row in read_jsonl(corpus) if len((row.get("text") or "").split()) >= 8]
            used.append(name)
    multinews = EVAL / "multinews-dev.jsonl"
    if multinews.exists():
        for row in read_jsonl(multinews):
            for article in row["documents"]:
                texts += [p.strip() for p in article.split("\n") if len(p.split()) >= 20]
        used.append("multinews-dev")
    return texts, " + ".join(used)


def questions(n: int, texts: list[str], seed: int = 1) -> list[str]:
    """Real questions when the evaluation sets are here; otherwise sentences of the texts turned into
    keyword questions."""
    found: list[str] = []
    for name in ("realtimeqa-dev", "xquad-en"):
        path = EVAL / name / "queries.jsonl"
        if path.exists():
            found += [q["text"] for q in read_jsonl(path)]
    rng = random.Random(seed)
    if found:
        return rng.sample(found, min(n, len(found)))
    sentences = [s for t in texts for s in _SENTENCE_END.split(t) if 6 <= len(s.split()) <= 30]
    # The seeds alone hold fewer sentences than a run asks questions: then some are asked twice.
    picked = rng.sample(sentences, n) if len(sentences) >= n else rng.choices(sentences, k=n)
    return [f"What happened when {' '.join(s.split()[:10]).rstrip('.,;:')}?" for s in picked]


def generate(
    n: int, base: int, seed: int = 0, embedder: Embedder | None = None
) -> Iterator[tuple[NewDocument, list[NewPassage], np.ndarray]]:
    """``n`` passages as documents of ``PASSAGES_PER_DOCUMENT``, with their vectors (derived from
    ``embedder``'s, the real model by default); ``build_info`` (the model id, what the text came
    from) is filled before the first document."""
    texts, used = source_texts()
    rng = random.Random(seed)
    sentences = [s for t in texts for s in _SENTENCE_END.split(t) if len(s.split()) >= 4]
    if embedder is None:
        config = KnowledgeConfig()
        embedder = SentenceTransformerEmbedder(config.model, index_threads=config.index_threads)
    base_texts = rng.sample(texts, min(base, len(texts)))
    log(f"embedding {len(base_texts)} base passages ({used}) ...")
    base_vectors = embedder.encode(base_texts, bulk=True)
    build_info.update(model=embedder.model_id, text_source=used, base_vectors=len(base_texts))
    base_sentences = [_SENTENCE_END.split(t) for t in base_texts]
    nprng = np.random.default_rng(seed)
    written = 0
    day0 = dt.date(2019, 1, 1).toordinal()
    doc_no = 0
    while written < n:
        k = min(PASSAGES_PER_DOCUMENT, n - written)
        # one base story per document: its passages share a topic, like a real article's
        j = rng.randrange(len(base_texts))
        bodies, vecs = [], []
        for _ in range(k):
            own = base_sentences[j][:]
            rng.shuffle(own)
            extra = rng.sample(sentences, rng.randint(1, 3))
            bodies.append(" ".join(own[: rng.randint(1, max(1, len(own)))] + extra))
            mix = base_vectors[j] + 0.35 * base_vectors[rng.randrange(len(base_texts))]
            vecs.append(mix + nprng.normal(0, 0.02, size=mix.shape))
        vectors = np.asarray(vecs, dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        title = " ".join(base_texts[j].split()[:8]).rstrip(".,;:")
        text = "\n\n".join(bodies)
        passages, pos = [], 0
        for i, body in enumerate(bodies):
            passages.append(
                NewPassage(
                    ordinal=i,
                    paragraph_index=i,
                    char_start=pos,
                    char_end=pos + len(body),
                    text=body,
                    text_hash=embedding_key(title, body),
                )
            )
            pos += len(body) + 2
        doc = NewDocument(
            title=title,
            source="bench",
            author=None,
            origin=f"bench-{doc_no}",
            published=dt.date.fromordinal(day0 + rng.randrange(6 * 365)) if rng.random() < 0.9 else None,
            guild_id=rng.choice(GUILDS) if rng.random() < 0.2 else None,
            content_hash=sha256(f"{doc_no}\n{text}"),
            text=text,
            words=len(text.split()),
        )
        yield doc, passages, vectors
        written += k
        doc_no += 1


# What ``generate`` made, for the build's JSON line.
build_info: dict = {}


async def build(db: Path, n: int, base: int, seed: int = 0) -> dict:
    """Write ``n`` passages to a fresh store at ``db``; returns what was built."""
    started = time.perf_counter()
    config = KnowledgeConfig()
    embedder = SentenceTransformerEmbedder(config.model, index_threads=config.index_threads)
    store = await SqliteStore.open(db)
    written = docs = 0
    try:
        for doc, passages, vectors in generate(n, base, seed, embedder):
            await store.insert_document(doc, passages, vectors, build_info["model"])
            written += len(passages)
            docs += 1
            if docs % 2000 == 0:
                log(f"  {written} passages, {time.perf_counter() - started:.0f} s")
    finally:
        await store.close()
    build_s = time.perf_counter() - started
    # Written through Store, not KnowledgeBase (whose close leaves the index cache beside the file):
    # the first open builds the index and saves it, as after any ingest, so the open measured in the
    # other process is a restart's.
    started = time.perf_counter()
    kb = await KnowledgeBase.open(KnowledgeConfig(db=db), embedder=embedder)
    await kb.close()
    return {
        "passages": written,
        "documents": docs,
        "build_seconds": round(build_s, 1),
        "first_open_seconds": round(time.perf_counter() - started, 2),
        "text_source": build_info["text_source"],
        "base_vectors": build_info["base_vectors"],
    }


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


async def time_searches(kb: KnowledgeBase, n_queries: int) -> tuple[list[str], list[int | None], dict[str, float]]:
    """``kb.search`` over the run's questions, half unscoped (the CLI) and half scoped to a guild
    (the bot), after a warm-up (model load, first pages from disk): the questions, their scopes and
    the ``search_ms_*`` keys. Both backends' measures time it alike."""
    texts, _ = source_texts()
    qs = questions(n_queries, texts)
    scopes = [None if i % 2 == 0 else GUILDS[i % len(GUILDS)] for i in range(len(qs))]
    for q in qs[:5]:
        await kb.search(q, k=10)
    total: dict[str, list[float]] = {"all": [], "unscoped": [], "guild": []}
    for q, scope in zip(qs, scopes, strict=True):
        t = time.perf_counter()
        hits = await kb.search(q, k=10, scope=scope)
        ms = (time.perf_counter() - t) * 1000
        assert hits
        total["all"].append(ms)
        total["unscoped" if scope is None else "guild"].append(ms)
    keys = {
        "search_ms_p50": percentile(total["all"], 50),
        "search_ms_p95": percentile(total["all"], 95),
        "search_ms_p50_unscoped": percentile(total["unscoped"], 50),
        "search_ms_p50_guild": percentile(total["guild"], 50),
    }
    return qs, scopes, keys


async def measure(db: Path, n_queries: int) -> dict:
    config = KnowledgeConfig(db=db)
    embedder = SentenceTransformerEmbedder(
        config.model, query_threads=config.query_threads, index_threads=config.index_threads
    )
    started = time.perf_counter()
    kb = await KnowledgeBase.open(config, embedder=embedder)
    try:
        open_s = time.perf_counter() - started
        passages = await kb.store.count_passages()
        memory = memory_index(kb.index)
        qs, scopes, searched = await time_searches(kb, n_queries)

        # the whole /ask path on the same questions: search, reading, answerability, the answer
        await kb.ask(qs[0])  # warm-up: first use of the reader's own lazy state
        asks: list[float] = []
        for q, scope in zip(qs, scopes, strict=True):
            t = time.perf_counter()
            await kb.ask(q, scope=scope)
            asks.append((time.perf_counter() - t) * 1000)

        # where the time goes: each side of the same questions on its own
        # (bm25: the in-memory postings search uses; fts5_bm25: SQLite FTS5's bm25(), the on-disk
        # reference it replaced on the query path, for comparison)
        parts: dict[str, list[float]] = {"embed": [], "dense": [], "bm25": [], "fts5_bm25": []}
        for q, scope in zip(qs, scopes, strict=True):
            t = time.perf_counter()
            vector = embedder.encode([q])[0]
            parts["embed"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            memory.dense.search(vector, retrieval.CANDIDATES, scope=scope)
            parts["dense"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            terms = retrieval.index_tokens(" ".join(retrieval.query_terms(q)))
            memory.lexical.search(terms, memory.dense.mask(scope, None, None), retrieval.CANDIDATES)
            parts["bm25"].append((time.perf_counter() - t) * 1000)
            match = retrieval.fts_match_expression(q)
            t = time.perf_counter()
            if match:
                await sqlite_store(kb.store).fts_search(match, limit=retrieval.CANDIDATES, scope=scope)
            parts["fts5_bm25"].append((time.perf_counter() - t) * 1000)
    finally:
        await kb.close()
    return {
        "passages": passages,
        "queries": len(qs),
        **searched,
        "ask_ms_p50": percentile(asks, 50),
        "ask_ms_p95": percentile(asks, 95),
        **{f"{name}_ms_p50": percentile(v, 50) for name, v in parts.items()},
        **{f"{name}_ms_p95": percentile(v, 95) for name, v in parts.items()},
        "open_seconds": round(open_s, 2),
        # ru_maxrss is in KiB on Linux: the peak of this process (open + model + searches), not the build
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--base", type=int, default=400, help="real passages embedded to derive the vectors from")
    ap.add_argument(
        "--db",
        type=_db_argument,
        help="reuse (or build once into) this store instead of a temporary one: a SQLite path, or with"
        " --backend postgres a postgresql:// URL",
    )
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument(
        "--bm25",
        choices=("auto", "sql"),
        default="auto",
        help="postgres: pg_textsearch's index when the server has it (auto) or exact BM25 in SQL (sql)",
    )
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    # The tests' run of the PostgreSQL plumbing in seconds: a hashing embedder instead of the model
    # (its timings mean nothing).
    ap.add_argument("--hashing", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for name in ("sentence_transformers", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)

    if args.backend == "postgres":
        main_postgres(args)
        return

    if args.build_only:
        print(json.dumps(asyncio.run(build(args.db, args.passages, args.base))))
        return

    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        db = args.db or Path(tmp) / "search.db"
        built: dict = {"build_seconds": None}
        if not db.exists():
            log(f"building a store of {args.passages} passages in {db} ...")
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--build-only",
                    "--db",
                    str(db),
                    "--passages",
                    str(args.passages),
                    "--base",
                    str(args.base),
                ],
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
            built = json.loads(child.stdout.strip().splitlines()[-1])
            log(f"built: {built}")
        result = asyncio.run(measure(db, args.queries))
    print(json.dumps({"bench": "search", **built, **result, "load_average": round(os.getloadavg()[0], 2)}))


def _db_argument(value: str) -> Path | str:
    # A file is a Path; anything else (a URL) stays a string: Path would fold its "//".
    return Path(value) if engine_of(value).name == "sqlite" else value


def main_postgres(args: argparse.Namespace) -> None:
    """``--backend postgres``: as above, in the database at ``--db`` (a URL) or a private server."""
    import search_pg  # lazy: the SQLite benchmark never needs psycopg

    from knowledge.embed import HashingEmbedder

    db: str | None = None if args.db is None else str(args.db)
    if (db is not None and engine_of(db).name != "postgres") or (args.build_only and db is None):
        raise SystemExit("--backend postgres: --db must be a postgresql:// URL")
    embedder = HashingEmbedder() if args.hashing else None
    if args.build_only:
        assert db is not None
        job = search_pg.build_pg(db, args.passages, args.base, embedder=embedder, bm25=args.bm25)
        print(json.dumps(asyncio.run(job)))
        return
    with contextlib.ExitStack() as stack:
        if db is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="newsdesk-bench-pg-"))
            log("starting a private PostgreSQL ...")
            url = stack.enter_context(search_pg.private_server(Path(tmp)))
        else:
            url = db
        built: dict = {"build_seconds": None}
        if not search_pg.stored_passages(url):
            log(f"building a store of {args.passages} passages in PostgreSQL ...")
            command = [sys.executable, __file__, "--backend", "postgres", "--build-only", "--db", url]
            command += ["--passages", str(args.passages), "--base", str(args.base), "--bm25", args.bm25]
            command += ["--hashing"] * args.hashing
            child = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            built = json.loads(child.stdout.strip().splitlines()[-1])
            log(f"built: {built}")
        result = asyncio.run(search_pg.measure_pg(url, args.queries, embedder, args.bm25))
    print(json.dumps({"bench": "search", **built, **result, "load_average": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
