"""Search in PostgreSQL: the dense side by pgvector's HNSW index (cosine), the lexical side by BM25
computed in SQL from the postings table, with FTS5's formula and tokens as ``index.LexicalIndex``
(k1 = 1.2, b = 0.75, IDF floored at 1e-6). Nothing per document is held in the process: every
question reads the database, so a document added or removed by any process is seen by the next
question of every other, and a process starts in the same time whatever the collection's size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .index import LexicalIndex
from .pg import as_array
from .pg_store import PgStore, day_number
from .scope import GLOBAL_SCOPE


def _filters(scope: int | None, date_from: dt.date | None, date_to: dt.date | None) -> tuple[str, list]:
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


@dataclass(frozen=True)
class PgView:
    """What a question's later steps read of the index it was scored on: the passage count and the
    document frequencies of its terms, fetched with the candidates."""

    passages: int
    frequencies: dict[str, int]

    def __len__(self) -> int:
        return self.passages


class PgIndex:
    def __init__(self, store: PgStore, model: str) -> None:
        self.store = store
        self.model = model

    async def search(
        self,
        vector: np.ndarray,
        terms: Sequence[str],
        n: int,
        *,
        scope: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]], PgView]:
        where, args = _filters(scope, date_from, date_to)
        dense = await self._dense(np.asarray(vector, dtype=np.float32), n, where, args)
        unique = list(dict.fromkeys(terms))
        bm25 = await self._bm25(unique, n, where, args) if unique else []
        view = PgView(await self.store.count_passages(), await self.document_frequencies(unique))
        return dense, bm25, view

    async def _dense(self, vector: np.ndarray, n: int, where: str, args: list) -> list[tuple[int, float]]:
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
        async with self.store._conn.execute(sql, [vector, self.model, *args, vector, n]) as cur:
            return [(int(r["passage_id"]), float(r["score"])) for r in await cur.fetchall()]

    async def _bm25(self, terms: list[str], n: int, where: str, args: list) -> list[tuple[int, float]]:
        k1, b = LexicalIndex.K1, LexicalIndex.B
        sql = (
            "WITH stats AS (SELECT passages AS n,"
            " CASE WHEN passages > 0 AND total_length > 0 THEN total_length / passages ELSE 1 END AS avgdl"
            " FROM corpus_stats WHERE id = 1),"
            " df AS (SELECT term, COUNT(*) AS df FROM postings WHERE term = ANY(?) GROUP BY term),"
            " w AS (SELECT df.term, GREATEST(LN((stats.n - df.df + 0.5)::float8 / (df.df + 0.5)::float8), 1e-6) AS idf, stats.avgdl"
            " FROM df, stats)"
            f" SELECT p.passage_id, SUM(w.idf * p.tf * {k1 + 1} / (p.tf + {k1} * ({1 - b} + {b} * p.length / w.avgdl)))"
            f" AS score FROM postings p JOIN w ON w.term = p.term WHERE p.term = ANY(?) AND {where}"
            " GROUP BY p.passage_id ORDER BY score DESC, p.passage_id LIMIT ?"
        )
        async with self.store._conn.execute(sql, [terms, terms, *args, n]) as cur:
            return [(int(r["passage_id"]), float(r["score"])) for r in await cur.fetchall()]

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        unique = list(dict.fromkeys(terms))
        if not unique:
            return {}
        async with self.store._conn.execute(
            "SELECT term, COUNT(*) AS df FROM postings WHERE term = ANY(?) GROUP BY term", [unique]
        ) as cur:
            found = {r["term"]: int(r["df"]) for r in await cur.fetchall()}
        return {t: found.get(t, 0) for t in unique}

    async def vectors(self, pids: Sequence[int]) -> dict[int, np.ndarray]:
        if not pids:
            return {}
        async with self.store._conn.execute(
            "SELECT passage_id, vector FROM vectors WHERE model = ? AND passage_id = ANY(?)",
            [self.model, list(pids)],
        ) as cur:
            return {int(r["passage_id"]): as_array(r["vector"]) for r in await cur.fetchall()}

    async def size(self) -> int:
        return await self.store.count_passages()
