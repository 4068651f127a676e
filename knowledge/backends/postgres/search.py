"""The PostgreSQL engine's search index: the dense side by pgvector's HNSW index (cosine), the
lexical side by the store's ``lexical.LexicalSide`` (pg_textsearch's BM25 index, or BM25 in SQL with
the lexical spec's tokens and formula, as the database keeps: ``engines``). Nothing per document is held in the process: every question reads the database, so a
document added or removed by any process is seen by the next question of every other, and a process
starts in the same time whatever the collection's size.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

import numpy as np

from ...scope import GLOBAL_SCOPE
from ..interface import Scored, Written
from .connection import as_array
from .lexical import PgView
from .store import PgStore, day_number


def filters(scope: int | None, date_from: dt.date | None, date_to: dt.date | None) -> tuple[str, list]:
    """SQL over the ``scope`` and ``day`` columns, as ``DenseView.mask`` filters rows."""
    parts, args = [], []
    if scope is not None:
        if scope == GLOBAL_SCOPE:
            parts.append("scope = 0")
        else:
            parts.append("scope IN (0, ?)")
            args.append(scope)
    if date_from is not None:
        parts.append("day >= ?")
        args.append(day_number(date_from))
    if date_to is not None:
        parts.append("day > 0 AND day <= ?")
        args.append(day_number(date_to))
    return (" AND ".join(parts) or "TRUE"), args


class PgSearch:
    def __init__(self, store: PgStore, model: str) -> None:
        self.store = store
        self.model = model
        self.conn = store.connection
        self.lexical = store.lexical

    async def search(
        self,
        vector: np.ndarray,
        terms: Sequence[str],
        n: int,
        *,
        scope: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        words: str,
    ) -> Scored:
        where, args = filters(scope, date_from, date_to)
        # Both sides at once, on two pooled connections: the server works on one while the other
        # waits on the network or the other core.
        dense, (bm25, view) = await asyncio.gather(
            self.dense(np.asarray(vector, dtype=np.float32), n, where, args),
            self._lexical(list(dict.fromkeys(terms)), words, n, where, args),
        )
        return Scored(dense, bm25, view)

    async def _lexical(
        self, terms: list[str], words: str, n: int, where: str, args: list
    ) -> tuple[list[tuple[int, float]], PgView]:
        view = await self.lexical.statistics(terms)
        return (await self.lexical.rank(view, terms, words, n, where, args) if terms else []), view

    async def dense(self, vector: np.ndarray, n: int, where: str, args: list) -> list[tuple[int, float]]:
        """The ``n`` nearest passages by cosine (pgvector's HNSW index), ``where`` as ``_filters``."""
        # The size is a literal, as in the index's expression and predicate: the planner uses a
        # partial expression index only when the query names the same expression and condition.
        d = int(vector.shape[0])
        sql = (
            f"SELECT passage_id, 1 - distance AS score FROM ("
            f"SELECT passage_id, vector::vector({d}) <=> ?::vector({d}) AS distance FROM vectors"
            f" WHERE dim = {d} AND model = ? AND {where}"
            f" ORDER BY vector::vector({d}) <=> ?::vector({d}) LIMIT ?) AS nearest"
            # Iterative scans may return rows slightly out of order: sorted again here.
            f" ORDER BY distance, passage_id"
        )
        async with self.conn.execute(sql, [vector, self.model, *args, vector, n]) as cur:
            return [(int(r["passage_id"]), float(r["score"])) for r in await cur.fetchall()]

    async def term_statistics(self, terms: Sequence[str], view: object | None) -> tuple[dict[str, int], int]:
        # The frequencies are read now (the answer's terms are not the search's); the passage count
        # is the one the candidates were scored with.
        counts = await self.lexical.document_frequencies(terms)
        return counts, (len(view) if isinstance(view, PgView) else await self.size())

    async def vectors(self, pids: Sequence[int]) -> dict[int, np.ndarray]:
        if not pids:
            return {}
        async with self.conn.execute(
            "SELECT passage_id, vector FROM vectors WHERE model = ? AND passage_id = ANY(?)",
            [self.model, list(pids)],
        ) as cur:
            return {int(r["passage_id"]): as_array(r["vector"]) for r in await cur.fetchall()}

    async def size(self) -> int:
        return await self.store.count_passages()

    async def add_documents(self, written: Sequence[Written]) -> None:
        """Nothing to do: the store wrote the index rows in the documents' transaction."""

    async def remove_document(self, doc_id: int) -> None:
        """Nothing to do: the index rows went with the document's."""

    async def close(self) -> None:
        """Nothing is held in the process."""
