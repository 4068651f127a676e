"""/stats for moderators, and /sync: the deliberate global command sync (administrators)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from knowledge.plain import plural

from .. import render
from ..app import NewsdeskBot
from ..checks import moderator_only

log = logging.getLogger(__name__)


async def gather_stats(bot: NewsdeskBot, *, guild_id: int | None, days: int, now: dt.datetime) -> render.Stats:
    return await bot.kb.usage_stats(guild_id=guild_id, days=days, now=now)


def can_sync(interaction: discord.Interaction[NewsdeskBot]) -> bool:
    user = interaction.user
    return isinstance(user, discord.Member) and user.guild_permissions.administrator


class Admin(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot

    @app_commands.command(name="stats", description="Usage: questions per day, refusals, feedback (moderators)")
    @app_commands.describe(days="How many days back (default 7)")
    @moderator_only()
    async def stats(
        self, interaction: discord.Interaction[NewsdeskBot], days: app_commands.Range[int, 1, 365] = 7
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await gather_stats(self.bot, guild_id=interaction.guild_id, days=days, now=discord.utils.utcnow())
        await interaction.followup.send(embed=render.stats_embed(stats), ephemeral=True)

    @app_commands.command(name="sync", description="Publish the bot's commands (administrators)")
    @app_commands.describe(scope="global: every server (takes up to an hour); guild: this server, at once")
    @app_commands.default_permissions(administrator=True)
    @app_commands.guild_only()
    async def sync(
        self, interaction: discord.Interaction[NewsdeskBot], scope: Literal["global", "guild"] = "guild"
    ) -> None:
        # default_permissions only hides the command; the check below is what enforces it.
        if not can_sync(interaction) and not await self.bot.is_owner(interaction.user):
            await self.bot.record("denied", interaction=interaction, input=f"sync {scope}", outcome="denied")
            await interaction.response.send_message("Only administrators can sync commands.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if scope == "global":
            synced = await self.bot.tree.sync()
        else:
            # guild_only() keeps this command out of DMs, so there is always a guild here.
            assert interaction.guild_id is not None, "sync is a guild_only command"
            guild = discord.Object(interaction.guild_id)
            self.bot.tree.copy_global_to(guild=guild)
            synced = await self.bot.tree.sync(guild=guild)
        log.info("synced %d commands (%s) at the request of %s", len(synced), scope, interaction.user.id)
        await self.bot.record("sync", interaction=interaction, input=scope, outcome=plural(len(synced), "command"))
        await interaction.followup.send(f"Synced {plural(len(synced), 'command')} ({scope}).", ephemeral=True)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Admin(bot))
