"""Which lexical engine a PostgreSQL database is kept for, and keeping every process on it.

A database keeps one engine, recorded in ``corpus_stats.lexical``: ``bm25`` (pg_textsearch's index,
``textsearch``) or ``postings`` (BM25 in SQL, ``lexical.PostingsBm25``). A process settles it when it
opens the database (``settle``): pg_textsearch when the server can load it and the setting
(``NEWSDESK_PG_BM25``) allows it, else the postings; a database recorded with the other engine is
converted once, in one transaction (one engine's table filled, the other's emptied).

Every process follows the database, not its own choice: writers take the shared side of one
advisory lock before they touch either engine's tables and read the engine under it
(``DatabaseLexical.add``/``remove``); a conversion takes the exclusive side, so nothing is written
for an engine being replaced. A question reads the engine with its statistics (one statement it
makes anyway), so a process follows another's conversion at its next question.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from .. import lexical
from .connection import Connection
from .lexical import BM25, POSTINGS, LexicalSide, PassageTerms, PgView, PostingsBm25, document_frequencies, statistics
from .textsearch import BODY_SQL, DAY_SQL, INDEX, TextsearchBm25, index_exists, make_index, unavailable

log = logging.getLogger(__name__)

# The shared (writers) / exclusive (a conversion) advisory lock ("lexi").
_LOCK = 0x6C657869
# Passages tokenised per statement when postings are made again from the passages.
_SLICE = 2000


class DatabaseLexical:
    """The lexical side of a store: each call goes to the engine the database keeps at that moment
    (``LexicalSide``, as each engine is)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.engines: dict[str, LexicalSide] = {POSTINGS: PostingsBm25(conn), BM25: TextsearchBm25(conn)}

    async def add(self, conn: Connection, passages: Sequence[PassageTerms]) -> None:
        await self.engines[await write_engine(conn)].add(conn, passages)

    async def remove(self, conn: Connection, passages: Sequence[tuple[int, float]]) -> None:
        await self.engines[await write_engine(conn)].remove(conn, passages)

    async def statistics(self, terms: Sequence[str]) -> PgView:
        return await statistics(self.conn, terms)

    async def rank(
        self, view: PgView, terms: Sequence[str], words: str, n: int, where: str, args: list
    ) -> list[tuple[int, float]]:
        return await self.engines[view.engine].rank(view, terms, words, n, where, args)

    async def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        return await document_frequencies(self.conn, terms)


async def write_engine(conn: Connection) -> str:
    """Inside a write transaction, before its first write to either engine's tables: the shared
    lock (held to the end of the transaction) and the engine to write for."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared(?)", (_LOCK,))
    # A statement of its own: one statement reads what was committed when it began, and a
    # conversion that ended while this waited for the lock must be seen.
    async with conn.execute("SELECT lexical FROM corpus_stats WHERE id = 1") as cur:
        row = await cur.fetchone()
    return str(row["lexical"]) if row else POSTINGS


async def settle(db, want: str) -> str:
    """Make the database's engine the one this process wants (``want``: ``auto`` or ``sql``) and the
    server allows, converting it if it is recorded with the other; returns the engine. Opening a
    database that needs nothing takes no lock: writers of other processes never wait for it."""
    async with db.transaction() as conn:
        current, _ = await _recorded(conn)
        why = "NEWSDESK_PG_BM25=sql" if want == "sql" else await unavailable(conn)
        target = POSTINGS if why else BM25
        if why and want != "sql":
            log.info("BM25 in SQL from postings (exact, slower past ~100,000 passages): %s", why)
        if target == current and (target == POSTINGS or await index_exists(conn)):
            return current
        # A conversion (or a bm25 database restored without its index): writers wait meanwhile.
        await conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK,))
        current, passages = await _recorded(conn)  # as another process may have left it meanwhile
        if target == BM25:
            if current == POSTINGS:
                if passages:  # a new database just starts with its engine
                    log.warning("converting the lexical index of %d passages from postings to bm25 (once)", passages)
                await _to_bm25(conn)
            elif not await index_exists(conn):
                log.warning("making the bm25 index again (it was missing)")
                await make_index(conn)
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


async def _to_bm25(conn: Connection) -> None:
    await conn.execute(f"DROP INDEX IF EXISTS {INDEX}")  # made after the rows, not grown row by row
    await conn.execute("TRUNCATE bm25_texts")
    await conn.execute(
        f"INSERT INTO bm25_texts (passage_id, scope, day, body) SELECT p.id, COALESCE(d.guild_id, 0), {DAY_SQL},"
        f" {BODY_SQL} FROM passages p JOIN documents d ON d.id = p.document_id"
    )
    await make_index(conn)
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
        tokens = await asyncio.to_thread(lexical.tokenise, [(r["title"], r["text"]) for r in rows])
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
