"""The lexical side of search in PostgreSQL, behind one small interface (``LexicalSide``): what a
document's transaction writes for it, what a removal takes back, and the query. Two ways of ranking
BM25 in the database stand behind it, and a database keeps one (``engines``):

- ``PostingsBm25`` (here): BM25 computed in SQL from a postings table (term, passage, term
  frequency, passage length), with the lexical spec's tokens and formula (``backends.lexical``), so
  it ranks exactly as the SQLite engine does; it needs nothing but PostgreSQL.
- ``textsearch.TextsearchBm25``: pg_textsearch's ``bm25`` index, where the server has the extension.

Both keep ``corpus_stats`` (the passage count and total length) and ``term_stats`` (each term's
document frequency, in the lexical spec's tokens) in each document's transaction: the postings
engine's IDF reads them, and so does the answer step, whichever engine ranked. A question never
counts the whole table nor a term's postings. PostgreSQL's own ``ts_rank`` is not BM25 (no IDF, no
length normalisation against the corpus).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .. import lexical
from .connection import Connection

# The engines a database can be kept for (``corpus_stats.lexical``).
POSTINGS = "postings"
BM25 = "bm25"


@dataclass(frozen=True)
class PgView:
    """What a question's later steps read of the index it was scored on: the passage count and the
    document frequencies of its terms, fetched with the candidates, and the engine the database
    was kept for then."""

    passages: int
    frequencies: dict[str, int]
    total_length: float = 0.0
    engine: str = POSTINGS

    def __len__(self) -> int:
        return self.passages


@dataclass(frozen=True)
class PassageTerms:
    """One passage's row for the lexical side: its id, the filter columns, and its terms."""

    passage_id: int
    scope: int
    day: int
    terms: lexical.Terms


class LexicalSide(Protocol):
    async def add(self, conn: Connection, passages: Sequence[PassageTerms]) -> None:
        """Index passages just written, in the caller's transaction (``conn``)."""
        ...

    async def remove(self, conn: Connection, passages: Sequence[tuple[int, float]]) -> None:
        """Take back (passage id, length) rows about to be deleted, in the caller's transaction."""
        ...

    async def statistics(self, terms: Sequence[str]) -> PgView:
        """The passage count and the document frequencies of ``terms`` (index tokens), read once per
        question: what ranking reads, and what the answer step reads later."""
        ...

    async def rank(
        self, view: PgView, terms: Sequence[str], words: str, n: int, where: str, args: list
    ) -> list[tuple[int, float]]:
        """The ``n`` best passages for the question (``terms``: its index tokens, unique, non-empty;
        ``words``: its content words) that pass ``where`` (SQL over the ``scope`` and ``day``
        columns, ``search.filters``), as (passage id, BM25 score), best first."""
        ...

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...


# ---------------------------------------------------------------------------- what both engines keep


async def count_in(conn: Connection, passages: Sequence[PassageTerms]) -> None:
    """Passages just written, counted into ``corpus_stats`` and ``term_stats``."""
    # corpus_stats first: every writer takes that row's lock before any of term_stats, so two
    # writers never wait on each other's term rows (no deadlock), and they take term rows in sorted
    # order besides.
    await conn.execute(
        "UPDATE corpus_stats SET passages = passages + ?, total_length = total_length + ? WHERE id = 1",
        (len(passages), float(sum(p.terms[1] for p in passages))),
    )
    frequencies = Counter(term for p in passages for term in p.terms[0])
    if frequencies:
        terms = sorted(frequencies)
        await conn.execute(
            "INSERT INTO term_stats (term, df) SELECT term, df FROM unnest(?::text[], ?::bigint[]) AS s(term, df)"
            " ON CONFLICT (term) DO UPDATE SET df = term_stats.df + excluded.df",
            (terms, [frequencies[t] for t in terms]),
        )


async def count_off(conn: Connection, passages: Sequence[tuple[int, float]], terms: Counter[str]) -> None:
    """Passages about to be deleted, (id, length), holding ``terms`` (term -> how many of them),
    counted off; a term left in no passage loses its row."""
    # As in ``count_in``: corpus_stats' lock first, then the term rows, sorted.
    await conn.execute(
        "UPDATE corpus_stats SET passages = passages - ?, total_length = total_length - ? WHERE id = 1",
        (len(passages), float(sum(length for _, length in passages))),
    )
    if not terms:
        return
    ordered = sorted(terms)
    async with conn.execute(
        "UPDATE term_stats t SET df = t.df - g.n FROM unnest(?::text[], ?::bigint[]) AS g(term, n)"
        " WHERE t.term = g.term RETURNING t.term, t.df",
        (ordered, [terms[t] for t in ordered]),
    ) as cur:
        gone = [r["term"] for r in await cur.fetchall() if r["df"] <= 0]
    if gone:
        await conn.execute("DELETE FROM term_stats WHERE term = ANY(?) AND df <= 0", (gone,))


