"""BM25 by pg_textsearch's ``bm25`` index (block-max WAND: the top passages without scoring every
passage that holds a word of the question), over ``bm25_texts``: one row per passage, its document's
title and its text, with the scope and day columns search filters on. At 1,000,000 passages a
question's BM25 takes milliseconds here where summing postings in SQL takes hundreds
(bench/README.md, "PostgreSQL").

pg_textsearch tokenises with a PostgreSQL text search configuration (``TEXT_CONFIG``), so its tokens
are not the lexical spec's (FTS5's porter tokens): ``term_stats`` is still kept in those, for the
answer step, from the terms each write tokenised (``lexical.count_in``); a removal tokenises the
stored text again to count its terms off, as there are no postings to count.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import psycopg

from .. import lexical
from .connection import Connection, one_line
from .lexical import PassageTerms, PgView, count_in, count_off, document_frequencies, statistics

INDEX = "bm25_texts_body"
# English stop words and Snowball stems. The quality this gives against FTS5's tokens: README,
# "Deploying at scale".
TEXT_CONFIG = "english"

# What the bm25 index reads for a passage (``p``) of a document (``d``): its title, then its text
# (the title counts as much as a word of the text here; the lexical spec counts it half).
BODY_SQL = "CASE WHEN d.title = '' THEN p.text ELSE d.title || E'\\n\\n' || p.text END"
DAY_SQL = "CASE WHEN d.published IS NULL THEN 0 ELSE (d.published::date - DATE '0001-01-01') + 1 END"


def textsearch_sql(where: str) -> str:
    """The bm25 index's query: parameters the words, ``where``'s own, the words again, the limit.

    The score selected is the one the index scan computed: pg_textsearch's planner hook makes a
    selected score read it when it equals the ORDER BY expression, which two parameters of the same
    value do once the planner has folded them into constants. So this statement must run with its
    values (``prepare=False``): a generic plan keeps them parameters, and each row would be scored
    again from its text (20-50 ms instead of 1-6 at 100,000 passages)."""
    query = f"to_bm25query(?, '{INDEX}')"
    return (
        f"SELECT passage_id, body <@> {query} AS score FROM bm25_texts WHERE {where} ORDER BY body <@> {query} LIMIT ?"
    )


async def unavailable(conn: Connection) -> str | None:
    """Why this server cannot serve the bm25 engine (None when it can): the extension not installed
    on the server, not loadable (pg_textsearch must be in ``shared_preload_libraries``), or not
    ours to create. Tried in a savepoint, so a refusal leaves the caller's transaction usable."""
    async with conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_textsearch') AS present"
    ) as cur:
        row = await cur.fetchone()
    if not (row and row["present"]):
        return "the server has no pg_textsearch extension"
    raw = conn.conn
    assert raw is not None  # inside a transaction
    try:
        async with raw.transaction():
            await raw.execute("CREATE EXTENSION IF NOT EXISTS pg_textsearch")
            # Loading it proves shared_preload_libraries names it (the extension refuses otherwise).
            await raw.execute("SELECT to_bm25query('probe')")
    except psycopg.Error as e:
        return one_line(e, 200)
    return None


async def index_exists(conn: Connection) -> bool:
    async with conn.execute("SELECT to_regclass(?) IS NOT NULL AS present", (INDEX,)) as cur:
        row = await cur.fetchone()
    return bool(row and row["present"])


async def make_index(conn: Connection) -> None:
    """The bm25 index over the rows there are (built once: faster than grown row by row)."""
    await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")  # this transaction only
    await conn.execute(f"CREATE INDEX {INDEX} ON bm25_texts USING bm25 (body) WITH (text_config = '{TEXT_CONFIG}')")


class TextsearchBm25:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn  # reads borrow a pooled connection per statement

    async def add(self, conn: Connection, passages: Sequence[PassageTerms]) -> None:
        if not passages:
            return
        # The title as stored: the document's row is this transaction's. One statement per document.
        await conn.execute(
            f"INSERT INTO bm25_texts (passage_id, scope, day, body) SELECT p.id, t.scope, t.day, {BODY_SQL}"
            " FROM unnest(?::bigint[], ?::bigint[], ?::int[]) AS t(id, scope, day)"
            " JOIN passages p ON p.id = t.id JOIN documents d ON d.id = p.document_id",
            ([p.passage_id for p in passages], [p.scope for p in passages], [p.day for p in passages]),
        )
        await count_in(conn, passages)

    async def remove(self, conn: Connection, passages: Sequence[tuple[int, float]]) -> None:
        if not passages:
            return
        # No postings to count: the passages' terms, from their stored title and text tokenised
        # again as when they were written. Their bm25 rows go with them (ON DELETE CASCADE).
        async with conn.execute(
            "SELECT d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.id = ANY(?)",
            ([pid for pid, _ in passages],),
        ) as cur:
            rows = await cur.fetchall()
        tokens = await asyncio.to_thread(lexical.tokenise, [(r["title"], r["text"]) for r in rows])
        await count_off(conn, passages, Counter(term for counts, _ in tokens for term in counts))

    async def statistics(self, terms: Sequence[str]) -> PgView:
        return await statistics(self.conn, terms)

    async def rank(
        self, view: PgView, terms: Sequence[str], words: str, n: int, where: str, args: list
    ) -> list[tuple[int, float]]:
        """The ``n`` best passages for ``words`` by the bm25 index, ``where`` applied as the index
        returns passages best first (it reads further when the filter leaves fewer than ``n``)."""
        if not words.strip():
            return []
        async with self.conn.execute(textsearch_sql(where), [words, *args, words, n], prepare=False) as cur:
            rows = await cur.fetchall()
        out: dict[int, float] = {}
        for r in rows:
            # The operator gives BM25 negated (the index orders ascending); a passage without any
            # of the words scores 0 and is no match. pg_textsearch before 1.3.1 could return a
            # passage twice under concurrent writes: the first, best, is kept.
            if r["score"] < 0:
                out.setdefault(int(r["passage_id"]), -float(r["score"]))
        return list(out.items())

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return await document_frequencies(self.conn, terms)
