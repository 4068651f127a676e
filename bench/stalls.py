"""Event-loop lag and ask latency while hostile inputs are processed: a feed of 100,000 short entries
(9.9 MB, under the size cap) served on loopback and polled, then a slow PDF (``--pdf-pages`` pages of
dense text) indexed. Askers ask the seed questions (``kb.ask``, the real model unless
``--fake-embedder``) the whole time and a probe sleeps 10 ms at a time and records how late it wakes.
Each phase reports ask p50/p95 and loop lag p99/max; ``baseline`` is the same load with nothing else
running. ``--parse-in-thread`` parses in worker threads instead of processes (how it was before),
for comparison on the same machine. Progress on stderr, one JSON object as the last line.

    .venv/bin/python bench/stalls.py [--pdf-pages 1500] [--askers 4] [--parse-in-thread]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from knowledge import workers  # noqa: E402
from knowledge.config import KnowledgeConfig  # noqa: E402
from knowledge.embed import HashingEmbedder  # noqa: E402
from knowledge.service import KnowledgeBase  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "What did the council approve?",
    "Why did the workers strike?",
    "What happened to the prices?",
    "Who won the election?",
    "When will construction start?",
]


def hostile_feed(count: int = 100_000) -> bytes:
    items = "".join(
        f"<item><title>E{i}</title><guid>{i}</guid><description>entry number {i}.</description></item>"
        for i in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Flood</title>{items}</channel></rss>'.encode()


def slow_pdf(pages: int) -> bytes:
    from fpdf import FPDF  # a test dependency: `pip install -e '.[test]'`

    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    sentence = "The harbour authority reported cargo figures for week {0}, up on the year before. "
    for page in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 4, (sentence.format(page) * 24).strip())
    return bytes(pdf.output())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class Load:
    """Askers and a lag probe, recording into the current phase until stopped."""

    def __init__(self, kb: KnowledgeBase, askers: int) -> None:
        self.kb, self.askers = kb, askers
        self.asks: list[float] = []
        self.lags: list[float] = []
        self.failures: list[str] = []
        self._stop = asyncio.Event()

    async def _probe(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            self.lags.append(time.perf_counter() - started - 0.01)

    async def _asker(self, n: int) -> None:
        i = n
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                await self.kb.ask(QUESTIONS[i % len(QUESTIONS)])
                self.asks.append(time.perf_counter() - started)
            except Exception as e:  # counted and reported
                self.failures.append(f"{type(e).__name__}: {e}")
            i += 1
            await asyncio.sleep(0.05)

    async def during(self, work) -> dict:
        tasks = [asyncio.create_task(self._probe()), *(asyncio.create_task(self._asker(n)) for n in range(self.askers))]
        started = time.perf_counter()
        try:
            detail = await work
        finally:
            self._stop.set()
            await asyncio.gather(*tasks)
        return {
            "seconds": round(time.perf_counter() - started, 2),
            "asks": len(self.asks),
            "failures": len(self.failures),
            "ask_ms_p50": round(_pct(self.asks, 0.5) * 1000, 1),
            "ask_ms_p95": round(_pct(self.asks, 0.95) * 1000, 1),
            "ask_ms_max": round(max(self.asks, default=0) * 1000, 1),
            "lag_ms_p99": round(_pct(self.lags, 0.99) * 1000, 1),
            "lag_ms_max": round(max(self.lags, default=0) * 1000, 1),
            **(detail or {}),
        }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdf-pages", type=int, default=1500)
    ap.add_argument("--askers", type=int, default=4)
    ap.add_argument("--baseline-s", type=float, default=10.0)
    ap.add_argument("--fake-embedder", action="store_true", help="the hashing embedder instead of the model")
    ap.add_argument("--parse-in-thread", action="store_true", help="parse in threads, as before the worker processes")
    args = ap.parse_args()
    if args.parse_in_thread:
        workers.in_threads().__enter__()  # for the whole run: the comparison with how it was
    feed = hostile_feed()
    print(f"feed: {len(feed) / 1e6:.1f} MB; making a {args.pdf_pages}-page PDF", file=sys.stderr)
    pdf = slow_pdf(args.pdf_pages)
    app = web.Application()

    async def serve_feed(request: web.Request) -> web.Response:
        return web.Response(body=feed, content_type="application/rss+xml")

    app.router.add_get("/feed", serve_feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/feed"
    env = KnowledgeConfig.from_env()
    result: dict = {"parse": "thread" if args.parse_in_thread else "process", "pdf_mb": round(len(pdf) / 1e6, 1)}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = KnowledgeConfig(
                db=Path(tmp) / "bench.db",
                model=env.model,
                fetch_allow=("127.0.0.1",),
                parse_timeout_s=600,
                feed_budget_s=600,
                freeze_heap=True,  # as the bot and the console run: no full collection of the start-up heap
            )
            embedder = HashingEmbedder() if args.fake_embedder else None
            async with await KnowledgeBase.open(config, embedder=embedder) as kb:
                await kb.index_paths([ROOT / "seeds"])
                await kb.ask(QUESTIONS[0])  # warm: the model loaded, the workers started
                await kb.add_text("Warm up text for the worker processes.", title="warm")
                print("baseline", file=sys.stderr)
                result["baseline"] = await Load(kb, args.askers).during(asyncio.sleep(args.baseline_s))

                async def poll() -> dict:
                    await kb.store.insert_feed(guild_id=None, url=url, title="flood")
                    [p] = await kb.poll_feeds(now=dt.datetime.now(dt.UTC))
                    return {"entries_added": len(p.added), "error": p.error}

                print("hostile feed", file=sys.stderr)
                result["feed"] = await Load(kb, args.askers).during(poll())

                async def index_pdf() -> dict:
                    doc = await kb.add_bytes(pdf, "slow.pdf")
                    return {"passages": doc.passages}

                print("slow PDF", file=sys.stderr)
                result["pdf"] = await Load(kb, args.askers).during(index_pdf())
    finally:
        await runner.cleanup()
    result["load_average_1m"] = round(os.getloadavg()[0], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
