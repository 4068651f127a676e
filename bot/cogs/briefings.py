"""/brief on demand, and the daily briefings: each server's own (``/setup briefing``: its channel,
time and time zone), and BRIEFING_CHANNEL_ID at BRIEFING_TIME for a server that set none.

Each post is claimed before it is sent (a ``briefing_posts`` row per channel and day): a restart, a
retry or a failed write never posts twice for one day, and a briefing missed while the bot was down
is posted once at start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands, tasks

from knowledge import dates, scope_of
from knowledge.models import Briefing, cited_passages

from .. import render, schedule
from ..app import NewsdeskBot
from ..checks import InFlight, rate_limited
from ..tree import BadInput

log = logging.getLogger(__name__)

# Seconds to wait before each retry of a failed scheduled post (Discord or the model hiccuping).
RETRY_DELAYS_S: tuple[float, ...] = (30.0, 120.0, 600.0)


BUSY_MESSAGE = "A briefing is already being prepared here; it will appear in this channel shortly."


@dataclass
class _Post:
    """How far one day's scheduled post got, kept across its retries so that a retry redoes only
    what failed: never a second claim, never a message already sent."""

    day: dt.date
    channel_id: int
    tz: dt.tzinfo
    # Known for a server's own briefing (/setup briefing); for BRIEFING_CHANNEL_ID, its channel's guild.
    guild_id: int | None = None
    claimed: bool = False
    since: dt.datetime | None = None
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
        # Missed server briefings are caught up when the bot starts, not when a /setup starts the
        # loop later: that posted at once for the first server set up after its time, not the next.
        self.catch_up_at_start = False

    async def cog_load(self) -> None:
        if self.settings.briefing_channel_id:
            self.daily.change_interval(time=self.settings.briefing_at)
            self.daily.start()
        else:
            log.info("BRIEFING_CHANNEL_ID not set: no daily briefing")
        await self.reschedule_guilds()
        # Running: some server has a briefing, and its before_loop (after ready) catches up.
        self.catch_up_at_start = self.guild_daily.is_running()

    async def cog_unload(self) -> None:
        self.daily.cancel()
        self.guild_daily.cancel()

    # ------------------------------------------------------------------ /brief

    @app_commands.command(name="brief", description="A briefing of what was added recently")
    @app_commands.describe(since="How far back: 12h, 3d, 1w or a date like 2024-05-01, up to a year (default 24h)")
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
            **cited_passages(briefing.citations),
            latency_ms=round(latency, 1),
        )
        for embeds in render.briefing_messages(briefing, tz=self.settings.tz):
            await interaction.followup.send(embeds=embeds)

    # ------------------------------------------------------------------ the daily post

    @tasks.loop(time=dt.time(8, 0, tzinfo=dt.UTC))  # replaced by BRIEFING_TIME in cog_load
    async def daily(self) -> None:
        if await self._default_overridden():
            return
        await self.post_for_day(schedule.local_day(discord.utils.utcnow(), self.settings.tz))

    @daily.before_loop
    async def before_daily(self) -> None:
        await self.bot.wait_until_ready()
        channel_id = self.settings.briefing_channel_id
        assert channel_id is not None, "cog_load starts the daily loop only when BRIEFING_CHANNEL_ID is set"
        if await self._default_overridden():
            return
        now = discord.utils.utcnow()
        day = schedule.local_day(now, self.settings.tz)
        posted = await self.bot.kb.briefing_posted(channel_id, day)
        if schedule.catch_up_due(now, self.settings.briefing_time, self.settings.tz, posted_today=posted):
            log.info("today's briefing (%s) was missed while the bot was down: posting it now", day)
            await self.post_for_day(day)

    async def _default_overridden(self) -> bool:
        """Whether the server of BRIEFING_CHANNEL_ID set its own briefing (even off) with /setup."""
        channel_id = self.settings.briefing_channel_id
        channel = self.bot.get_channel(channel_id) if channel_id else None
        guild = getattr(channel, "guild", None)
        return guild is not None and (await self.bot.kb.guild_settings(guild.id)).briefing_configured

    # ------------------------------------------------------------------ each server's own (/setup briefing)

    @tasks.loop(time=dt.time(0, 0, tzinfo=dt.UTC))  # replaced by reschedule_guilds
    async def guild_daily(self) -> None:
        await self.post_due_guilds()
        await self.reschedule_guilds()

    @guild_daily.before_loop
    async def before_guild_daily(self) -> None:
        await self.bot.wait_until_ready()
        # A restart after a server's time: its missed briefing is posted once, now.
        if self.catch_up_at_start:
            self.catch_up_at_start = False
            await self.post_due_guilds()

    async def reschedule_guilds(self) -> None:
        """(Re)arm the loop for every server's next post; called at start, after each post and when
        /setup changes a briefing. The times are UTC instants of each server's next local time, so a
        daylight-saving change moves them on the next reschedule."""
        guilds = await self.bot.kb.guild_briefings()
        if not guilds:
            self.guild_daily.cancel()
            return
        now = discord.utils.utcnow()
        times = sorted(
            {
                schedule.next_post(now, g.briefing_time, ZoneInfo(g.briefing_tz)).timetz()
                for g in guilds
                if g.briefing_time and g.briefing_tz
            }
        )
        self.guild_daily.change_interval(time=times)
        if not self.guild_daily.is_running():
            self.guild_daily.start()

    async def post_due_guilds(self) -> None:
        """Post every server's briefing whose time today has passed and that has none for today."""
        now = discord.utils.utcnow()
        for g in await self.bot.kb.guild_briefings():
            if g.briefing_time is None or g.briefing_tz is None or g.briefing_channel_id is None:
                continue
            tz = ZoneInfo(g.briefing_tz)
            day = schedule.local_day(now, tz)
            posted = await self.bot.kb.briefing_posted(g.briefing_channel_id, day)
            if schedule.catch_up_due(now, g.briefing_time, tz, posted_today=posted):
                await self.post_for_day(day, channel_id=g.briefing_channel_id, guild_id=g.guild_id, tz=tz)

    async def post_for_day(
        self, day: dt.date, *, channel_id: int | None = None, guild_id: int | None = None, tz: dt.tzinfo | None = None
    ) -> bool:
        """Post the briefing for ``day`` in ``channel_id`` (default BRIEFING_CHANNEL_ID) unless one
        is recorded; retried with backoff on failure. Never raises: an exception would end the loop
        and every later briefing with it."""
        channel_id = channel_id or self.settings.briefing_channel_id
        assert channel_id is not None, "a channel is given or BRIEFING_CHANNEL_ID is set"
        post = _Post(day, channel_id=channel_id, tz=tz or self.settings.tz, guild_id=guild_id)
        for attempt in range(len(RETRY_DELAYS_S) + 1):
            try:
                return await self._post_once(post)
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt == len(RETRY_DELAYS_S):
                    log.exception("briefing for %s failed %d times; giving up until the next one", day, attempt + 1)
                    await self.bot.record(
                        "brief", guild_id=guild_id, channel_id=channel_id, input=f"scheduled {day}", outcome="error"
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
        channel_id = post.channel_id
        kb = self.bot.kb
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        if not post.claimed:
            post.guild_id = post.guild_id or getattr(getattr(channel, "guild", None), "id", None)
            now = discord.utils.utcnow()
            # Read before claiming: the claim itself becomes the last post.
            post.since = schedule.briefing_window_start(now, await kb.last_briefing_at(channel_id))
            if not await kb.claim_briefing(channel_id=channel_id, day=post.day, guild_id=post.guild_id, at=now):
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
            post.messages = render.briefing_messages(post.briefing, tz=post.tz)
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError(f"briefing channel {channel_id} is not a channel messages can be sent to")
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
            **cited_passages(briefing.citations),
            latency_ms=round(post.latency_ms, 1),
        )
        log.info("posted the briefing for %s in %s", post.day, channel_id)
        return True


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Briefings(bot))
