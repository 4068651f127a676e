"""/ask, @mentions and follow-ups in answer threads."""

from __future__ import annotations

import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from knowledge.models import Answer, cited_passages
from knowledge.question import MAX_QUESTION_CHARS, Reply

from .. import render
from ..app import NewsdeskBot
from ..checks import rate_limit_message, rate_limited
from ..views import FeedbackButton, MoreSourcesButton, answer_view, scope_of

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100
HISTORY_MESSAGES = 50


def outcome_of(answer: Answer) -> str:
    return "abstained" if answer.abstained else "answered"


def strip_mentions(text: str, user_id: int) -> str:
    return re.sub(rf"<@!?{user_id}>", " ", text).strip()


def clean_question(text: str) -> str:
    """A question as typed, storable and searchable (no lone surrogate, no control character). Its
    length is the library's to cut (``MAX_QUESTION_CHARS``), which tells the user it did."""
    return render.clean_input(text).strip()


class Asking(commands.Cog):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        # Threads this process started for answers. Survives nothing: after a restart any thread
        # the bot owns counts as an answer thread (the bot starts no other threads).
        self.answer_threads: set[int] = set()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(FeedbackButton, MoreSourcesButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(FeedbackButton, MoreSourcesButton)

    async def log_answer(self, kind: str, answer: Answer, question: str, **where) -> int | None:
        return await self.bot.record(
            kind,
            input=question,
            outcome=outcome_of(answer),
            answer=answer.text,
            **cited_passages(answer.shown),
            latency_ms=answer.latency_ms,
            **where,
        )

    # ------------------------------------------------------------------ /ask

    @app_commands.command(name="ask", description="Ask a question about the documents; the answer cites its sources")
    @app_commands.describe(question="What do you want to know?")
    @rate_limited()
    async def ask(
        self, interaction: discord.Interaction[NewsdeskBot], question: app_commands.Range[str, 1, MAX_QUESTION_CHARS]
    ) -> None:
        # Acknowledge first: Discord drops an interaction not answered within 3 s.
        await interaction.response.defer(thinking=True)
        question = clean_question(question) or "?"
        answer = await self.bot.kb.ask(question, scope=scope_of(interaction))
        row = await self.log_answer("ask", answer, question, interaction=interaction)
        await send_answer(interaction.followup.send, answer, row)

    # ------------------------------------------------------------------ mentions and follow-ups

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None:
            return
        channel = message.channel
        if isinstance(channel, discord.Thread) and self.is_answer_thread(channel):
            await self.follow_up(message, channel)
        elif me in message.mentions:
            await self.mention(message)
        elif channel.id in self.bot.ask_channel_ids:
            # An ask channel (/setup ask-channel): every message is a question, no mention needed.
            await self.mention(message, kind="ask_channel")

    def is_answer_thread(self, thread: discord.Thread) -> bool:
        return thread.id in self.answer_threads or (self.bot.user is not None and thread.owner_id == self.bot.user.id)

    async def _allowed(self, message: discord.Message, kind: str, question: str) -> bool:
        retry = self.bot.rate_limiter.hit(message.author.id)
        if retry:
            await self.bot.record(kind, message=message, input=question, outcome="rate_limited")
            if self.bot.rate_limiter.notice_due(message.author.id):
                await message.reply(
                    rate_limit_message(retry, self.bot.settings.rate_limit_per_minute), mention_author=False
                )
            return False
        return True

    async def mention(self, message: discord.Message, *, kind: str = "mention") -> None:
        me, guild = self.bot.user, message.guild
        assert me is not None and guild is not None, "on_message passes only guild messages, once logged in"
        question = clean_question(strip_mentions(message.content, me.id))
        if not question:
            if kind == "mention":
                await message.reply(
                    "Ask me a question after the mention, e.g. “@me what happened in Kazakhstan?”",
                    mention_author=False,
                )
            return
        if not await self._allowed(message, kind, question):
            return
        async with message.channel.typing():
            answer = await self.bot.kb.ask(question, scope=guild.id)
        row = await self.log_answer(kind, answer, question, message=message)
        thread = await start_answer_thread(message, question)
        if thread is not None:
            self.answer_threads.add(thread.id)
            await send_answer(thread.send, answer, row)
        else:
            await send_answer(message.reply, answer, row, mention_author=False)

    async def follow_up(self, message: discord.Message, thread: discord.Thread) -> None:
        me, guild = self.bot.user, message.guild
        assert me is not None and guild is not None, "on_message passes only guild messages, once logged in"
        question = clean_question(strip_mentions(message.content, me.id))
        if not question:
            return
        if not await self._allowed(message, "followup", question):
            return
        async with thread.typing():
            history = await self.thread_history(thread, before=message)
            answer = await self.bot.kb.ask(question, scope=guild.id, history=history)
        row = await self.log_answer("followup", answer, question, message=message)
        await send_answer(thread.send, answer, row)

    async def thread_history(self, thread: discord.Thread, *, before: discord.Message) -> list[str]:
        """The thread's earlier turns, oldest first: the question that started it, then each
        question and answer text (an answer's text is its first embed's description)."""
        me = self.bot.user
        assert me is not None, "answer threads are read only once logged in"
        turns: list[str] = []
        starter = thread.starter_message
        # A forum post's parent has no messages to fetch (its starter is the thread's own first one).
        if starter is None and isinstance(thread.parent, discord.TextChannel):
            try:
                starter = await thread.parent.fetch_message(thread.id)
            except discord.HTTPException:
                starter = None
        if starter is not None and not starter.author.bot:
            turns.append(strip_mentions(starter.content, me.id))
        async for msg in thread.history(limit=HISTORY_MESSAGES, before=before, oldest_first=True):
            if msg.author.id == me.id:
                if msg.embeds and msg.embeds[0].description:
                    turns.append(Reply(msg.embeds[0].description))
            elif not msg.author.bot and msg.content:
                turns.append(strip_mentions(msg.content, me.id))
        return [t for t in turns if t]


async def start_answer_thread(message: discord.Message, question: str) -> discord.Thread | None:
    """A public thread started from ``message`` for its answer; None where the bot may not start one
    (the caller then replies inline)."""
    channel = message.channel
    if not isinstance(channel, discord.TextChannel):
        return None
    perms = channel.permissions_for(channel.guild.me)
    if not (perms.create_public_threads and perms.send_messages_in_threads):
        return None
    try:
        return await message.create_thread(
            name=render.plain_name(question, THREAD_NAME_LIMIT), auto_archive_duration=1440
        )
    except discord.HTTPException:
        log.warning("could not start an answer thread in %s; replying inline", channel.id, exc_info=True)
        return None


async def send_answer(send, answer: Answer, row_id: int | None, **kwargs) -> None:
    """Send the answer's messages; the buttons go under the last one (below the sources)."""
    messages = render.answer_messages(answer)
    for i, embeds in enumerate(messages):
        extra = dict(kwargs)
        view = answer_view(row_id) if i == len(messages) - 1 else None
        if view is not None:
            extra["view"] = view
        await send(embeds=embeds, **extra)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Asking(bot))
