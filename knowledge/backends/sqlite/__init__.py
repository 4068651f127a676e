"""The SQLite engine, the default: one file in WAL mode, one process. Documents, passages, vectors
and an FTS5 index in the file (``store``, ``schema``); search over an in-memory index of both sides
(``index``, ``search``), saved beside the file so a restart maps it instead of rebuilding it
(``index_cache``)."""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from ...config import KnowledgeConfig
from ...errors import DatabaseError
from ..interface import Backend, SearchIndex, Store
from .index import HybridIndex
from .search import MemorySearch
from .store import SqliteStore

__all__ = ["SqliteBackend", "SqliteStore", "memory_index", "open_backend", "open_store", "sqlite_store"]


class SqliteBackend:
    engine = "sqlite"

    def __init__(self, store: SqliteStore, *, freeze_heap: bool = False) -> None:
        self.store = store
        self.freeze_heap = freeze_heap

    @contextmanager
    def opening(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as e:  # damage deeper in the file than opening reads
            raise DatabaseError(f"cannot open the database {self.store.path}: {e}") from e

    async def search_index(self, model: str) -> MemorySearch:
        index = await MemorySearch.load(self.store, model)
        if self.freeze_heap:
            _freeze_heap()
        return index

    async def close(self) -> None:
        await self.store.close()


async def open_store(config: KnowledgeConfig) -> SqliteStore:
    return await SqliteStore.open(config.db, busy_timeout_s=config.db_busy_timeout_s)


async def open_backend(config: KnowledgeConfig) -> Backend:
    return SqliteBackend(await open_store(config), freeze_heap=config.freeze_heap)


def memory_index(index: SearchIndex) -> HybridIndex:
    """The in-memory index behind a SQLite search index (the engine's own tests and benches)."""
    if not isinstance(index, MemorySearch):
        raise TypeError(f"not the SQLite engine's search index: {type(index).__name__}")
    return index.index


def sqlite_store(store: Store) -> SqliteStore:
    """A store as the SQLite engine's (the engine's own tests and benches)."""
    if not isinstance(store, SqliteStore):
        raise TypeError(f"not the SQLite engine's store: {type(store).__name__}")
    return store


def _freeze_heap() -> None:
    """Move what start-up built (the index, imported libraries) out of the garbage collector's
    reach. A full collection holds the GIL for its whole scan of the heap, whichever thread runs
    it: measured at 50-80 ms in indexing workers, each one an event-loop stall. Long-lived objects
    need no scanning; new garbage is still collected."""
    gc.collect()
    gc.freeze()
