"""Guards: every extension loads, command names are unique, the bot opens and closes its
knowledge base, and nothing in bot/ reaches Discord at import time."""

import discord
import pytest
from discord import app_commands

from bot.app import EXTENSIONS, NewsdeskBot, create_bot
from knowledge.backends.postgres.schema import PG_MIGRATIONS
from knowledge.backends.sqlite.schema import MIGRATIONS

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_every_extension_loads(world):
    assert world.bot.extension_errors == {}
    assert set(world.bot.extensions) == set(EXTENSIONS)
    assert {c.qualified_name for c in world.bot.cogs.values()} == {
        "Asking",
        "Documents",
        "Briefings",
        "Admin",
        "Setup",
        "Feeds",
        "AskMenu",
    }


async def test_command_names_are_unique_and_expected(world):
    names = []
    for command in world.bot.tree.walk_commands():
        if isinstance(command, app_commands.Command):
            names.append(command.qualified_name)
    assert len(names) == len(set(names))
    assert set(names) == {
        "ask",
        "brief",
        "doc add",
        "doc remove",
        "doc list",
        "doc show",
        "stats",
        "sync",
        "setup briefing",
        "setup briefing-off",
        "setup ask-channel",
        "setup moderator-role",
        "setup show",
        "feed add",
        "feed remove",
        "feed list",
    }
    menus = [c.name for c in world.bot.tree.walk_commands(type=discord.AppCommandType.message)]
    assert menus == ["Ask newsdesk"]
    top = [c.name for c in world.bot.tree.get_commands()]
    assert len(top) == len(set(top))


async def test_dev_guild_gets_the_commands_at_start(world):
    puts = [r.path for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert puts == [f"/applications/{world.bot.application_id}/guilds/{world.guild.id}/commands"]


async def test_knowledge_base_is_opened_in_setup_hook_and_closed_by_close(settings, embedder):
    bot = create_bot(settings, embedder=embedder)
    assert isinstance(bot, NewsdeskBot)
    with pytest.raises(RuntimeError):
        _ = bot.kb
    bot.settings = settings.__class__(**{**settings.__dict__, "seeds": (), "dev_guild_id": None})
    await bot.setup_hook()
    kb = bot.kb
    # Each engine counts its own migrations (SQLite's has one PostgreSQL does not need: the id its
    # index cache is tied to).
    migrations = PG_MIGRATIONS if str(settings.knowledge.db).startswith("postgres") else MIGRATIONS
    assert await kb.store.schema_version() == len(migrations) >= 1
    await bot.close()
    with pytest.raises(RuntimeError):
        _ = kb.store  # closed
