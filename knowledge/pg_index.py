"""Search in PostgreSQL: the dense side by pgvector's HNSW index (cosine), the lexical side by
pg_textsearch's bm25 index, or where the database keeps postings instead (``pg_lexical``) by BM25
computed in SQL from them, with FTS5's formula and tokens as ``index.LexicalIndex`` (k1 = 1.2,
b = 0.75, IDF floored at 1e-6). Nothing per document is held in the process: every
question reads the database, so a document added or removed by any process is seen by the next
question of every other, and a process starts in the same time whatever the collection's size.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import pg_lexical
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
    document frequencies of its terms, fetched with the candidates, and the lexical engine the
    database kept then."""

    passages: int
    frequencies: dict[str, int]
    total_length: float = 0.0
    lexical: str = pg_lexical.POSTINGS

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
        words: str = "",
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]], PgView]:
        """Both sides' candidates: ``terms`` are the query's index tokens (FTS5's, for the postings
        engine and the statistics), ``words`` its content words (pg_textsearch tokenises them)."""
        where, args = _filters(scope, date_from, date_to)
        unique = list(dict.fromkeys(terms))
        # Both sides at once, on two pooled connections: the server works on one while the other
        # waits on the network or the other core.
        dense, (bm25, view) = await asyncio.gather(
            self.dense(np.asarray(vector, dtype=np.float32), n, where, args),
            self._lexical(unique, words, n, where, args),
        )
        return dense, bm25, view

    async def _lexical(
        self, terms: list[str], words: str, n: int, where: str, args: list
    ) -> tuple[list[tuple[int, float]], PgView]:
        view = await self.statistics(terms)
        return await self.lexical(view, terms, words, n, where, args), view

    async def lexical(
        self, view: PgView, terms: Sequence[str], words: str, n: int, where: str, args: list
    ) -> list[tuple[int, float]]:
        """The lexical side by the engine ``view`` was read with."""
        if view.lexical == pg_lexical.BM25:
            return await pg_lexical.textsearch(self.store._conn, words, n, where, args)
        return await self.bm25(view, terms, n, where, args) if terms else []

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
        async with self.store._conn.execute(sql, [vector, self.model, *args, vector, n]) as cur:
            return [(int(r["passage_id"]), float(r["score"])) for r in await cur.fetchall()]

    async def statistics(self, terms: Sequence[str]) -> PgView:
        """The passage count, total length and the terms' document frequencies (``term_stats``, kept
        by every write; a term without a row is in no passage), in one statement: what BM25's IDF
        and length normalisation read, and what the answer step reads later."""
        unique = list(dict.fromkeys(terms))
        sql = (
            "SELECT c.passages, c.total_length, c.lexical, f.term, f.df FROM corpus_stats c LEFT JOIN"
            " (SELECT term, df FROM term_stats WHERE term = ANY(?)) f ON TRUE"
            " WHERE c.id = 1"
        )
        async with self.store._conn.execute(sql, [unique]) as cur:
            rows = await cur.fetchall()
        found = {r["term"]: int(r["df"]) for r in rows if r["term"] is not None}
        passages = int(rows[0]["passages"]) if rows else 0
        total = float(rows[0]["total_length"]) if rows else 0.0
        lexical = str(rows[0]["lexical"]) if rows else pg_lexical.POSTINGS
        return PgView(passages, {t: found.get(t, 0) for t in unique}, total, lexical)

    async def bm25(self, view: PgView, terms: Sequence[str], n: int, where: str, args: list) -> list[tuple[int, float]]:
        """The ``n`` best passages by BM25 over ``terms``, with ``view``'s statistics: the IDF is
        computed here as ``LexicalView.search`` does, the per-passage part in SQL."""
        k1, b = LexicalIndex.K1, LexicalIndex.B
        count = view.passages
        avgdl = view.total_length / count if count > 0 and view.total_length > 0 else 1.0
        weighted = [(t, df) for t in dict.fromkeys(terms) if (df := view.frequencies.get(t, 0)) > 0]
        if not weighted:
            return []
        # FTS5's floor for terms in more than half the rows, written as LexicalView writes it
        idfs = [idf if (idf := math.log((count - df + 0.5) / (df + 0.5))) > 0 else 1e-6 for _, df in weighted]
        sql = (
            f"SELECT p.passage_id, SUM(w.idf * p.tf * {k1 + 1} / (p.tf + {k1} * ({1 - b} + {b} * p.length / ?)))"
            f" AS score FROM unnest(?::text[], ?::float8[]) AS w(term, idf) JOIN postings p ON p.term = w.term"
            f" WHERE {where} GROUP BY p.passage_id ORDER BY score DESC, p.passage_id LIMIT ?"
        )
        async with self.store._conn.execute(sql, [avgdl, [t for t, _ in weighted], idfs, *args, n]) as cur:
            return [(int(r["passage_id"]), float(r["score"])) for r in await cur.fetchall()]

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        unique = list(dict.fromkeys(terms))
        if not unique:
            return {}
        async with self.store._conn.execute("SELECT term, df FROM term_stats WHERE term = ANY(?)", [unique]) as cur:
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
