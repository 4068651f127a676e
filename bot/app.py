"""The bot object: ``create_bot(settings)`` builds it; ``setup_hook`` opens the knowledge base,
loads the cogs and starts indexing the seeds; ``close()`` closes the knowledge base."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import discord
from discord.ext import commands

from knowledge import KnowledgeBase
from knowledge.embed import Embedder

from .checks import RateLimiter
from .settings import Settings
from .tree import NewsdeskTree, interaction_input

log = logging.getLogger(__name__)

# Explicit, so a typo or a missing cog is an error at start and in the guard test, not a silently
# missing feature.
EXTENSIONS: tuple[str, ...] = (
    "bot.cogs.asking",
    "bot.cogs.documents",
    "bot.cogs.briefings",
    "bot.cogs.admin",
    "bot.cogs.setup",
    "bot.cogs.feeds",
    "bot.cogs.ask_menu",
)


def intents() -> discord.Intents:
    result = discord.Intents.default()
    # Privileged (enable it in the developer portal): needed to read a question in an @mention
    # and follow-ups in answer threads. Slash commands work without it.
    result.message_content = True
    return result


class NewsdeskBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        kb: KnowledgeBase | None = None,
        embedder: Embedder | None = None,
        **client_options,
    ) -> None:
        super().__init__(
            # No prefix commands: everything is a slash command or a mention, handled by the cogs.
            command_prefix=commands.when_mentioned,
            intents=intents(),
            tree_cls=NewsdeskTree,
            help_command=None,
            # Bot-wide: neither document text nor a question can ping @everyone, @here, a role or
            # a user, whatever a message's content says.
            allowed_mentions=discord.AllowedMentions.none(),
            **client_options,
        )
        self.settings = settings
        self._kb = kb
        self._owns_kb = kb is None
        self._embedder = embedder
        self.rate_limiter = RateLimiter(settings.rate_limit_per_minute)
        self.seed_task: asyncio.Task[None] | None = None
        self.extension_errors: dict[str, BaseException] = {}
        # Channels where every message is a question (/setup ask-channel): read on every message,
        # so kept here and written through by the setup cog.
        self.ask_channel_ids: set[int] = set()

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            raise RuntimeError("the knowledge base is not open yet (setup_hook has not run)")
        return self._kb

    async def setup_hook(self) -> None:
        if self._kb is None:
            self._kb = await KnowledgeBase.open(self.settings.knowledge, embedder=self._embedder)
            self._owns_kb = True
        self.ask_channel_ids = set(await self.kb.ask_channels())
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError as e:
                # One broken cog must not take the others down; the guard test makes it fail CI.
                self.extension_errors[extension] = e
                log.exception("failed to load extension %s", extension)
        # Seeds can take minutes on a fresh database: index them in the background so the gateway
        # connects (and answers within Discord's 3 s) meanwhile.
        if self.settings.seeds:
            self.seed_task = asyncio.create_task(self.index_seeds(self.settings.seeds), name="index-seeds")
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to development guild %s", len(synced), self.settings.dev_guild_id)

    async def index_seeds(self, paths: Sequence) -> None:
        existing = [p for p in paths if p.exists()]
        if not existing:
            # A warning: a relative NEWSDESK_SEEDS read from another folder leaves the bot with
            # nothing to answer from, and every question would be refused.
            log.warning(
                "no seed folder found (%s, from %s); starting without seeds (NEWSDESK_SEEDS)",
                ", ".join(map(str, paths)),
                Path.cwd(),
            )
            return
        try:
            # A seed a moderator removed stays removed (until its file changes).
            report = await self.kb.index_paths(existing, skip_removed=True)
        except Exception:
            # A background task: log it (with traceback) instead of losing it; the bot keeps running.
            log.exception("indexing seeds failed")
            return
        log.info(
            "seeds: %d added, %d updated, %d unchanged, %d failed",
            len(report.added),
            len(report.updated),
            len(report.unchanged),
            len(report.errors),
        )
        for error in report.errors:
            log.warning("seed not indexed: %s", error)

    async def on_message(self, message: discord.Message) -> None:
        # Deliberately not calling process_commands: there are no prefix commands, and a mention
        # like "@newsdesk what happened" must reach the asking cog, not fail as an unknown command.
        return

    async def record(
        self,
        kind: str,
        *,
        interaction: discord.Interaction | None = None,
        message: discord.Message | None = None,
        **fields,
    ) -> int | None:
        """Write one interaction-log row; a logging failure is logged, never shown to the user."""
        if interaction is not None:
            fields.setdefault("guild_id", interaction.guild_id)
            fields.setdefault("channel_id", interaction.channel_id)
            fields.setdefault("user_id", interaction.user.id)
            fields.setdefault("input", interaction_input(interaction))
        elif message is not None:
            fields.setdefault("guild_id", message.guild.id if message.guild else None)
            fields.setdefault("channel_id", message.channel.id)
            fields.setdefault("user_id", message.author.id)
        try:
            return await self.kb.log_interaction(kind, **fields)
        except Exception:
            log.exception("could not write the interaction log (%s)", kind)
            return None

    async def close(self) -> None:
        if self.seed_task is not None and not self.seed_task.done():
            self.seed_task.cancel()
            await asyncio.gather(self.seed_task, return_exceptions=True)
        try:
            await super().close()
        finally:
            if self._kb is not None and self._owns_kb:
                await self._kb.close()
                self._kb = None


class ShardedNewsdeskBot(NewsdeskBot, commands.AutoShardedBot):
    """The same bot over several gateway connections (``SHARD_COUNT``), of which this process runs
    ``SHARD_IDS``: other processes run the other shards over the same PostgreSQL database."""


def create_bot(settings: Settings, *, kb: KnowledgeBase | None = None, embedder: Embedder | None = None) -> NewsdeskBot:
    """The bot, ready to ``start``. ``kb``: an already open knowledge base to share (the bot then
    leaves closing it to the caller); by default the bot opens its own in ``setup_hook``, with
    ``embedder`` (tests pass a fast deterministic one; None loads the real model)."""
    if settings.shard_count:
        return ShardedNewsdeskBot(
            settings,
            kb=kb,
            embedder=embedder,
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) or None,
        )
    return NewsdeskBot(settings, kb=kb, embedder=embedder)
