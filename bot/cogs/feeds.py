"""/feed add, /feed remove, /feed list (moderators, checked in the bot), and the poll loop that
indexes each followed feed's new entries into its server's documents (``knowledge.feeds``)."""

from __future__ import annotations

import datetime as dt
import logging

import discord
from discord import app_commands
from discord.ext import commands, tasks

from knowledge.errors import KnowledgeError
from knowledge.ingest import strip_credentials
from knowledge.models import Feed
from knowledge.plain import plural

from .. import render
from ..app import NewsdeskBot
from ..checks import moderator_only

log = logging.getLogger(__name__)

AUTOCOMPLETE_CHOICES = 25  # Discord's maximum


def _when(at: dt.datetime | None) -> str:
    # Plain text: pack_embeds neutralises Discord's <t:...> timestamps like any other live syntax.
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "never"


def feed_line(feed: Feed) -> str:
    ok = _when(feed.last_success_at)
    line = f"**#{feed.id} {render.escape(render.one_line(feed.title))}**\n<{strip_credentials(feed.url)}>\nlast success: {ok}"
    if feed.last_error and feed.failures:
        line += f" · last error {_when(feed.last_error_at)}: {render.escape(render.trim(render.one_line(feed.last_error), 200))}"
    return line


class Feeds(commands.GroupCog, group_name="feed", group_description="News feeds indexed into this server's documents"):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        self.interval = dt.timedelta(minutes=bot.settings.feed_poll_minutes)
        super().__init__()

    async def cog_load(self) -> None:
        self.poll.change_interval(minutes=self.bot.settings.feed_poll_minutes)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # Started once connected, not in cog_load: a bot set up without logging in (a tool, a test)
        # must not leave a loop behind that waits for a connection forever.
        if not self.poll.is_running():
            self.poll.start()

    async def cog_unload(self) -> None:
        self.poll.cancel()

    @tasks.loop(minutes=30)  # FEED_POLL_MINUTES in cog_load
    async def poll(self) -> None:
        try:
            await self.bot.kb.poll_feeds(now=discord.utils.utcnow(), interval=self.interval)
        except Exception:
            # A loop that raises stops for good: one bad round is logged and the next one runs.
            log.exception("polling the feeds failed")

    @app_commands.command(name="add", description="Follow an RSS or Atom feed (moderators)")
    @app_commands.describe(url="The feed's link (RSS or Atom)", title="A name for it (default: the feed's own)")
    @moderator_only()
    async def add(
        self,
        interaction: discord.Interaction[NewsdeskBot],
        url: app_commands.Range[str, 1, 2000],
        title: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # fetching can take seconds
        feed = await self.bot.kb.add_feed(url, guild_id=interaction.guild_id, title=title)
        await self.bot.record(
            "feed_add", interaction=interaction, input=strip_credentials(url), outcome="added", ref_id=feed.id
        )
        await interaction.followup.send(
            f"Following feed #{feed.id} **{render.escape(feed.title)}**: new entries will be added to this"
            f" server's documents (checked every {plural(self.bot.settings.feed_poll_minutes, 'minute')}).",
            ephemeral=True,
        )

    @app_commands.command(name="remove", description="Stop following a feed (moderators); its documents stay")
    @app_commands.describe(feed="Start typing its name")
    @moderator_only()
    async def remove(self, interaction: discord.Interaction[NewsdeskBot], feed: int) -> None:
        assert interaction.guild_id is not None, "moderator_only passes guild interactions only"
        removed = await self.bot.kb.remove_feed(feed, guild_id=interaction.guild_id)
        await self.bot.record(
            "feed_remove", interaction=interaction, input=f"#{removed.id}", outcome="removed", ref_id=removed.id
        )
        await interaction.response.send_message(
            f"Stopped following feed #{removed.id} **{render.escape(removed.title)}**.", ephemeral=True
        )

    @remove.autocomplete("feed")
    async def remove_autocomplete(
        self, interaction: discord.Interaction[NewsdeskBot], current: str
    ) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        try:
            feeds = await self.bot.kb.list_feeds(scope=interaction.guild_id)
        except KnowledgeError as e:  # discord.py only logs an autocomplete error: the user sees nothing
            log.info("feed autocomplete refused: %s", e)
            return []
        typed = render.clean_input(current).casefold().strip()
        matching = [f for f in feeds if typed in f.title.casefold() or typed in f.url.casefold()]
        return [
            app_commands.Choice(name=render.plain_name(f"#{f.id} {f.title}", 100), value=f.id)
            for f in matching[:AUTOCOMPLETE_CHOICES]
        ]

    @app_commands.command(name="list", description="The feeds this server follows, with their last success and error")
    @moderator_only()
    async def list_(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        feeds = await self.bot.kb.list_feeds(scope=interaction.guild_id)
        if not feeds:
            await interaction.response.send_message(
                "This server follows no feed. Add one with /feed add.", ephemeral=True
            )
            return
        messages = render.pack_embeds(
            title=f"Feeds ({len(feeds)})", description="\n\n".join(feed_line(f) for f in feeds)
        )
        await interaction.response.send_message(embeds=messages[0], ephemeral=True)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Feeds(bot))
