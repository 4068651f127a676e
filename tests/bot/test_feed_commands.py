"""/feed add, /feed remove (autocompleted) and /feed list with each permission path, a URL that is
not a feed, and the poll loop indexing a feed served on loopback into the server's documents."""

from dataclasses import replace

import pytest
import simcord
from aiohttp import web
from bot_helpers import reply_of, with_settings

from bot.app import create_bot
from bot.checks import NotModerator
from knowledge.errors import NotAFeed

pytestmark = pytest.mark.asyncio(loop_scope="session")

RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour News</title>
<item><title>Ferry line reopens</title><link>{base}/missing</link><guid>g1</guid>
<pubDate>Tue, 03 Mar 2026 09:00:00 GMT</pubDate>
<description>The island ferry line reopened on Tuesday after the new harbour pier was finished by the port
authority, and ferries will sail every forty minutes in summer.</description></item>
</channel></rss>"""


def feed_site() -> web.Application:
    app = web.Application()

    async def rss(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return web.Response(text=RSS.format(base=base), content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html><body><p>Not a feed.</p></body></html>", content_type="text/html")

    app.router.add_get("/rss", rss)
    app.router.add_get("/page", page)
    return app


@pytest.fixture
async def feeds_world(world, settings, loopback_server):
    """The world's bot allowed to fetch from loopback (the feed site is served there)."""
    allowed = with_settings(settings, knowledge=replace(settings.knowledge, fetch_allow=("127.0.0.1",)))
    await world.env.restart_bot(create_bot(allowed, embedder=world.kb.embedder))
    async with loopback_server(feed_site()) as base:
        world.base = base
        yield world


async def test_a_member_cannot_add_list_or_remove_feeds(feeds_world):
    w = feeds_world
    for name, options in [("feed add", {"url": f"{w.base}/rss"}), ("feed list", {}), ("feed remove", {"feed": 1})]:
        result = await w.user.slash(w.channel, name, **options)
        simcord.assert_error(w.env, NotModerator)
        assert result.ephemeral and "Only moderators" in result.response.content
    assert await w.kb.list_feeds() == []


@pytest.mark.parametrize("who", ["mod", "manager"])
async def test_a_moderator_or_manager_adds_lists_and_removes_a_feed(feeds_world, who):
    w = feeds_world
    member = getattr(w, who)
    added = await member.slash(w.channel, "feed add", url=f"{w.base}/rss")
    assert reply_of(added).ephemeral and "Harbour News" in reply_of(added).content
    [feed] = await w.kb.list_feeds(scope=w.guild.id)
    listed = await member.slash(w.channel, "feed list")
    assert listed.ephemeral and "Harbour News" in listed.response.embeds[0].description
    assert "last success: never" in listed.response.embeds[0].description
    choices = await member.autocomplete(w.channel, "feed remove", "feed", "harb")
    assert [c["value"] for c in choices] == [feed.id]
    removed = await member.slash(w.channel, "feed remove", feed=feed.id)
    assert removed.ephemeral and "Stopped following" in removed.response.content
    assert await w.kb.list_feeds() == []


async def test_a_url_that_is_not_a_feed_is_refused(feeds_world):
    w = feeds_world
    result = await w.mod.slash(w.channel, "feed add", url=f"{w.base}/page")
    simcord.assert_error(w.env, NotAFeed)
    assert reply_of(result).ephemeral and "not an RSS or Atom feed" in reply_of(result).content
    assert await w.kb.list_feeds() == []


async def test_the_poll_loop_indexes_new_entries_into_the_servers_documents(feeds_world):
    w = feeds_world
    await w.mod.slash(w.channel, "feed add", url=f"{w.base}/rss")
    cog = w.bot.get_cog("Feeds")
    assert cog.poll.is_running()
    await cog.poll()  # one tick, as the loop runs it every FEED_POLL_MINUTES
    await cog.poll()
    docs = [d for d in await w.kb.list_documents(scope=w.guild.id) if d.guild_id == w.guild.id]
    assert [d.title for d in docs] == ["Ferry line reopens"]  # the entry's content: its page is missing
    listed = await w.mod.slash(w.channel, "feed list")
    assert "last success: 2026-01-01 00:00 UTC" in listed.response.embeds[0].description
