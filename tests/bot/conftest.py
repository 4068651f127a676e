"""Fixtures for the bot's tests: the real bot (``create_bot``) over a real SQLite knowledge base in a
temp dir or an empty PostgreSQL database, driven by simcord. The fast deterministic embedder stands in for the model here; the
real model is exercised by the tests marked ``model``."""

from __future__ import annotations

from pathlib import Path

import pytest
from bot_helpers import World, bot_settings, with_settings, write_seeds

from bot.app import create_bot
from bot.settings import Settings
from knowledge.embed import Embedder, HashingEmbedder


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    return write_seeds(tmp_path / "seeds")


@pytest.fixture
def settings(tmp_path: Path, seed_dir: Path, db: str) -> Settings:
    """Once per backend (``db``: a SQLite file or an empty PostgreSQL database)."""
    base = bot_settings(tmp_path / "newsdesk.db", seed_dir, rate_limit_per_minute=50)
    return with_settings(base, knowledge=base.knowledge.with_db(db))


@pytest.fixture
def embedder() -> Embedder:
    return HashingEmbedder()


@pytest.fixture
def simcord_bot(settings: Settings, embedder: Embedder):
    return create_bot(settings, embedder=embedder)


@pytest.fixture
async def world(simcord_env) -> World:
    w = World(simcord_env)
    # Seeds are indexed in the background at start; wait for that task so tests see them.
    if w.bot.seed_task is not None:
        await simcord_env.settle()
    return w
