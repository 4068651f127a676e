"""Fixtures shared by every test folder. Kept minimal: only what more than one folder needs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

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


@asynccontextmanager
async def _serve_on_loopback(app) -> AsyncIterator[str]:
    from aiohttp import web

    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)  # port 0: the OS picks a free one
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
def loopback_server() -> Callable[..., AbstractAsyncContextManager[str]]:
    """``async with loopback_server(app) as base_url``: an aiohttp app served on 127.0.0.1 (tests
    never reach the internet). A plain fixture returning the context manager, so the server runs
    on whichever event loop the test or its async fixture uses."""
    return _serve_on_loopback
