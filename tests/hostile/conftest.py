"""Fixtures for the hostile suite: what an attacker or an unlucky operator would try, run against
the real code (real SQLite files in a temp dir, real parsers, loopback servers only). Test module
names here start with ``test_hostile_`` because test folders are not packages and basenames must
be unique across ``tests/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase


@pytest.fixture
def kb_config(tmp_path: Path) -> KnowledgeConfig:
    return KnowledgeConfig(db_path=tmp_path / "newsdesk.db", max_file_bytes=256 * 1024)


@pytest.fixture
async def kb(kb_config: KnowledgeConfig) -> AsyncIterator[KnowledgeBase]:
    """A knowledge base over a real SQLite file with the fast fake embedder."""
    async with await KnowledgeBase.open(kb_config, embedder=HashingEmbedder()) as base:
        yield base
