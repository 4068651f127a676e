"""The PostgreSQL engine, for several processes over one database: pgvector for the dense side, BM25
by pg_textsearch's index or in SQL from postings for the lexical side (``lexical``, ``textsearch``,
``engines``), everything searched in the database (``search``), so a process holds nothing per
document. The schema is its own append-only list (``schema``); the
documents' writes (``store``) and the copy from another store (``migrate``) live beside it.

psycopg is imported only here: SQLite-only processes never load it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ...config import KnowledgeConfig
from ..interface import Backend, CopyReport, SearchIndex, Store
from .migrate import migrate
from .search import PgSearch
from .store import PgStore

__all__ = ["PgBackend", "PgSearch", "PgStore", "copy_into", "open_backend", "open_store", "pg_search", "pg_store"]


class PgBackend:
    engine = "postgres"

    def __init__(self, store: PgStore) -> None:
        self.store = store

    @contextmanager
    def opening(self) -> Iterator[None]:
        yield  # the adapter turns the server's errors into DatabaseError as they happen

    async def search_index(self, model: str) -> PgSearch:
        # Nothing to load: the database searches, so opening costs the same at any size.
        return PgSearch(self.store, model)

    async def close(self) -> None:
        await self.store.close()


async def open_store(config: KnowledgeConfig) -> PgStore:
    return await PgStore.open(str(config.db), busy_timeout_s=config.db_busy_timeout_s, bm25=config.pg_bm25)


async def open_backend(config: KnowledgeConfig) -> Backend:
    return PgBackend(await open_store(config))


async def copy_into(
    source: Store, config: KnowledgeConfig, *, progress: Callable[[int, int], None] | None = None
) -> CopyReport:
    """Copy ``source`` (any engine's store) into the database of ``config`` (``migrate``)."""
    target = await open_store(config)
    try:
        return await migrate(source, target, progress=progress)
    finally:
        await target.close()


def pg_search(index: SearchIndex) -> PgSearch:
    """A search index as the PostgreSQL engine's (the engine's own tests and benches)."""
    if not isinstance(index, PgSearch):
        raise TypeError(f"not the PostgreSQL engine's search index: {type(index).__name__}")
    return index


def pg_store(store: Store) -> PgStore:
    """A store as the PostgreSQL engine's (the engine's own tests and benches)."""
    if not isinstance(store, PgStore):
        raise TypeError(f"not the PostgreSQL engine's store: {type(store).__name__}")
    return store
