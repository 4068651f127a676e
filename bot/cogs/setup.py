"""/setup: a server sets the bot up from Discord (Manage Server, checked in the bot): its daily
briefing, its ask channels, its moderator role. Replies are ephemeral; a bad value is refused with a
message that says what to fix, and nothing is saved."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from .. import render
from ..app import NewsdeskBot
from ..checks import manage_server_only
from ..tree import BadInput

log = logging.getLogger(__name__)

# What the bot needs in a channel, by what it does there (Discord's names for the permissions).
BRIEFING_PERMISSIONS = ("view_channel", "send_messages", "embed_links")
ASK_CHANNEL_PERMISSIONS = (
    "view_channel",
    "read_message_history",
    "send_messages",
    "embed_links",
    "create_public_threads",
    "send_messages_in_threads",
)


def missing_permissions(channel: discord.abc.GuildChannel, needed: tuple[str, ...]) -> list[str]:
    perms = channel.permissions_for(channel.guild.me)
    return [name for name in needed if not getattr(perms, name)]


def permission_name(name: str) -> str:
    """``send_messages_in_threads`` -> "Send Messages in Threads", as Discord's settings show it."""
    small = {"in", "of"}
    return " ".join(w if w in small else w.capitalize() for w in name.split("_"))


def check_channel(channel: discord.abc.GuildChannel, needed: tuple[str, ...], purpose: str) -> None:
    missing = missing_permissions(channel, needed)
    if missing:
        names = ", ".join(f"**{permission_name(m)}**" for m in missing)
        raise BadInput(
            f"I can't {purpose} in {channel.mention}: I lack the {names} permission there. Nothing was saved."
        )


class Setup(commands.GroupCog, group_name="setup", group_description="Set the bot up for this server (Manage Server)"):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        super().__init__()

    async def _reschedule(self) -> None:
        briefings = self.bot.get_cog("Briefings")
        if briefings is not None:
            await briefings.reschedule_guilds()  # type: ignore[attr-defined]

    @app_commands.command(name="briefing", description="Post this server's daily briefing in a channel (Manage Server)")
    @app_commands.describe(
        channel="Where to post it",
        time="When, as HH:MM on a 24-hour clock",
        timezone="The time zone of that time, an IANA name like Europe/Paris",
    )
    @manage_server_only()
    async def briefing(
        self,
        interaction: discord.Interaction[NewsdeskBot],
        channel: discord.TextChannel,
        time: app_commands.Range[str, 1, 20],
        timezone: app_commands.Range[str, 1, 64],
    ) -> None:
        assert interaction.guild_id is not None, "manage_server_only passes guild interactions only"
        check_channel(channel, BRIEFING_PERMISSIONS, "post the briefing")
        # Checks the time and the time zone before saving anything (InvalidInput otherwise).
        saved = await self.bot.kb.set_guild_briefing(interaction.guild_id, channel_id=channel.id, at=time, tz=timezone)
        await self._reschedule()
        at = saved.briefing_time.strftime("%H:%M") if saved.briefing_time else time
        await self.bot.record("setup_briefing", interaction=interaction, outcome="saved")
        await interaction.response.send_message(
            f"The daily briefing will be posted in {channel.mention} at {at} ({render.escape(saved.briefing_tz)}).",
            ephemeral=True,
        )

    @app_commands.command(name="briefing-off", description="Stop this server's daily briefing (Manage Server)")
    @manage_server_only()
    async def briefing_off(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        assert interaction.guild_id is not None, "manage_server_only passes guild interactions only"
        was_on = await self.bot.kb.disable_guild_briefing(interaction.guild_id)
        await self._reschedule()
        await self.bot.record("setup_briefing_off", interaction=interaction, outcome="saved" if was_on else "unchanged")
        text = "The daily briefing is off." if was_on else "This server had no daily briefing on."
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(
        name="ask-channel", description="Make a channel answer every message, or stop (Manage Server)"
    )
    @app_commands.describe(channel="The channel to turn into an ask channel (run again to turn it back)")
    @manage_server_only()
    async def ask_channel(self, interaction: discord.Interaction[NewsdeskBot], channel: discord.TextChannel) -> None:
        assert interaction.guild_id is not None, "manage_server_only passes guild interactions only"
        if channel.id not in self.bot.ask_channel_ids:
            check_channel(channel, ASK_CHANNEL_PERMISSIONS, "answer questions")
        now_on = await self.bot.kb.toggle_ask_channel(interaction.guild_id, channel.id)
        if now_on:
            self.bot.ask_channel_ids.add(channel.id)
            text = f"{channel.mention} is now an ask channel: every message there gets an answer in a thread."
        else:
            self.bot.ask_channel_ids.discard(channel.id)
            text = f"{channel.mention} is no longer an ask channel."
        await self.bot.record("setup_ask_channel", interaction=interaction, outcome="on" if now_on else "off")
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="moderator-role", description="The role whose members manage documents and feeds")
    @app_commands.describe(role="Members with this role count as moderators (Manage Server always does)")
    @manage_server_only()
    async def moderator_role(self, interaction: discord.Interaction[NewsdeskBot], role: discord.Role) -> None:
        assert interaction.guild_id is not None, "manage_server_only passes guild interactions only"
        if role.is_default():
            # Every member has @everyone: it would make every member a moderator.
            raise BadInput(
                "@everyone can't be the moderator role: every member has it, so everyone could manage "
                "documents and feeds. Choose a role only moderators have. Nothing was saved."
            )
        await self.bot.kb.set_guild_moderator_role(interaction.guild_id, role.id)
        await self.bot.record("setup_moderator_role", interaction=interaction, outcome="saved")
        await interaction.response.send_message(
            f"Moderators here are now members with {role.mention} (and Manage Server).", ephemeral=True
        )

    @app_commands.command(name="show", description="This server's settings (Manage Server)")
    @manage_server_only()
    async def show(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        guild = interaction.guild
        assert guild is not None, "manage_server_only passes guild interactions only"
        kb, settings = self.bot.kb, self.bot.settings
        saved = await kb.guild_settings(guild.id)
        if saved.briefing_enabled and saved.briefing_time and saved.briefing_channel_id:
            briefing = (
                f"<#{saved.briefing_channel_id}> at {saved.briefing_time.strftime('%H:%M')}"
                f" ({render.escape(saved.briefing_tz)})"
            )
        elif (
            not saved.briefing_configured
            and settings.briefing_channel_id
            and guild.get_channel(settings.briefing_channel_id)
        ):
            briefing = (
                f"<#{settings.briefing_channel_id}> at {settings.briefing_time.strftime('%H:%M')}"
                f" ({render.escape(settings.briefing_tz)}), from the bot's settings"
            )
        else:
            briefing = "off"
        channels = [f"<#{c}>" for c in await kb.ask_channels(guild.id)]
        role = guild.get_role(saved.moderator_role_id) if saved.moderator_role_id else None
        if role is not None:
            moderators = role.mention
        elif settings.moderator_role:
            moderators = f"the **{render.escape(settings.moderator_role)}** role (the bot's default)"
        else:
            moderators = "Manage Server only"
        feeds = await kb.list_feeds(scope=guild.id)
        lines = [
            f"**Daily briefing:** {briefing}",
            f"**Ask channels:** {', '.join(channels) or 'none'}",
            f"**Moderators:** {moderators}",
            f"**Feeds:** {len(feeds)} (see /feed list)",
        ]
        await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Setup(bot))
