"""The lexical side of search in PostgreSQL, by one of two engines, recorded in the database
(``corpus_stats.lexical``) so that every process reads and writes the same one:

- ``bm25``: pg_textsearch's ``bm25`` index (block-max WAND top-k) over ``bm25_texts``, one row per
  passage (its document's title and its text), when the server has the extension. At 1,000,000
  passages a question's BM25 takes milliseconds where summing postings in SQL takes hundreds
  (bench/README.md, "PostgreSQL").
- ``postings``: exact BM25 computed in SQL from the ``postings`` table, with FTS5's formula and
  tokens as the in-memory index (``pg_index.PgIndex.bm25``): for servers without the extension, or
  when ``NEWSDESK_PG_BM25=sql`` asks for it.

A process settles the engine when it opens the database (``settle``): the extension is used when
the server can load it and the setting allows it, and a database recorded with the other engine is
converted once, in one transaction (filling one engine's table, emptying the other's). Writers take
the shared side of one advisory lock (``write_engine``) before they touch either engine's tables and
read the engine under it; a conversion takes the exclusive side, so a document is never written for
an engine that is being replaced. Readers read the engine with each question's statistics (one
statement they make anyway), so a conversion made by another process is followed at the next
question. Both engines keep ``term_stats`` and ``corpus_stats`` (the answer step reads them).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence

import psycopg

from .index import LexicalIndex
from .pg import Connection, one_line

log = logging.getLogger(__name__)

BM25 = "bm25"
POSTINGS = "postings"
# The shared / exclusive advisory lock between writers and a conversion ("lexi").
_LOCK = 0x6C657869
INDEX = "bm25_texts_body"
# pg_textsearch's text search configuration: English stop words and Snowball stems. FTS5's porter
# tokens (the postings engine's) differ a little; the quality this gives is in the README.
TEXT_CONFIG = "english"
# Passages tokenised per statement when postings are made again from the passages.
_SLICE = 2000


# What the bm25 index reads for a passage (``p``) of a document (``d``): its title, then its text (the
# title counts as much as a word of the text here; the postings engine counts it half).
BODY_SQL = "CASE WHEN d.title = '' THEN p.text ELSE d.title || E'\\n\\n' || p.text END"
DAY_SQL = "CASE WHEN d.published IS NULL THEN 0 ELSE (d.published::date - DATE '0001-01-01') + 1 END"


async def write_engine(conn: Connection) -> str:
    """Inside a write transaction, before its first write to either engine's tables: the shared
    lock (held to the end of the transaction) and the engine to write for."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared(?)", (_LOCK,))
    # A statement of its own: one statement reads what was committed when it began, and a
    # conversion that ended while this waited for the lock must be seen.
    async with conn.execute("SELECT lexical FROM corpus_stats WHERE id = 1") as cur:
        row = await cur.fetchone()
    return str(row["lexical"]) if row else POSTINGS


async def textsearch_unavailable(conn: Connection) -> str | None:
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


async def settle(db, want: str) -> str:
    """Make the database's engine the one this process wants (``want``: ``auto`` or ``sql``) and the
    server allows, converting it if it is recorded with the other; returns the engine. Opening a
    database that needs nothing takes no lock: writers of other processes never wait for it."""
    async with db.transaction() as conn:
        current, _ = await _recorded(conn)
        why = "NEWSDESK_PG_BM25=sql" if want == "sql" else await textsearch_unavailable(conn)
        target = POSTINGS if why else BM25
        if why and want != "sql":
            log.info("BM25 in SQL from postings (exact, slower past ~100,000 passages): %s", why)
        if target == current and (target == POSTINGS or await _index_exists(conn)):
            return current
        # A conversion (or a bm25 database restored without its index): writers wait meanwhile.
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK,))
        current, passages = await _recorded(conn)  # as another process may have left it meanwhile
        if target == BM25:
            if current == POSTINGS:
                if passages:  # a new database just starts with its engine
                    log.warning("converting the lexical index of %d passages from postings to bm25 (once)", passages)
                await _to_bm25(conn)
            elif not await _index_exists(conn):
                log.warning("making the bm25 index again (it was missing)")
                await _index(conn)
        elif current == BM25:
            log.warning("converting the lexical index of %d passages from bm25 to postings (once)", passages)
            await _to_postings(conn)
        await conn.execute("UPDATE corpus_stats SET lexical = ? WHERE id = 1", (target,))
        return target


async def _recorded(conn: Connection) -> tuple[str, int]:
    """The engine the database is kept for, and its passage count."""
    async with conn.execute("SELECT lexical, passages FROM corpus_stats WHERE id = 1") as cur:
        row = await cur.fetchone()
    return (str(row["lexical"]), int(row["passages"])) if row else (POSTINGS, 0)


