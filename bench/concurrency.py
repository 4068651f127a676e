"""Ask latency while documents are indexed, with the real model: ``--askers`` tasks ask XQuAD
questions (``kb.ask``, scopes and date words mixed) for as long as ``--docs`` XQuAD paragraphs are
indexed through ``add_texts`` in batches, while a probe records event-loop lag. Prints progress on
stderr and one JSON object as its last line: ask p50/p95/max, failures, worst loop lag, indexing time.

    .venv/bin/python bench/concurrency.py [--docs 200] [--askers 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.config import KnowledgeConfig  # noqa: E402
from knowledge.service import KnowledgeBase, TextItem  # noqa: E402

EVAL = Path(os.environ.get("NEWSDESK_EVAL_DIR", Path(__file__).resolve().parent.parent.parent / "shared" / "eval"))


def _load(docs: int) -> tuple[list[TextItem], list[str]]:
    folder = EVAL / "xquad-en"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line)["text"] for line in (folder / "queries.jsonl").open(encoding="utf-8")]
    items = [TextItem(c["text"], title=c["title"].replace("_", " ")) for c in corpus]
    while len(items) < docs:  # more documents than the set holds: numbered copies
        items += [TextItem(f"{c['text']} (copy {len(items)})", title=c["title"]) for c in corpus[: docs - len(items)]]
    return items[:docs], queries


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--askers", type=int, default=30)
    ap.add_argument("--seed-docs", type=int, default=100, help="indexed before the asks start")
    args = ap.parse_args()
    items, queries = _load(args.docs + args.seed_docs)
    config = KnowledgeConfig.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        config = KnowledgeConfig(
            db=Path(tmp) / "bench.db",
            model=config.model,
            query_threads=config.query_threads,
            index_threads=config.index_threads,
        )
        async with await KnowledgeBase.open(config) as kb:
            await kb.add_texts(items[: args.seed_docs])
            await kb.ask("warm up question about the Super Bowl")
            latencies: list[float] = []
            failures: list[str] = []
            done = asyncio.Event()
            worst_lag = 0.0

            async def probe() -> None:
                nonlocal worst_lag
                while not done.is_set():
                    t = time.perf_counter()
                    await asyncio.sleep(0.01)
                    worst_lag = max(worst_lag, time.perf_counter() - t - 0.01)

            async def asker(n: int) -> None:
                i = n
                while not done.is_set():
                    started = time.perf_counter()
                    try:
                        await kb.ask(queries[i % len(queries)], scope=[None, 0, 7][n % 3])
                        latencies.append(time.perf_counter() - started)
                    except Exception as e:  # counted and reported: the number this bench exists for
                        failures.append(f"{type(e).__name__}: {e}")
                    i += args.askers
                    await asyncio.sleep(0.05)

            async def index() -> float:
                started = time.perf_counter()
                rest = items[args.seed_docs :]
                for start in range(0, len(rest), 50):
                    await kb.add_texts(rest[start : start + 50], guild_id=7 if start % 100 else None)
                    print(f"indexed {min(start + 50, len(rest))}/{len(rest)}", file=sys.stderr)
                done.set()
                return time.perf_counter() - started

            results = await asyncio.gather(index(), probe(), *(asker(n) for n in range(args.askers)))
    # With a starred argument gather() types every result as float | None; index() is the first, a float.
    index_seconds = results[0]
    assert index_seconds is not None
    print(
        json.dumps(
            {
                "asks": len(latencies) + len(failures),
                "failures": len(failures),
                "failure_kinds": sorted(set(failures))[:5],
                "ask_ms_p50": round(_pct(latencies, 0.5) * 1000, 1),
                "ask_ms_p95": round(_pct(latencies, 0.95) * 1000, 1),
                "ask_ms_max": round(max(latencies, default=0) * 1000, 1),
                "worst_loop_lag_ms": round(worst_lag * 1000, 1),
                "index_seconds": round(index_seconds, 2),
                "docs_indexed": args.docs,
                "askers": args.askers,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
