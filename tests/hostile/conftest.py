"""Fixtures for the hostile suite: what an attacker or an unlucky operator would try, run against
the real code (real SQLite files in a temp dir, real parsers, loopback servers only). Test module
names here start with ``test_hostile_`` because test folders are not packages and basenames must
be unique across ``tests/``."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase


@pytest.fixture
def kb_config(tmp_path: Path) -> KnowledgeConfig:
    return KnowledgeConfig(db=tmp_path / "newsdesk.db", max_file_bytes=256 * 1024)


@pytest.fixture
def long_running_heap() -> Iterator[None]:
    """The heap as the bot and the console run with it (``KnowledgeConfig.freeze_heap``): what was
    alive before the test is moved out of the garbage collector's reach, and moved back after it.

    Tests that time event-loop stalls need it. Without it a full collection, which holds the GIL
    whichever thread runs it, scans everything the whole test session left behind (torch, the real
    model, hundreds of earlier tests): measured at 0.2-0.6 s in a full run, against about 0.06 s in
    the product's own heap. The test's own garbage is still collected as it runs."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture
async def kb(kb_config: KnowledgeConfig) -> AsyncIterator[KnowledgeBase]:
    """A knowledge base over a real SQLite file with the fast fake embedder."""
    async with await KnowledgeBase.open(kb_config, embedder=HashingEmbedder()) as base:
        yield base


# ---------------------------------------------------------------------------- simcord (Discord paths)
# The real bot over a real SQLite file, driven by simcord. Constants come from tests/bot/bot_helpers.py,
# imported by its dotted path: this folder does not have tests/bot on sys.path.


from bot.app import create_bot  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.bot.bot_helpers import OTHER_GUILD, bot_settings, write_seeds  # noqa: E402
from tests.bot.bot_helpers import World as BotWorld  # noqa: E402


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    return write_seeds(tmp_path / "seeds")


@pytest.fixture
def settings(tmp_path: Path, seed_dir: Path) -> Settings:
    return bot_settings(tmp_path / "bot.db", seed_dir, rate_limit_per_minute=100)


@pytest.fixture
def simcord_bot(settings: Settings):
    return create_bot(settings, embedder=HashingEmbedder())


class World(BotWorld):
    """Two guilds and a DM: the bot tests' dev guild (moderator by role, server manager,
    administrator, plain reader), another guild with its own member, and a user outside both.
    Commands are synced globally too, so the other guild and DMs see them."""

    def __init__(self, env) -> None:
        super().__init__(env)
        self.other_guild = env.create_guild("Elsewhere", id=OTHER_GUILD)
        self.other_channel = self.other_guild.create_text_channel("general")
        self.stranger = self.other_guild.add_member(env.create_user("stranger"))
        self.loner = env.create_user("loner")


@pytest.fixture
async def world(simcord_env) -> World:
    w = World(simcord_env)
    if w.bot.seed_task is not None:
        await simcord_env.settle()
    return w


@pytest.fixture
async def synced_world(world: World) -> World:
    """The world after an administrator's global sync: commands exist in the other guild and DMs."""
    await world.admin.slash(world.channel, "sync", scope="global")
    return world