async def _index_exists(conn: Connection) -> bool:
    async with conn.execute("SELECT to_regclass(?) IS NOT NULL AS present", (INDEX,)) as cur:
        row = await cur.fetchone()
    return bool(row and row["present"])


async def _index(conn: Connection) -> None:
    # Built once over the rows (faster than row by row), with room for it (this transaction only).
    await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
    await conn.execute(f"CREATE INDEX {INDEX} ON bm25_texts USING bm25 (body) WITH (text_config = '{TEXT_CONFIG}')")


async def _to_bm25(conn: Connection) -> None:
    await conn.execute(f"DROP INDEX IF EXISTS {INDEX}")  # made after the rows, not grown row by row
    await conn.execute("TRUNCATE bm25_texts")
    await conn.execute(
        f"INSERT INTO bm25_texts (passage_id, scope, day, body) SELECT p.id, COALESCE(d.guild_id, 0), {DAY_SQL},"
        f" {BODY_SQL} FROM passages p JOIN documents d ON d.id = p.document_id"
    )
    await _index(conn)
    await conn.execute("TRUNCATE postings")


async def _to_postings(conn: Connection) -> None:
    # The index first: without the extension loaded, emptying its table would fail on it.
    await conn.execute(f"DROP INDEX IF EXISTS {INDEX}")
    await conn.execute("TRUNCATE bm25_texts, postings")
    after = 0
    while True:
        async with conn.execute(
            f"SELECT p.id, d.title, p.text, COALESCE(d.guild_id, 0) AS scope, {DAY_SQL} AS day FROM passages p"
            " JOIN documents d ON d.id = p.document_id WHERE p.id > ? ORDER BY p.id LIMIT ?",
            (after, _SLICE),
        ) as cur:
            rows = await cur.fetchall()
        if not rows:
            return
        tokens = await asyncio.to_thread(LexicalIndex().tokenise, [(r["title"], r["text"]) for r in rows])
        raw = conn.conn
        assert raw is not None
        async with (
            raw.cursor() as cur,
            cur.copy("COPY postings (term, passage_id, tf, length, scope, day) FROM STDIN") as copy,
        ):
            for r, (counts, length) in zip(rows, tokens, strict=True):
                for term, tf in counts.items():
                    await copy.write_row((term, r["id"], tf, length, r["scope"], r["day"]))
        after = int(rows[-1]["id"])


async def removed_terms(conn: Connection, ids: Sequence[int]) -> Counter[str]:
    """With the bm25 engine (no postings): how many of the passages ``ids`` hold each term, from their
    stored title and text tokenised again, as they were when written."""
    async with conn.execute(
        "SELECT d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.id = ANY(?)",
        (list(ids),),
    ) as cur:
        rows = await cur.fetchall()
    tokens = await asyncio.to_thread(LexicalIndex().tokenise, [(r["title"], r["text"]) for r in rows])
    return Counter(term for counts, _ in tokens for term in counts)


def textsearch_sql(where: str) -> str:
    """The bm25 index's query: parameters ``words``, ``where``'s own, ``words`` again, the limit.

    The score selected is the one the index scan computed: pg_textsearch's planner hook makes a
    selected score read it when it equals the ORDER BY expression, which two parameters of the same
    value do once the planner has folded them into constants. So this statement must run with its
    values (``prepare=False``): a generic plan keeps them parameters, and each row would be scored
    again from its text (20-50 ms instead of 1-6 at 100,000 passages)."""
    query = f"to_bm25query(?, '{INDEX}')"
    return (
        f"SELECT passage_id, body <@> {query} AS score FROM bm25_texts WHERE {where}"
        f" ORDER BY body <@> {query} LIMIT ?"
    )


async def textsearch(conn: Connection, words: str, n: int, where: str, args: list) -> list[tuple[int, float]]:
    """The ``n`` best passages for ``words`` by the bm25 index, ``where`` as ``pg_index._filters``
    (on the table's own scope and day columns): filters are applied as the index returns passages
    best first, and it fetches more when they leave fewer than ``n``."""
    if not words.strip():
        return []
    async with conn.execute(textsearch_sql(where), [words, *args, words, n], prepare=False) as cur:
        rows = await cur.fetchall()
    out: dict[int, float] = {}
    for r in rows:
        # The operator gives BM25 negated (the index orders ascending); a passage without any of
        # the words scores 0 and is no match. pg_textsearch before 1.3.1 could return a passage
        # twice under concurrent writes: the first, best, is kept.
        if r["score"] < 0:
            out.setdefault(int(r["passage_id"]), -float(r["score"]))
    return list(out.items())
