"""Storage: where documents, the log and the search index live, behind one seam.

- ``interface``: the Protocols every engine implements (document store, log and setup store,
  search index, backend) and the data that crosses the seam.
- ``lexical``: the lexical side's definition (tokens, BM25's constants), read by both engines.
- ``sql/``: the SQL both engines run as it is, with small engine hooks.
- ``sqlite/`` and ``postgres/``: the engines, siblings that never import each other.

This module is the registry (as Red-DiscordBot's ``_drivers``): the one place that reads the
database setting and picks an engine. An engine's package is imported only when it is used, so a
SQLite-only process never loads psycopg.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import KnowledgeConfig
from ..errors import KnowledgeError
from .interface import Backend, CopyReport, Store


@dataclass(frozen=True)
class Engine:
    name: str
    module: str  # the package, imported on first use
    prefixes: tuple[str, ...]  # what a database setting naming this engine starts with; () for the default
    shared: bool  # a database server several processes use at once, rather than one process's file


# The first engine whose prefix the setting starts with; the last one (no prefix) otherwise.
ENGINES = (
    Engine("postgres", "knowledge.backends.postgres", ("postgresql://", "postgres://"), shared=True),
    Engine("sqlite", "knowledge.backends.sqlite", (), shared=False),
)


def engine_of(db: str | Path) -> Engine:
    """The engine a database setting names: a ``postgresql://`` URL is PostgreSQL, anything else a
    SQLite file's path."""
    value = str(db)
    return next(e for e in ENGINES if not e.prefixes or value.startswith(e.prefixes))


def _package(engine: Engine) -> Any:
    return importlib.import_module(engine.module)


async def open_backend(config: KnowledgeConfig) -> Backend:
    """The engine of ``config.db``, opened (created and migrated when new): its store, and its search
    index to come (``Backend.search_index``)."""
    return await _package(engine_of(config.db)).open_backend(config)


async def open_store(config: KnowledgeConfig) -> Store:
    """The store of ``config.db`` alone, without a search index (``newsdesk log export``, ``migrate``)."""
    return await _package(engine_of(config.db)).open_store(config)


async def copy_store(
    config: KnowledgeConfig, to: str, *, progress: Callable[[int, int], None] | None = None
) -> CopyReport:
    """``newsdesk migrate --to``: copy the store of ``config`` into the PostgreSQL database ``to``;
    returns the migration's report (``summary()``)."""
    target = engine_of(to)
    if target.name != "postgres":
        raise KnowledgeError("--to must be a postgresql:// URL")
    if str(to) == str(config.db):
        raise KnowledgeError("--to names the database being copied; give another one")
    source = await open_store(config)
    try:
        return await _package(target).copy_into(source, config.with_db(to), progress=progress)
    finally:
        await source.close()
