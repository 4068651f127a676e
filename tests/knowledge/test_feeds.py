"""Feeds served by a loopback HTTP server, RSS 2.0 and Atom: a new entry is indexed exactly once with
its date and link, a page that fails falls back to the entry's content, a malformed feed is logged
and kept (backed off), a 304 answer fetches nothing again; and the per-server settings' SQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import InvalidInput, NotAFeed
from knowledge.feeds import backoff, plain_text
from knowledge.servers import check_timezone, parse_clock
from knowledge.service import KnowledgeBase

GUILD = 770_000_000_000_000_001
OTHER = 770_000_000_000_000_002

ARTICLE = """<html><head><title>Ferry line reopens</title></head><body><article>
<h1>Ferry line reopens</h1>
<p>The island ferry line reopened on Tuesday after the new harbour pier was finished by the port authority.</p>
<p>Ferries will sail every forty minutes in summer, the operator said, and tickets will cost four euros.</p>
</article></body></html>"""


def rss(items: list[tuple[str, str, str, str]]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{guid}</guid>"
        f"<pubDate>Tue, 03 Mar 2026 09:00:00 GMT</pubDate><description>{d}</description></item>"
        for guid, t, link, d in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour News</title>{body}</channel></rss>'


def atom(entries: list[tuple[str, str, str, str]]) -> str:
    body = "".join(
        f"<entry><id>{i}</id><title>{t}</title><link href='{link}'/><updated>2026-03-04T10:00:00Z</updated>"
        f"<content type='html'>{c}</content></entry>"
        for i, t, link, c in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Valley Gazette</title><id>urn:gazette</id><updated>2026-03-04T10:00:00Z</updated>{body}</feed>"
    )


LONG = (
    "The valley council voted to rebuild the old stone bridge over the river after the spring floods damaged "
    "its eastern arch. Engineers said the work would take eight months and cost two million euros."
)


class FeedSite:
    """A loopback site: /rss, /atom, /page (an article), /broken (500) and /plain (a web page)."""

    def __init__(self) -> None:
        self.rss = ""
        self.atom = ""
        self.hits: dict[str, int] = {}
        self.conditional: list[tuple[str | None, str | None]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/rss", self.feed("rss", "application/rss+xml"))
        app.router.add_get("/atom", self.feed("atom", "application/atom+xml"))
        app.router.add_get("/page", self.page)
        app.router.add_get("/broken", self.broken)
        app.router.add_get("/plain", self.plain)
        return app

    def count(self, request: web.Request) -> None:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1

    def feed(self, name: str, content_type: str):
        async def handler(request: web.Request) -> web.Response:
            self.count(request)
            etag, since = request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")
            self.conditional.append((etag, since))
            body = getattr(self, name)
            tag = f'"{hash(body) & 0xFFFF}"'
            modified = "Tue, 03 Mar 2026 09:00:00 GMT"
            if etag == tag or (name == "atom" and since == modified):
                return web.Response(status=304)
            headers = {"ETag": tag} if name == "rss" else {"Last-Modified": modified}
            return web.Response(text=body, content_type=content_type, headers=headers)

        return handler

    async def page(self, request: web.Request) -> web.Response:
        self.count(request)
        return web.Response(text=ARTICLE, content_type="text/html")

    async def broken(self, request: web.Request) -> web.Response:
        self.count(request)
        return web.Response(status=500)

    async def plain(self, request: web.Request) -> web.Response:
        self.count(request)
        return web.Response(text="<html><body><p>Just a page, no feed.</p></body></html>", content_type="text/html")


@pytest_asyncio.fixture(loop_scope="function")  # the loop the tests run in, not the session's
async def site(loopback_server):
    s = FeedSite()
    async with loopback_server(s.app()) as url:
        s.url = url  # type: ignore[attr-defined]
        yield s


@pytest_asyncio.fixture(loop_scope="function")
async def kb(tmp_path: Path):
    config = KnowledgeConfig(db=tmp_path / "kb.db", max_file_bytes=64 * 1024, fetch_allow=("127.0.0.1",))
    async with await KnowledgeBase.open(config, embedder=HashingEmbedder()) as kb:
        yield kb


NOW = dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC)


async def test_a_new_rss_entry_is_indexed_exactly_once_with_its_date_and_link(kb, site):
    site.rss = rss([("g1", "Ferry line reopens", f"{site.url}/page", "Short teaser.")])
    feed = await kb.add_feed(f"{site.url}/rss", guild_id=GUILD)
    assert feed.title == "Harbour News"
    [first] = await kb.poll_feeds(now=NOW)
    [doc] = first.added
    assert doc.title == "Ferry line reopens" and doc.guild_id == GUILD
    assert doc.published == dt.date(2026, 3, 3) and doc.origin == f"{site.url}/page"
    assert "forty minutes" in await kb.document_text(doc.id)  # the page, not the teaser
    # The feed changes (no 304): the old entry is seen, only the new one is indexed.
    site.rss = rss(
        [
            ("g2", "Bridge to be rebuilt", f"{site.url}/broken", LONG),
            ("g1", "Ferry line reopens", f"{site.url}/page", "Short teaser."),
        ]
    )
    [again] = await kb.poll_feeds(now=NOW + dt.timedelta(minutes=30))
    assert [d.title for d in again.added] == ["Bridge to be rebuilt"] and again.skipped == 1
    assert await kb.count_documents(scope=GUILD) == 2
    assert site.hits["/page"] == 1


async def test_an_entry_whose_page_fails_falls_back_to_its_content(kb, site):
    site.atom = atom([("urn:1", "Bridge to be rebuilt", f"{site.url}/broken", f"&lt;p&gt;{LONG}&lt;/p&gt;")])
    await kb.add_feed(f"{site.url}/atom", guild_id=GUILD, title="Gazette")
    [poll] = await kb.poll_feeds(now=NOW)
    [doc] = poll.added
    assert doc.title == "Bridge to be rebuilt" and doc.published == dt.date(2026, 3, 4)
    assert doc.origin == f"{site.url}/broken" and doc.source == "Valley Gazette"
    assert "stone bridge" in await kb.document_text(doc.id)
    assert site.hits["/broken"] == 1


async def test_the_same_content_under_a_new_guid_is_skipped(kb, site):
    site.rss = rss([("g1", "Bridge to be rebuilt", f"{site.url}/broken", LONG)])
    await kb.add_feed(f"{site.url}/rss", guild_id=GUILD)
    await kb.poll_feeds(now=NOW)
    site.rss = rss([("g2", "Bridge to be rebuilt", f"{site.url}/broken", LONG)])
    [poll] = await kb.poll_feeds(now=NOW + dt.timedelta(hours=1))
    assert poll.added == [] and poll.skipped == 1 and not poll.not_modified
    assert await kb.count_documents(scope=GUILD) == 1


async def test_a_malformed_feed_logs_an_error_and_is_kept_with_a_backoff(kb, site, caplog):
    site.rss = rss([("g1", "Ferry line reopens", f"{site.url}/page", "Short.")])
    feed = await kb.add_feed(f"{site.url}/rss", guild_id=GUILD)
    site.rss = "<html><body>maintenance <b>page</p></html>"
    [poll] = await kb.poll_feeds(now=NOW)
    assert poll.error and "not an RSS or Atom feed" in poll.error
    assert "failed" in caplog.text and any(r.levelname == "ERROR" for r in caplog.records)
    [kept] = await kb.list_feeds(scope=GUILD)
    assert kept.id == feed.id and kept.failures == 1 and kept.last_error == poll.error
    assert kept.next_poll_at == NOW + dt.timedelta(minutes=30)
    assert await kb.poll_feeds(now=NOW + dt.timedelta(minutes=10)) == []  # backed off
    [second] = await kb.poll_feeds(now=NOW + dt.timedelta(minutes=31))
    assert second.error
    [kept] = await kb.list_feeds(scope=GUILD)
    assert kept.failures == 2 and kept.next_poll_at == NOW + dt.timedelta(minutes=31 + 60)


@pytest.mark.parametrize("kind", ["rss", "atom"])
async def test_a_304_fetches_nothing_again(kb, site, kind):
    entries = [("g1", "Bridge to be rebuilt", f"{site.url}/broken", LONG)]
    setattr(site, kind, rss(entries) if kind == "rss" else atom(entries))
    await kb.add_feed(f"{site.url}/{kind}", guild_id=GUILD)
    [first] = await kb.poll_feeds(now=NOW)
    assert len(first.added) == 1
    pages = dict(site.hits)
    [second] = await kb.poll_feeds(now=NOW + dt.timedelta(minutes=30))
    assert second.not_modified and second.added == [] and second.error is None
    assert site.conditional[-1] != (None, None)  # the validators were sent
    assert site.hits["/broken"] == pages["/broken"]  # no entry page fetched again
    [feed] = await kb.list_feeds(scope=GUILD)
    assert feed.last_success_at == NOW + dt.timedelta(minutes=30) and feed.failures == 0


async def test_a_url_that_is_not_a_feed_is_refused_and_nothing_saved(kb, site):
    with pytest.raises(NotAFeed, match="not an RSS or Atom feed"):
        await kb.add_feed(f"{site.url}/plain", guild_id=GUILD)
    assert await kb.list_feeds() == []


async def test_feeds_belong_to_their_server(kb, site):
    site.rss = rss([("g1", "Ferry line reopens", f"{site.url}/page", "Short.")])
    feed = await kb.add_feed(f"{site.url}/rss", guild_id=GUILD)
    with pytest.raises(InvalidInput, match="already followed"):
        await kb.add_feed(f"{site.url}/rss", guild_id=GUILD)
    other = await kb.add_feed(f"{site.url}/rss", guild_id=OTHER)
    assert [f.id for f in await kb.list_feeds(scope=OTHER)] == [other.id]
    with pytest.raises(InvalidInput, match="no feed"):
        await kb.remove_feed(feed.id, guild_id=OTHER)
    assert (await kb.remove_feed(feed.id, guild_id=GUILD)).id == feed.id
    assert [f.id for f in await kb.list_feeds()] == [other.id]


async def test_server_settings_round_trip(kb):
    assert not (await kb.guild_settings(GUILD)).briefing_configured
    saved = await kb.set_guild_briefing(GUILD, channel_id=5, at="7:05", tz="Europe/Paris")
    assert saved.briefing_time == dt.time(7, 5) and saved.briefing_tz == "Europe/Paris" and saved.briefing_enabled
    await kb.set_guild_moderator_role(GUILD, 42)
    assert (await kb.guild_settings(GUILD)).moderator_role_id == 42
    assert [g.guild_id for g in await kb.guild_briefings()] == [GUILD]
    assert await kb.disable_guild_briefing(GUILD) and not await kb.disable_guild_briefing(GUILD)
    assert await kb.guild_briefings() == []
    assert (await kb.guild_settings(GUILD)).briefing_configured  # off, but set here: .env no longer applies
    assert await kb.toggle_ask_channel(GUILD, 9) and await kb.ask_channels(GUILD) == [9]
    assert not await kb.toggle_ask_channel(GUILD, 9) and await kb.ask_channels() == []


@pytest.mark.parametrize("bad", ["25:00", "7", "07:60", "noon", ""])
def test_a_malformed_time_is_refused(bad):
    with pytest.raises(InvalidInput, match="HH:MM"):
        parse_clock(bad)


@pytest.mark.parametrize("bad", ["Mars/Olympus", "Europe", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused(bad):
    with pytest.raises(InvalidInput, match="unknown time zone"):
        check_timezone(bad)


def test_backoff_doubles_up_to_a_day():
    half_hour = dt.timedelta(minutes=30)
    assert [backoff(half_hour, n) for n in (1, 2, 3)] == [half_hour, 2 * half_hour, 4 * half_hour]
    assert backoff(half_hour, 40) == dt.timedelta(hours=24)


def test_entry_html_becomes_paragraphs():
    assert plain_text("<p>One &amp; two.</p><p>Three<br>four</p>") == "One & two.\n\nThree\n\nfour"
