"""``newsdesk migrate --to postgresql://...``: copy a store (the SQLite file, or another PostgreSQL
database) into PostgreSQL: documents, passages and their vectors (no re-embedding), the interaction
log and the briefing records.

Ids are kept: the interaction log cites passage ids, and "#7" must stay document 7. Running it again
copies only what is missing (documents by id, log rows by id, briefing records by channel and day),
so an interrupted migration is finished by running it once more.

The source is read through the store interface only (``Store.export_documents`` and the like), so
any engine's store can be copied from.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence

from ...scope import scope_of
from .. import lexical
from ..interface import CopyReport, Store
from ..sql.documents import EXPORTED_COLUMNS
from ..sql.log import BRIEFING_COLUMNS, INTERACTION_COLUMNS
from .store import PgStore, day_number

log = logging.getLogger(__name__)

# Documents copied per transaction: a failure loses at most this many, which the next run copies.
BATCH_DOCUMENTS = 100


async def migrate(source: Store, target: PgStore, *, progress: Callable[[int, int], None] | None = None) -> CopyReport:
    report = CopyReport()
    have = set(await target.document_ids())
    wanted = await source.document_ids()
    todo = [i for i in wanted if i not in have]
    report.already_there = len(wanted) - len(todo)
    for start in range(0, len(todo), BATCH_DOCUMENTS):
        await _copy_documents(source, target, todo[start : start + BATCH_DOCUMENTS], report)
        if progress:
            progress(min(start + BATCH_DOCUMENTS, len(todo)), len(todo))
    report.interactions = await _copy_rows(
        target, await source.export_log(), "interactions", INTERACTION_COLUMNS, "ON CONFLICT (id) DO NOTHING"
    )
    report.briefing_posts = await _copy_rows(
        target,
        await source.export_briefing_posts(),
        "briefing_posts",
        BRIEFING_COLUMNS,
        "ON CONFLICT (channel_id, day) DO NOTHING",
    )
    await _advance_sequences(await source.issued_ids(), target)
    return report


async def _copy_documents(source: Store, target: PgStore, ids: list[int], report: CopyReport) -> None:
    docs, passages, vectors = await source.export_documents(ids)
    pids = [p["id"] for p in passages]
    for dim in {int(v.shape[0]) for by_pid in vectors.values() for v in by_pid.values()}:
        await target.ensure_vector_index(dim)
    by_doc: dict[int, list] = {}
    for p in passages:
        by_doc.setdefault(p["document_id"], []).append(p)
    titles = {d["id"]: d["title"] for d in docs}
    # BM25 postings are the target's own: tokenised here (CPU work, in a worker).
    tokens = await asyncio.to_thread(lexical.tokenise, [(titles[p["document_id"]], p["text"]) for p in passages])
    token_of = dict(zip(pids, tokens, strict=True))
    columns = [c.strip() for c in EXPORTED_COLUMNS.split(",")]
    async with target.transaction() as conn:
        for d in docs:
            async with conn.execute(
                f"INSERT INTO documents ({EXPORTED_COLUMNS}) VALUES ({','.join('?' * len(columns))})"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                [d[c] for c in columns],
            ) as cur:
                if await cur.fetchone() is None:  # copied meanwhile by another run
                    report.already_there += 1
                    continue
            rows = [
                (p["id"], p["ordinal"], p["paragraph_index"], p["char_start"], p["char_end"], p["text"], p["text_hash"])
                for p in by_doc.get(d["id"], [])
            ]
            published = dt.date.fromisoformat(d["published"]) if d["published"] else None
            per_model = [(model, [by_pid.get(r[0]) for r in rows]) for model, by_pid in vectors.items()]
            await target.write_passages(
                conn,
                d["id"],
                scope_of(d["guild_id"]),
                day_number(published),
                rows,
                [token_of[r[0]] for r in rows],
                per_model,
            )
            report.documents += 1
            report.passages += len(rows)
            report.vectors += sum(v is not None for _, vecs in per_model for v in vecs)


async def _copy_rows(target: PgStore, rows: Sequence, table: str, columns: str, conflict: str) -> int:
    names = [c.strip() for c in columns.split(",")]
    before = await _count(target, table)
    for i in range(0, len(rows), 1000):
        async with target.transaction() as conn:
            await conn.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({','.join('?' * len(names))}) {conflict}",
                [[r[n] for n in names] for r in rows[i : i + 1000]],
            )
    return await _count(target, table) - before


async def _count(target: PgStore, table: str) -> int:
    async with target.transaction() as conn:
        async with conn.execute(f"SELECT COUNT(*) AS n FROM {table}") as cur:
            row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def _advance_sequences(issued: dict[str, int], target: PgStore) -> None:
    """New rows in the target must never take a copied id, nor one the source ever gave out (SQLite's
    AUTOINCREMENT remembers removed ids; reusing one would make old log rows cite new passages)."""
    async with target.transaction() as conn:
        for table in ("documents", "passages", "interactions", "briefing_posts"):
            async with conn.execute(f"SELECT COALESCE(MAX(id), 0) AS n FROM {table}") as cur:
                row = await cur.fetchone()
            top = max(int(row["n"]) if row else 0, issued.get(table, 0))
            if top > 0:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" GREATEST(?, (SELECT last_value FROM {table}_id_seq)))",
                    (top,),
                )
