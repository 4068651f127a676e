"""Setting a server up (``/setup``, ``/feed``, ``newsdesk feed``): per-server briefings and moderator
role, ask channels, feeds. ``KnowledgeBase`` offers these through a ``ServerSetup``, so the bot and
the CLI never reach into the store, and service.py stays about documents and answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Protocol

from . import feeds, ingest
from .backends.interface import FeedStore, SetupStore
from .clock import utcnow
from .config import KnowledgeConfig
from .errors import InvalidInput
from .models import Feed, GuildSettings
from .scope import Scope
from .timezones import canonical_timezone

DEFAULT_FEED_INTERVAL = dt.timedelta(minutes=30)
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_clock(text: str) -> dt.time:
    """A time of day typed as HH:MM (24 h); ``InvalidInput`` naming what was typed otherwise."""
    m = _CLOCK.fullmatch(text.strip())
    if not m:
        raise InvalidInput(f"cannot read the time {text.strip()[:20]!r}: use HH:MM on a 24-hour clock, like 07:30")
    return dt.time(int(m.group(1)), int(m.group(2)))


def check_timezone(name: str) -> str:
    """A canonical IANA time zone name (``timezones``), as the tz database spells it;
    ``InvalidInput`` for anything else (``posixrules``, ``Factory``, ``right/UTC``, ``localtime``)."""
    zone = canonical_timezone(name)
    if zone is None:
        raise InvalidInput(
            f"unknown time zone {name.strip()[:40]!r}: use an IANA name like Europe/Paris or America/New_York"
        )
    return zone


class SetupRecords(SetupStore, FeedStore, Protocol):
    """What server setup keeps: settings, ask channels and feeds."""


class ServerSetup:
    """Server settings and feeds over ``records``; feed entries are indexed through ``indexer``."""

    def __init__(self, config: KnowledgeConfig, records: SetupRecords, indexer: feeds.EntryIndexer) -> None:
        self.config = config
        self.records = records
        self.indexer = indexer

    # ------------------------------------------------------------------ server settings

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        return await self.records.guild_settings(guild_id)

    async def set_guild_briefing(self, guild_id: int, *, channel_id: int, at: str, tz: str) -> GuildSettings:
        """Turn on the server's daily briefing; both values are checked before anything is saved."""
        clock, zone = parse_clock(at), check_timezone(tz)
        await self.records.set_guild_briefing(guild_id, channel_id=channel_id, at=clock, tz=zone)
        return await self.records.guild_settings(guild_id)

    async def disable_guild_briefing(self, guild_id: int) -> bool:
        return await self.records.disable_guild_briefing(guild_id)

    async def guild_briefings(self) -> list[GuildSettings]:
        return await self.records.guild_briefings()

    async def set_guild_moderator_role(self, guild_id: int, role_id: int | None) -> None:
        await self.records.set_guild_moderator_role(guild_id, role_id)

    async def toggle_ask_channel(self, guild_id: int, channel_id: int) -> bool:
        return await self.records.toggle_ask_channel(guild_id, channel_id)

    async def ask_channels(self, guild_id: int | None = None) -> list[int]:
        return await self.records.ask_channels(guild_id)

    # ------------------------------------------------------------------ feeds

    async def add_feed(self, url: str, *, guild_id: int | None, title: str | None = None) -> Feed:
        """Follow a feed: fetched and parsed once now, so a link that is not a feed is refused at
        once. Its entries are indexed by the next poll."""
        url = url.strip()
        shown = ingest.short_url(url)
        if await self.records.feed_by_url(url, guild_id) is not None:
            raise InvalidInput(f"{shown} is already followed here")
        _, parsed = await feeds.fetch_parsed(self.config, url)
        name = ingest.clean_name(" ".join((title or (parsed.title if parsed else None) or shown).split()))[:200]
        feed = await self.records.insert_feed(guild_id=guild_id, url=url, title=name)
        if feed is None:  # added meanwhile by someone else
            raise InvalidInput(f"{shown} is already followed here")
        return feed

    async def remove_feed(self, feed_id: int, *, guild_id: Scope = None) -> Feed:
        """Stop following a feed (its documents stay). With ``guild_id`` only that server's own."""
        feed = await self.records.feed(feed_id)
        if feed is None or (guild_id is not None and feed.guild_id != (guild_id or None)):
            raise InvalidInput(f"no feed #{feed_id} that can be removed here"[:80])
        await self.records.delete_feed(feed.id)
        return feed

    async def list_feeds(self, *, scope: Scope = None) -> list[Feed]:
        return await self.records.list_feeds(scope=scope)

    async def poll_feeds(
        self, *, now: dt.datetime | None = None, interval: dt.timedelta = DEFAULT_FEED_INTERVAL
    ) -> list[feeds.FeedPoll]:
        """Poll every feed that is due (a failing one waits out its backoff), ``FEED_CONCURRENCY``
        at a time, each within its time budget: a slow feed holds up no other. In the order due."""
        now = now or utcnow()
        slots = asyncio.Semaphore(feeds.FEED_CONCURRENCY)

        async def poll(feed: Feed) -> feeds.FeedPoll:
            async with slots:
                return await feeds.poll_feed(
                    feed, records=self.records, indexer=self.indexer, config=self.config, now=now, interval=interval
                )

        return list(await asyncio.gather(*(poll(feed) for feed in await self.records.feeds_due(now))))
