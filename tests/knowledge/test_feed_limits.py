"""Feeds as untrusted input: only the newest entries of a huge feed are parsed and looked at, a
poll's article pages share one time budget, and feeds are polled concurrently so that a slow one
holds up no other. Served by a loopback HTTP server; no test depends on how fast the machine is."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from knowledge import feeds
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase

NOW = dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC)
BODY = (
    "The valley council voted to rebuild the old stone bridge over the river after the spring floods "
    "damaged its eastern arch. Engineers said the work would take eight months."
)


def rss(entries: Sequence[tuple[int, dt.date, str | None]]) -> bytes:
    """Items (number, date, link) in the given order."""
    items = "".join(
        f"<item><title>Story {n}</title>{f'<link>{link}</link>' if link else ''}<guid>g{n}</guid>"
        f"<pubDate>{day:%a, %d %b %Y} 09:00:00 GMT</pubDate><description>{BODY} Number {n}.</description></item>"
        for n, day, link in entries
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>{items}</channel></rss>'.encode()


def hostile_feed(count: int = 100_000) -> bytes:
    items = "".join(
        f"<item><title>E{i}</title><guid>{i}</guid><description>entry number {i}.</description></item>"
        for i in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Flood</title>{items}</channel></rss>'.encode()


# ---------------------------------------------------------------------------------------------- parsing


def test_only_the_newest_entries_are_kept_newest_first():
    day = dt.date(2026, 3, 1)
    entries = [(n, day + dt.timedelta(days=n % 7), None) for n in range(40)]  # out of order
    parsed = feeds.parse_feed(rss(entries), "desk", newest=5)
    assert len(parsed.entries) == 5
    dates = [e.published or dt.date.min for e in parsed.entries]
    assert dates == sorted(dates, reverse=True) and dates[0] == day + dt.timedelta(days=6)
    assert len(feeds.parse_feed(rss(entries), "desk").entries) == 40  # without a limit: all


def test_a_feed_of_100000_entries_is_cut_before_it_is_parsed():
    data = hostile_feed()
    assert 9_000_000 < len(data) < 10 * 1024 * 1024  # under the default size cap
    cut = feeds._first_entries(data, 200)
    assert len(cut) < len(data) // 100
    assert cut.endswith(b"</channel></rss>") and cut.count(b"<item>") == 200
    parsed = feeds.parse_feed(data, "flood", newest=50)
    assert [e.title for e in parsed.entries] == [f"E{i}" for i in range(50)]  # undated: the feed's order


def test_a_feed_with_fewer_entries_than_the_limit_is_parsed_whole():
    data = rss([(n, dt.date(2026, 3, 1), None) for n in range(3)])
    assert feeds._first_entries(data, 200) == data


# ---------------------------------------------------------------------------------------------- polling


class Site:
    """/slow/rss answers only once /fast/rss was served (or never, with ``hold``); /hang pages never
    answer; /fast/rss and /slow/rss serve the same small feed."""

    def __init__(self) -> None:
        self.fast_served = asyncio.Event()
        self.hits: dict[str, int] = {}
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/fast/rss", self.fast)
        app.router.add_get("/slow/rss", self.slow)
        app.router.add_get("/hanging/rss", self.hanging_feed)
        app.router.add_get("/hang/{n}", self.hang)
        return app

    def _count(self, request: web.Request) -> None:
        key = request.path.split("/")[1]
        self.hits[key] = self.hits.get(key, 0) + 1

    def _feed(self, n: int, links: bool = False) -> web.Response:
        entries = [
            (n + i, dt.date(2026, 3, 1) + dt.timedelta(days=i), f"{self.url}/hang/{n + i}" if links else None)
            for i in range(3)
        ]
        return web.Response(body=rss(entries), content_type="application/rss+xml")

    async def fast(self, request: web.Request) -> web.Response:
        self._count(request)
        self.fast_served.set()
        return self._feed(100)

    async def slow(self, request: web.Request) -> web.Response:
        self._count(request)
        await self.fast_served.wait()  # polled one after another, this would wait out its timeout
        return self._feed(200)

    async def hanging_feed(self, request: web.Request) -> web.Response:
        self._count(request)
        return self._feed(300, links=True)

    async def hang(self, request: web.Request) -> web.Response:
        self._count(request)
        await asyncio.Event().wait()  # never answers: the poll's budget must end it
        raise AssertionError("unreachable")


@pytest_asyncio.fixture(loop_scope="function")
async def site(loopback_server):
    s = Site()
    async with loopback_server(s.app()) as url:
        s.url = url
        yield s


def _config(tmp_path: Path, **changes) -> KnowledgeConfig:
    base = KnowledgeConfig(db=tmp_path / "kb.db", max_file_bytes=64 * 1024, fetch_allow=("127.0.0.1",))
    return replace(base, **changes)


async def test_a_slow_feed_does_not_hold_up_the_others(site, tmp_path):
    # The slow feed is due first. Polled one after another it would wait out the whole timeout
    # and fail; polled concurrently, the fast one is served meanwhile and both succeed.
    async with await KnowledgeBase.open(_config(tmp_path, url_timeout_s=30.0), embedder=HashingEmbedder()) as kb:
        await kb.store.insert_feed(guild_id=None, url=f"{site.url}/slow/rss", title="slow")
        await kb.store.insert_feed(guild_id=None, url=f"{site.url}/fast/rss", title="fast")
        polls = await kb.poll_feeds(now=NOW)
        assert [p.feed.title for p in polls] == ["slow", "fast"]  # reported in the order due
        assert [p.error for p in polls] == [None, None]
        assert [len(p.added) for p in polls] == [3, 3]


async def test_article_pages_share_the_polls_time_budget(site, tmp_path):
    # Three entries whose pages never answer. Each page used to be allowed the full URL timeout
    # (here 600 s); with a 20 s budget the first page ends the poll's time, its entry is indexed
    # from the feed's own text, and the other two are left for the next poll. (20 s, not less:
    # the feed's fetch and parse come out of the same budget, and a worker started on a busy
    # machine took 8.5 s.)
    config = _config(tmp_path, url_timeout_s=600.0, feed_budget_s=20.0)
    async with await KnowledgeBase.open(config, embedder=HashingEmbedder()) as kb:
        feed = await kb.store.insert_feed(guild_id=None, url=f"{site.url}/hanging/rss", title="hanging")
        assert feed is not None
        [poll] = await kb.poll_feeds(now=NOW)
        assert poll.error is None and site.hits["hang"] == 1
        [doc] = poll.added
        assert doc.title == "Story 302"  # the newest first
        seen = [await kb.store.feed_entry_seen(feed, entry_key=f"g{n}", content_hash="-") for n in (300, 301, 302)]
        assert seen == [False, False, True]  # the rest are picked up by the next poll


@pytest.mark.parametrize("limit", [1, 3])
async def test_a_poll_looks_at_the_newest_entries_only(site, tmp_path, limit):
    async with await KnowledgeBase.open(_config(tmp_path, feed_entries=limit), embedder=HashingEmbedder()) as kb:
        await kb.store.insert_feed(guild_id=None, url=f"{site.url}/fast/rss", title="fast")
        [poll] = await kb.poll_feeds(now=NOW)
        assert [d.title for d in poll.added] == [f"Story {n}" for n in (102, 101, 100)][:limit]