async def statistics(conn: Connection, terms: Sequence[str]) -> PgView:
    """The passage count, total length, the engine and the terms' document frequencies
    (``term_stats``, kept by every write; a term without a row is in no passage), in one statement:
    what BM25's IDF and length normalisation read, what the answer step reads later, and which
    engine ranks the question (a conversion by another process is followed at the next question)."""
    unique = list(dict.fromkeys(terms))
    sql = (
        "SELECT c.passages, c.total_length, c.lexical, f.term, f.df FROM corpus_stats c LEFT JOIN"
        " (SELECT term, df FROM term_stats WHERE term = ANY(?)) f ON TRUE"
        " WHERE c.id = 1"
    )
    async with conn.execute(sql, [unique]) as cur:
        rows = await cur.fetchall()
    found = {r["term"]: int(r["df"]) for r in rows if r["term"] is not None}
    if not rows:
        return PgView(0, dict.fromkeys(unique, 0))
    first = rows[0]
    frequencies = {t: found.get(t, 0) for t in unique}
    return PgView(int(first["passages"]), frequencies, float(first["total_length"]), str(first["lexical"]))


async def document_frequencies(conn: Connection, terms: Sequence[str]) -> dict[str, int]:
    unique = list(dict.fromkeys(terms))
    if not unique:
        return {}
    async with conn.execute("SELECT term, df FROM term_stats WHERE term = ANY(?)", [unique]) as cur:
        found = {r["term"]: int(r["df"]) for r in await cur.fetchall()}
    return {t: found.get(t, 0) for t in unique}


# ---------------------------------------------------------------------------- BM25 in SQL from postings


class PostingsBm25:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn  # reads borrow a pooled connection per statement

    async def add(self, conn: Connection, passages: Sequence[PassageTerms]) -> None:
        raw = conn.conn
        assert raw is not None  # inside a transaction
        async with raw.cursor() as cur:
            async with cur.copy("COPY postings (term, passage_id, tf, length, scope, day) FROM STDIN") as copy:
                for p in passages:
                    counts, length = p.terms
                    for term, tf in counts.items():
                        await copy.write_row((term, p.passage_id, tf, length, p.scope, p.day))
        await count_in(conn, passages)

    async def remove(self, conn: Connection, passages: Sequence[tuple[int, float]]) -> None:
        if not passages:
            return
        # The postings go with their passages (ON DELETE CASCADE): counted first.
        async with conn.execute(
            "SELECT term, COUNT(*) AS n FROM postings WHERE passage_id = ANY(?) GROUP BY term",
            ([pid for pid, _ in passages],),
        ) as cur:
            terms = Counter({r["term"]: int(r["n"]) for r in await cur.fetchall()})
        await count_off(conn, passages, terms)

    async def statistics(self, terms: Sequence[str]) -> PgView:
        return await statistics(self.conn, terms)

    async def rank(
        self, view: PgView, terms: Sequence[str], words: str, n: int, where: str, args: list
    ) -> list[tuple[int, float]]:
        """The ``n`` best passages by BM25 over ``terms``, with ``view``'s statistics: the IDF is
        computed here (``lexical.idf``), the per-passage part in SQL."""
        k1, b = lexical.K1, lexical.B
        count = view.passages
        avgdl = view.total_length / count if count > 0 and view.total_length > 0 else 1.0
        weighted = [(t, df) for t in dict.fromkeys(terms) if (df := view.frequencies.get(t, 0)) > 0]
        if not weighted:
            return []
        idfs = [lexical.idf(count, df) for _, df in weighted]
        sql = (
            f"SELECT p.passage_id, SUM(w.idf * p.tf * {k1 + 1} / (p.tf + {k1} * ({1 - b} + {b} * p.length / ?)))"
            f" AS score FROM unnest(?::text[], ?::float8[]) AS w(term, idf) JOIN postings p ON p.term = w.term"
            f" WHERE {where} GROUP BY p.passage_id ORDER BY score DESC, p.passage_id LIMIT ?"
        )
        async with self.conn.execute(sql, [avgdl, [t for t, _ in weighted], idfs, *args, n]) as cur:
            return [(int(r["passage_id"]), float(r["score"])) for r in await cur.fetchall()]

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return await document_frequencies(self.conn, terms)
