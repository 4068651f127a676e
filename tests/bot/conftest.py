"""Fixtures for the bot's tests: the real bot (``create_bot``) over a real SQLite knowledge base in a
temp dir, driven by simcord. The fast deterministic embedder stands in for the model here; the
real model is exercised by the tests marked ``model``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import discord
import pytest

from bot.app import create_bot
from bot.settings import Settings
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder

DEV_GUILD = 880_000_000_000_000_001
OTHER_GUILD = 880_000_000_000_000_002

# A small corpus: the answer engine's calibrated refusal needs several documents to compare with.
SEEDS = {
    "kazakhstan.txt": """Kazakhstan intervention benefits China and Russia

Some 2,500 troops of the Collective Security Treaty Organization arrived in Kazakhstan to quell protests
over fuel prices that turned violent in Almaty.

Analysts said the intervention helped both China and Russia keep stability in Central Asia.
""",
    "tram.txt": """Council approves tram line

The city council approved the new eastern tram line on Thursday after a two-year debate.

Construction of the tram line will start in spring and cost 400 million euros.
""",
    "wildfire.txt": """Wildfire forces evacuations in Catalonia

Firefighters battled a wildfire north of Barcelona that forced 900 residents to leave their homes.

Strong winds pushed the wildfire towards the coast overnight, officials said.
""",
}
QUESTION = "When did the council approve the tram line?"
ANSWER_SENTENCE = "The city council approved the new eastern tram line on Thursday"


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    for name, text in SEEDS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def settings(tmp_path: Path, seed_dir: Path) -> Settings:
    return Settings(
        knowledge=KnowledgeConfig(db_path=tmp_path / "newsdesk.db", max_file_bytes=64 * 1024),
        seeds=(seed_dir,),
        moderator_role="Moderator",
        dev_guild_id=DEV_GUILD,
        rate_limit_per_minute=50,
        embedder=HashingEmbedder(),
    )


@pytest.fixture
def simcord_bot(settings: Settings):
    return create_bot(settings)


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

    async def rows(self, kind: str | None = None) -> list[dict]:
        return await self.kb.store.interactions(kind=kind)


@pytest.fixture
async def world(simcord_env) -> World:
    w = World(simcord_env)
    # Seeds are indexed in the background at start; wait for that task so tests see them.
    if w.bot.seed_task is not None:
        await simcord_env.settle()
    return w


def with_settings(settings: Settings, **changes) -> Settings:
    return replace(settings, **changes)

