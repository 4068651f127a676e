"""/brief on demand, and the daily briefing posted at BRIEFING_TIME in BRIEFING_CHANNEL_ID.

Each post is recorded (``briefing_posts``): a restart never posts twice for one day, and a briefing
missed while the bot was down is posted once at start.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import discord
from discord import app_commands
from discord.ext import commands, tasks

from knowledge import GLOBAL_SCOPE, dates
from knowledge.models import Briefing

from .. import render, schedule
from ..app import NewsdeskBot
from ..checks import rate_limited
from ..tree import BadInput

log = logging.getLogger(__name__)

# Seconds to wait before each retry of a failed scheduled post (Discord or the model hiccuping).
RETRY_DELAYS_S: tuple[float, ...] = (30.0, 120.0, 600.0)


def passage_ids(briefing: Briefing) -> list[int]:
    return [c.passage_id for s in briefing.stories for c in s.citations]


class Briefings(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.settings = bot.settings

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
    async def brief(self, interaction: discord.Interaction, since: str | None = None) -> None:
        now = discord.utils.utcnow()
        try:
            start = dates.parse_since(since, now, self.settings.tz)
        except ValueError as e:
            raise BadInput(str(e)) from None
        await interaction.response.defer(thinking=True)  # summarising can take over 3 s
        started = asyncio.get_running_loop().time()
        briefing = await self.bot.kb.brief(since=start, scope=interaction.guild_id or GLOBAL_SCOPE,
                                           max_words=self.settings.briefing_max_words)
        latency = (asyncio.get_running_loop().time() - started) * 1000
        await self.bot.record("brief", interaction=interaction, input=since or "24h",
                              outcome="empty" if briefing.empty else "posted", answer=briefing.text,
                              passage_ids=passage_ids(briefing), latency_ms=round(latency, 1))
        for embeds in render.briefing_messages(briefing, tz=self.settings.tz):
            await interaction.followup.send(embeds=embeds)

    # ------------------------------------------------------------------ the daily post

    @tasks.loop(time=dt.time(8, 0, tzinfo=dt.timezone.utc))  # replaced by BRIEFING_TIME in cog_load
    async def daily(self) -> None:
        await self.post_for_day(schedule.local_day(discord.utils.utcnow(), self.settings.tz))

    @daily.before_loop
    async def before_daily(self) -> None:
        await self.bot.wait_until_ready()
        channel_id = self.settings.briefing_channel_id
        now = discord.utils.utcnow()
        day = schedule.local_day(now, self.settings.tz)
        posted = await self.bot.kb.store.briefing_posted(channel_id, day)
        if schedule.catch_up_due(now, self.settings.briefing_time, self.settings.tz, posted_today=posted):
            log.info("today's briefing (%s) was missed while the bot was down: posting it now", day)
            await self.post_for_day(day)

    async def post_for_day(self, day: dt.date) -> bool:
        """Post the briefing for ``day`` unless one is recorded; retried with backoff on failure.
        Never raises: an exception would end the loop and every later briefing with it."""
        for attempt in range(len(RETRY_DELAYS_S) + 1):
            try:
                return await self._post_once(day)
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt == len(RETRY_DELAYS_S):
                    log.exception("briefing for %s failed %d times; giving up until the next one", day, attempt + 1)
                    await self.bot.record("brief", channel_id=self.settings.briefing_channel_id,
                                          input=f"scheduled {day}", outcome="error")
                    return False
                delay = RETRY_DELAYS_S[attempt]
                log.exception("briefing for %s failed (attempt %d); retrying in %.0f s", day, attempt + 1, delay)
                await asyncio.sleep(delay)
        return False

    async def _post_once(self, day: dt.date) -> bool:
        channel_id = self.settings.briefing_channel_id
        store = self.bot.kb.store
        if await store.briefing_posted(channel_id, day):
            log.info("briefing for %s already posted in %s", day, channel_id)
            return False
        channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
        guild_id = getattr(getattr(channel, "guild", None), "id", None)
        now = discord.utils.utcnow()
        since = schedule.briefing_window_start(now, await store.last_briefing_at(channel_id))
        started = asyncio.get_running_loop().time()
        briefing = await self.bot.kb.brief(since=since, scope=guild_id or GLOBAL_SCOPE,
                                           max_words=self.settings.briefing_max_words)
        latency = (asyncio.get_running_loop().time() - started) * 1000
        sent = [await channel.send(embeds=embeds) for embeds in render.briefing_messages(briefing, tz=self.settings.tz)]
        # Recorded after sending: if Discord failed we retry; the unique (channel, day) row stops a
        # second post after a restart.
        await store.record_briefing_post(channel_id=channel_id, day=day, guild_id=guild_id,
                                         message_id=sent[0].id if sent else None, at=now)
        await self.bot.record("brief", guild_id=guild_id, channel_id=channel_id, input=f"scheduled {day}",
                              outcome="empty" if briefing.empty else "posted", answer=briefing.text,
                              passage_ids=passage_ids(briefing), latency_ms=round(latency, 1))
        log.info("posted the briefing for %s in %s", day, channel_id)
        return True


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Briefings(bot))
