"""The SQLite engine's search index: the in-memory ``HybridIndex`` (``index``) behind the
``SearchIndex`` interface, loaded from its cache beside the file or built from the store at start
(``index_cache``) and saved again at close when it changed.

Questions read published snapshots: a question is embedded first, then scored on the snapshot of
that moment in a worker thread, so indexing never makes a question fail, and the answer step reads
the term statistics of the same snapshot.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import numpy as np

from ..interface import Scored, Written
from . import index_cache
from .index import HybridIndex, IndexSnapshot
from .store import SqliteStore


class MemorySearch:
    def __init__(self, store: SqliteStore, model: str, index: HybridIndex) -> None:
        self.store = store
        self.model = model
        self.index = index

    @classmethod
    async def load(cls, store: SqliteStore, model: str) -> MemorySearch:
        """The index of every passage with a vector of ``model``: from the cache when it matches the
        database, else built from it."""
        return cls(store, model, await index_cache.load_or_build(store, model))

    async def search(
        self,
        vector: np.ndarray,
        terms: Sequence[str],
        n: int,
        *,
        scope: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        words: str,  # the lexical spec's tokens (``terms``) are what this engine reads
    ) -> Scored:
        # The snapshot is taken now, after the question was embedded (it may have waited for a bulk
        # batch): mask, rows and statistics all belong to the moment of scoring. Scoring is CPU
        # work, off the event loop.
        snapshot = self.index.snapshot()
        dense, bm25 = await asyncio.to_thread(
            snapshot.search, vector, terms, n, scope=scope, date_from=date_from, date_to=date_to
        )
        return Scored(dense, bm25, snapshot)

    async def term_statistics(self, terms: Sequence[str], view: object | None) -> tuple[dict[str, int], int]:
        snapshot = view if isinstance(view, IndexSnapshot) else self.index.snapshot()
        return await asyncio.to_thread(snapshot.document_frequencies, terms), len(snapshot)

    async def vectors(self, pids: Sequence[int]) -> dict[int, np.ndarray]:
        return await asyncio.to_thread(self.index.snapshot().vectors, pids)

    async def size(self) -> int:
        return len(self.index)

    async def add_documents(self, written: Sequence[Written]) -> None:
        index = self.index

        def publish() -> None:
            # Both sides of each document in one publish (the old version of a replaced document
            # goes in the same step), in a worker: tokenising and a matrix growth must not stall
            # the event loop.
            for w in written:
                doc = w.write.doc
                texts = [(doc.title, p.text) for p in w.write.passages]
                index.add(
                    w.passage_ids,
                    w.doc_id,
                    doc.guild_id,
                    doc.published,
                    w.write.vectors,
                    texts,
                    replaces=w.write.replace_id,
                )

        await asyncio.to_thread(publish)

    async def remove_document(self, doc_id: int) -> None:
        await asyncio.to_thread(self.index.remove_document, doc_id)

    async def close(self) -> None:
        await index_cache.save_if_changed(self.store, self.model, self.index)
