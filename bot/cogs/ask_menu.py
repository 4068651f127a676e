"""The message context menu "Ask newsdesk" (right-click a message → Apps): that message's text is
answered as a question, in a thread started from it."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from ..app import NewsdeskBot
from ..checks import rate_limited
from ..tree import BadInput
from .asking import clean_question, send_answer, start_answer_thread, strip_mentions

log = logging.getLogger(__name__)

MENU_NAME = "Ask newsdesk"
LOG_KIND = "ask_menu"


@app_commands.guild_only()
@rate_limited()
async def ask_about_message(interaction: discord.Interaction[NewsdeskBot], message: discord.Message) -> None:
    bot = interaction.client
    me = bot.user
    question = clean_question(strip_mentions(message.content, me.id if me else 0))
    if not question:
        raise BadInput("That message has no text to answer.")
    await interaction.response.defer(ephemeral=True, thinking=True)  # answering can take over 3 s
    answer = await bot.kb.ask(question, scope=interaction.guild_id)
    asking = bot.get_cog("Asking")
    log_answer = getattr(asking, "log_answer", None)
    row = await log_answer(LOG_KIND, answer, question, interaction=interaction) if log_answer else None
    thread = await start_answer_thread(message, question)
    if thread is None:
        await send_answer(interaction.followup.send, answer, row, ephemeral=True)
        return
    if asking is not None:
        asking.answer_threads.add(thread.id)  # type: ignore[attr-defined]
    await send_answer(thread.send, answer, row)
    await interaction.followup.send(f"Answered in {thread.mention}.", ephemeral=True)


class AskMenu(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        # One log kind for every use of the menu, answered or refused (tree.interaction_kind).
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=ask_about_message, extras={"log_kind": LOG_KIND})

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(AskMenu(bot))
