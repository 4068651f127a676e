"""Fixtures for the bot's tests: the real bot (``create_bot``) over a real SQLite knowledge base in a
temp dir, driven by simcord. The fast deterministic embedder stands in for the model here; the
real model is exercised by the tests marked ``model``."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest
from bot_helpers import DEV_GUILD, bot_settings, write_seeds

from bot.app import create_bot
from bot.settings import Settings
from knowledge.embed import Embedder, HashingEmbedder
from knowledge.models import Interaction


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    return write_seeds(tmp_path / "seeds")


@pytest.fixture
def settings(tmp_path: Path, seed_dir: Path) -> Settings:
    return bot_settings(tmp_path / "newsdesk.db", seed_dir, rate_limit_per_minute=50)


@pytest.fixture
def embedder() -> Embedder:
    return HashingEmbedder()


@pytest.fixture
def simcord_bot(settings: Settings, embedder: Embedder):
    return create_bot(settings, embedder=embedder)


class World:
    """A dev guild with a channel, a moderator (by role), a server manager and a plain member."""

    def __init__(self, env) -> None:
        self.env = env
        self.guild = env.create_guild("Newsroom", id=DEV_GUILD)
        self.channel = self.guild.create_text_channel("news")
        mod_role = self.guild.create_role("Moderator")
        manager_role = self.guild.create_role("Editors", permissions=discord.Permissions(manage_guild=True))
        admin_role = self.guild.create_role("Admins", permissions=discord.Permissions(administrator=True))
        self.mod = self.guild.add_member(env.create_user("mod"), roles=[mod_role])
        self.manager = self.guild.add_member(env.create_user("manager"), roles=[manager_role])
        self.admin = self.guild.add_member(env.create_user("admin"), roles=[admin_role])
        self.user = self.guild.add_member(env.create_user("reader"))

    @property
    def bot(self):
        return self.env.bot

    @property
    def kb(self):
        return self.env.bot.kb

    async def rows(self, kind: str | None = None) -> list[Interaction]:
        return await self.kb.store.interactions(kind=kind)


@pytest.fixture
async def world(simcord_env) -> World:
    w = World(simcord_env)
    # Seeds are indexed in the background at start; wait for that task so tests see them.
    if w.bot.seed_task is not None:
        await simcord_env.settle()
    return w
