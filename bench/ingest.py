"""Ingest throughput: passages/s of ``KnowledgeBase.add_texts`` against raw ``SentenceTransformer.encode``
of the very same passage texts, in the same process, with the same torch threads and batch size.

    .venv/bin/python bench/ingest.py [--docs N] [--rounds 2]

Texts: the seed articles plus, when present at run time, the news passages of
``../shared/eval/realtimeqa-dev`` and the paragraphs of ``../shared/eval/xquad-en`` (read, never copied);
without them, documents recombined from the seeds' paragraphs. Rounds alternate raw / ingest after a
warm-up and the best round of each counts, so neither side pays for a cold model or a noisy neighbour.

Prints one JSON object as its last line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge import ingest  # noqa: E402
from knowledge.config import KnowledgeConfig  # noqa: E402
from knowledge.embed import SentenceTransformerEmbedder  # noqa: E402
from knowledge.evaluation.beir import parse_date, read_jsonl  # noqa: E402
from knowledge.service import KnowledgeBase, TextItem  # noqa: E402

EVAL = Path(os.environ.get("NEWSDESK_EVAL_DIR", ROOT.parent / "shared" / "eval"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def news_items(limit: int | None, seed: int = 0) -> tuple[list[TextItem], str]:
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    items = [TextItem(p.read_text(encoding="utf-8"), origin=p.name) for p in seeds]
    corpora = [EVAL / "realtimeqa-dev" / "corpus.jsonl", EVAL / "xquad-en" / "corpus.jsonl"]
    found = [c for c in corpora if c.exists()]
    for corpus in found:
        for row in read_jsonl(corpus):
            items.append(
                TextItem(
                    text=row.get("text") or "",
                    title=(row.get("title") or "").replace("_", " ") or None,
                    published=parse_date((row.get("metadata") or {}).get("date")),
                    origin=str(row["_id"]),
                )
            )
    source = " + ".join(["seeds", *(c.parent.name for c in found)])
    if not found:  # no evaluation data here: recombine the seeds' paragraphs into distinct articles
        rng = random.Random(seed)
        paragraphs = [p for s in seeds for p in ingest.parse_bytes(s.read_bytes(), s.name).paragraphs]
        for i in range(limit or 600):
            body = rng.sample(paragraphs, k=min(len(paragraphs), rng.randint(3, 9)))
            items.append(TextItem("\n\n".join(body), title=f"Recombined article {i}", origin=f"recombined-{i}"))
        source = "seeds (recombined)"
    rng = random.Random(seed)
    head, rest = items[: len(seeds)], items[len(seeds) :]
    rng.shuffle(rest)  # news and encyclopedia paragraphs interleaved, like a real mixed folder
    items = head + rest
    return (items[:limit] if limit else items), source


class RecordingEmbedder:
    """Learns which texts ingest embeds, without the model: zero-cost unit vectors, same dimension."""

    def __init__(self, model_id: str, dim: int) -> None:
        self.model_id = model_id
        self.dim = dim
        self.texts: list[str] = []

    def encode(self, texts: list[str], *, bulk: bool = False) -> np.ndarray:
        self.texts.extend(texts)
        return np.full((len(texts), self.dim), 1 / np.sqrt(self.dim), dtype=np.float32)


async def run_ingest(items: list[TextItem], embedder, config: KnowledgeConfig) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="newsdesk-bench-") as tmp:
        cfg = KnowledgeConfig(**{**config.__dict__, "db": Path(tmp) / "bench.db"})
        kb = await KnowledgeBase.open(cfg, embedder=embedder)
        try:
            started = time.perf_counter()
            report = await kb.add_texts(items)
            seconds = time.perf_counter() - started
            if report.errors:
                log(f"  {len(report.errors)} texts not indexed, e.g. {report.errors[0]}")
            return seconds, await kb.store.count_passages()
        finally:
            await kb.close()


def run_raw(model, texts: list[str], threads: int, batch_size: int) -> float:
    import torch

    torch.set_num_threads(threads)
    started = time.perf_counter()
    with torch.inference_mode():
        model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
    return time.perf_counter() - started


async def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1000, help="documents to index (default 1000; 0: all found)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    config = KnowledgeConfig()
    items, source = news_items(args.docs or None)
    log(f"{len(items)} documents from {source}; torch threads {config.index_threads}, batch {config.embed_batch_size}")
    real = SentenceTransformerEmbedder(
        config.model,
        query_threads=config.query_threads,
        index_threads=config.index_threads,
        batch_size=config.embed_batch_size,
    )
    real.load()
    model = real._model

    # The exact texts our ingest embeds (deduplicated passage texts with their title prefix), learnt
    # on a dry run without the model; then the model is warmed up on some of them.
    recorder = RecordingEmbedder(real.model_id, real.dim)
    dry_s, passages = await run_ingest(items, recorder, config)
    texts = recorder.texts
    log(f"dry run: {passages} passages, {len(texts)} texts to embed; {dry_s:.1f} s without the model")
    run_raw(model, texts[:256], config.index_threads, config.embed_batch_size)

    raw_runs, ingest_runs = [], []
    for r in range(args.rounds):
        # alternate which side goes first, so a change in machine load hits both alike
        for side in ("raw", "ingest") if r % 2 == 0 else ("ingest", "raw"):
            if side == "raw":
                raw_runs.append(run_raw(model, texts, config.index_threads, config.embed_batch_size))
                log(f"round {r + 1}: raw encode {raw_runs[-1]:.2f} s")
            else:
                seconds, stored = await run_ingest(items, real, config)
                assert stored == passages
                ingest_runs.append(seconds)
                log(f"round {r + 1}: ingest     {ingest_runs[-1]:.2f} s")

    raw_s, ingest_s = min(raw_runs), min(ingest_runs)
    # Both rates per passage text embedded, so duplicate passages (embedded once) don't flatter ingest.
    result = {
        "bench": "ingest",
        "source": source,
        "documents": len(items),
        "passages": passages,
        "embedded_texts": len(texts),
        "ingest_seconds": round(ingest_s, 3),
        "encode_seconds": round(raw_s, 3),
        "ingest_passages_per_s": round(len(texts) / ingest_s, 1),
        "encode_passages_per_s": round(len(texts) / raw_s, 1),
        "ratio": round(raw_s / ingest_s, 3),
        "overhead_ms_per_passage": round((ingest_s - raw_s) / len(texts) * 1000, 2),
        "dry_run_ms_per_passage": round(dry_s / passages * 1000, 2),
        "rounds": args.rounds,
        "threads": config.index_threads,
        "batch_size": config.embed_batch_size,
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
