"""/brief on demand, and the daily briefing posted at BRIEFING_TIME in BRIEFING_CHANNEL_ID.

Each post is claimed before it is sent (a ``briefing_posts`` row per channel and day): a restart, a
retry or a failed write never posts twice for one day, and a briefing missed while the bot was down
is posted once at start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field

import discord
from discord import app_commands
from discord.ext import commands, tasks

from knowledge import dates, scope_of
from knowledge.models import Briefing

from .. import render, schedule
from ..app import NewsdeskBot
from ..checks import InFlight, rate_limited
from ..tree import BadInput

log = logging.getLogger(__name__)

# Seconds to wait before each retry of a failed scheduled post (Discord or the model hiccuping).
RETRY_DELAYS_S: tuple[float, ...] = (30.0, 120.0, 600.0)


BUSY_MESSAGE = "A briefing is already being prepared here; it will appear in this channel shortly."


def passage_ids(briefing: Briefing) -> list[int]:
    return [c.passage_id for s in briefing.stories for c in s.citations]


@dataclass
class _Post:
    """How far one day's scheduled post got, kept across its retries so that a retry redoes only
    what failed: never a second claim, never a message already sent."""

    day: dt.date
    claimed: bool = False
    since: dt.datetime | None = None
    guild_id: int | None = None
    briefing: Briefing | None = None
    latency_ms: float = 0.0
    messages: list[list[discord.Embed]] = field(default_factory=list)
    sent: int = 0


class Briefings(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        # /brief is open to every reader and costs a full briefing: one at a time per server.
        self.in_flight = InFlight(BUSY_MESSAGE)

    async def cog_load(self) -> None:
        if self.settings.briefing_channel_id:
            self.daily.change_interval(time=self.settings.briefing_at)
            self.daily.start()
        else:
            log.info("BRIEFING_CHANNEL_ID not set: no daily briefing")

    async def cog_unload(self) -> None:
        self.daily.cancel()

    # ------------------------------------------------------------------ /brief

    @app_commands.command(name="brief", description="A briefing of what was added recently")
    @app_commands.describe(since="How far back: 12h, 3d, 1w or a date like 2024-05-01 (default 24h)")
    @rate_limited()
    async def brief(self, interaction: discord.Interaction[NewsdeskBot], since: str | None = None) -> None:
        now = discord.utils.utcnow()
        try:
            start = dates.parse_since(since, now, self.settings.tz)
        except ValueError as e:
            # The message quotes what the user typed: escaped like any other user text.
            raise BadInput(render.escape(str(e))) from None
        async with self.in_flight.hold(interaction.guild_id or ("dm", interaction.user.id)):
            await interaction.response.defer(thinking=True)  # summarising can take over 3 s
            started = asyncio.get_running_loop().time()
            briefing = await self.bot.kb.brief(
                since=start, scope=scope_of(interaction.guild_id), max_words=self.settings.briefing_max_words
            )
            latency = (asyncio.get_running_loop().time() - started) * 1000
        await self.bot.record(
            "brief",
            interaction=interaction,
            input=since or "24h",
            outcome="empty" if briefing.empty else "posted",
            answer=briefing.text,
            passage_ids=passage_ids(briefing),
            latency_ms=round(latency, 1),
        )
        for embeds in render.briefing_messages(briefing, tz=self.settings.tz):
            await interaction.followup.send(embeds=embeds)

    # ------------------------------------------------------------------ the daily post

    @tasks.loop(time=dt.time(8, 0, tzinfo=dt.UTC))  # replaced by BRIEFING_TIME in cog_load
    async def daily(self) -> None:
        await self.post_for_day(schedule.local_day(discord.utils.utcnow(), self.settings.tz))

    @daily.before_loop
    async def before_daily(self) -> None:
        await self.bot.wait_until_ready()
        channel_id = self.settings.briefing_channel_id
        assert channel_id is not None, "cog_load starts the daily loop only when BRIEFING_CHANNEL_ID is set"
        now = discord.utils.utcnow()
        day = schedule.local_day(now, self.settings.tz)
        posted = await self.bot.kb.store.briefing_posted(channel_id, day)
        if schedule.catch_up_due(now, self.settings.briefing_time, self.settings.tz, posted_today=posted):
            log.info("today's briefing (%s) was missed while the bot was down: posting it now", day)
            await self.post_for_day(day)

    async def post_for_day(self, day: dt.date) -> bool:
        """Post the briefing for ``day`` unless one is recorded; retried with backoff on failure.
        Never raises: an exception would end the loop and every later briefing with it."""
        post = _Post(day)
        for attempt in range(len(RETRY_DELAYS_S) + 1):
            try:
                return await self._post_once(post)
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt == len(RETRY_DELAYS_S):
                    log.exception("briefing for %s failed %d times; giving up until the next one", day, attempt + 1)
                    await self.bot.record(
                        "brief", channel_id=self.settings.briefing_channel_id, input=f"scheduled {day}", outcome="error"
                    )
                    return False
                delay = RETRY_DELAYS_S[attempt]
                log.exception("briefing for %s failed (attempt %d); retrying in %.0f s", day, attempt + 1, delay)
                await asyncio.sleep(delay)
        return False

    async def _post_once(self, post: _Post) -> bool:
        """One attempt, resuming where the previous one stopped.

        The day is claimed (its ``briefing_posts`` row written) *before* anything is sent, and only
        the attempt that wins the claim posts. Recording after sending posted twice whenever the
        write failed: the retry saw no record. The price is at most once instead of at least once:
        if the process dies between the claim and the send, that day's briefing is skipped (and
        logged), which beats a channel getting it twice."""
        channel_id = self.settings.briefing_channel_id
        assert channel_id is not None, "cog_load starts the daily loop only when BRIEFING_CHANNEL_ID is set"
        store = self.bot.kb.store
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        if not post.claimed:
            post.guild_id = getattr(getattr(channel, "guild", None), "id", None)
            now = discord.utils.utcnow()
            # Read before claiming: the claim itself becomes the last post.
            post.since = schedule.briefing_window_start(now, await store.last_briefing_at(channel_id))
            if not await store.record_briefing_post(
                channel_id=channel_id, day=post.day, guild_id=post.guild_id, at=now
            ):
                log.info("briefing for %s already posted in %s", post.day, channel_id)
                return False
            post.claimed = True
        if post.briefing is None:
            assert post.since is not None, "set before the claim, and a retry resumes after the claim"
            started = asyncio.get_running_loop().time()
            post.briefing = await self.bot.kb.brief(
                since=post.since, scope=scope_of(post.guild_id), max_words=self.settings.briefing_max_words
            )
            post.latency_ms = (asyncio.get_running_loop().time() - started) * 1000
            post.messages = render.briefing_messages(post.briefing, tz=self.settings.tz)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"BRIEFING_CHANNEL_ID {channel_id} is not a channel messages can be sent to")
        while post.sent < len(post.messages):
            await channel.send(embeds=post.messages[post.sent])
            post.sent += 1
        briefing = post.briefing
        await self.bot.record(
            "brief",
            guild_id=post.guild_id,
            channel_id=channel_id,
            input=f"scheduled {post.day}",
            outcome="empty" if briefing.empty else "posted",
            answer=briefing.text,
            passage_ids=passage_ids(briefing),
            latency_ms=round(post.latency_ms, 1),
        )
        log.info("posted the briefing for %s in %s", post.day, channel_id)
        return True


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Briefings(bot))
