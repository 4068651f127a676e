"""``newsdesk eval retrieval DIR``: nDCG@10, Recall@5/10, MRR@10 and latency of the real search path
on a BEIR-layout folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..config import KnowledgeConfig
from ..embed import Embedder
from ..retrieval import ndcg_at_k
from .beir import corpus_knowledge_base, read_beir
from .qa import asked_at


def ranked_corpus_ids(hits: Sequence, doc_to_corpus: dict[int, str]) -> list[str]:
    """Corpus ids in rank order, each once (a document's best passage counts)."""
    out: list[str] = []
    for hit in hits:
        cid = doc_to_corpus.get(hit.document.id)
        if cid is not None and cid not in out:
            out.append(cid)
    return out


def retrieval_metrics(runs: dict[str, list[str]], qrels: dict[str, dict[str, float]]) -> dict[str, float]:
    ndcg, r5, r10, mrr = [], [], [], []
    for qid, relevant in qrels.items():
        if qid not in runs:
            continue
        ranked = runs[qid]
        rel = {d for d, s in relevant.items() if s > 0}
        ndcg.append(ndcg_at_k(ranked, relevant, 10))
        r5.append(len(rel & set(ranked[:5])) / len(rel) if rel else 0.0)
        r10.append(len(rel & set(ranked[:10])) / len(rel) if rel else 0.0)
        mrr.append(next((1.0 / (i + 1) for i, d in enumerate(ranked[:10]) if d in rel), 0.0))
    mean = lambda xs: round(float(np.mean(xs)), 4) if xs else 0.0  # noqa: E731
    return {"ndcg@10": mean(ndcg), "recall@5": mean(r5), "recall@10": mean(r10), "mrr@10": mean(mrr)}


async def evaluate_retrieval(
    folder: Path,
    *,
    embedder: Embedder | None = None,
    k: int = 10,
    progress: Callable[[int, int], None] | None = None,
    db: str | None = None,
    bm25: str = "auto",
) -> dict:
    """``db``: a PostgreSQL URL to evaluate in (an empty database; ``bm25`` its engine, as
    ``KnowledgeConfig.pg_bm25``); a temporary SQLite file otherwise."""
    data = read_beir(folder)
    config = replace(KnowledgeConfig().with_db(db), pg_bm25=bm25) if db else None
    async with corpus_knowledge_base(data.corpus, embedder=embedder, config=config) as (
        kb,
        doc_to_corpus,
        index_seconds,
    ):
        runs: dict[str, list[str]] = {}
        latencies: list[float] = []
        queries = [q for q in data.queries if q.id in data.qrels]
        for i, q in enumerate(queries):
            started = time.perf_counter()
            # A long document may fill several slots. A dated question is asked on its date, as in
            # ``eval qa``: the ranking is the one a reader would have had then.
            hits = await kb.search(q.text, k=k * 3, now=asked_at(q))
            latencies.append((time.perf_counter() - started) * 1000)
            runs[q.id] = ranked_corpus_ids(hits, doc_to_corpus)[:k]
            if progress:
                progress(i + 1, len(queries))
        passages = await kb.count_passages()
    result = retrieval_metrics(runs, data.qrels)
    result.update(
        {
            "queries": len(runs),
            "passages": passages,
            "index_seconds": round(index_seconds, 2),
            "query_ms_p50": round(float(np.percentile(latencies, 50)), 2) if latencies else 0.0,
            "query_ms_p95": round(float(np.percentile(latencies, 95)), 2) if latencies else 0.0,
        }
    )
    return result
