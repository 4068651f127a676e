"""Fixtures shared by every test folder. Kept minimal: only what more than one folder needs."""

from __future__ import annotations

import pytest

from knowledge.config import DEFAULT_MODEL
from knowledge.embed import SentenceTransformerEmbedder


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """The real embedding model, loaded once per test session (a few seconds); tests that use it
    are marked ``model``."""
    embedder = SentenceTransformerEmbedder(DEFAULT_MODEL)
    embedder.load()
    return embedder
