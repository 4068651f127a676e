"""``newsdesk migrate --to postgresql://...``: copy a store (the SQLite file, or another PostgreSQL
database) into PostgreSQL: documents, passages and their vectors (no re-embedding), the interaction
log and the briefing records.

Ids are kept: the interaction log cites passage ids, and "#7" must stay document 7. Running it again
copies only what is missing (documents by id, log rows by id, briefing records by channel and day),
so an interrupted migration is finished by running it once more.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .index import LexicalIndex
from .pg import as_array
from .pg_store import PgStore, day_number
from .plain import plural
from .scope import scope_of
from .store import Store

log = logging.getLogger(__name__)

# Documents copied per transaction: a failure loses at most this many, which the next run copies.
BATCH_DOCUMENTS = 100

_DOCUMENT_COLUMNS = (
    "id, title, source, published, published_precision, author, guild_id, origin, content_hash, text, words, added_at"
)
_INTERACTION_COLUMNS = (
    "id, at, guild_id, channel_id, user_id, kind, input, outcome, answer, passage_ids, scores, latency_ms, ref_id"
)
_BRIEFING_COLUMNS = "guild_id, channel_id, day, posted_at, message_id"


@dataclass
class MigrationReport:
    documents: int = 0
    already_there: int = 0
    passages: int = 0
    vectors: int = 0
    interactions: int = 0
    briefing_posts: int = 0

    def summary(self) -> str:
        return (
            f"copied {plural(self.documents, 'document')} ({self.already_there} already there),"
            f" {plural(self.passages, 'passage')}, {plural(self.vectors, 'vector')},"
            f" {plural(self.interactions, 'interaction-log row')}, {plural(self.briefing_posts, 'briefing record')}"
        )


async def migrate(
    source: Store, target: PgStore, *, progress: Callable[[int, int], None] | None = None
) -> MigrationReport:
    report = MigrationReport()
    have = {r["id"] for r in await _rows(target, "SELECT id FROM documents")}
    wanted = [r["id"] for r in await _rows(source, "SELECT id FROM documents ORDER BY id")]
    todo = [i for i in wanted if i not in have]
    report.already_there = len(wanted) - len(todo)
    for start in range(0, len(todo), BATCH_DOCUMENTS):
        await _copy_documents(source, target, todo[start : start + BATCH_DOCUMENTS], report)
        if progress:
            progress(min(start + BATCH_DOCUMENTS, len(todo)), len(todo))
    report.interactions = await _copy_rows(
        source, target, "interactions", _INTERACTION_COLUMNS, "ON CONFLICT (id) DO NOTHING"
    )
    report.briefing_posts = await _copy_rows(
        source, target, "briefing_posts", _BRIEFING_COLUMNS, "ON CONFLICT (channel_id, day) DO NOTHING"
    )
    await _advance_sequences(source, target)
    return report


async def _rows(store: Store, sql: str, args: Sequence = ()) -> list:
    async with store._conn.execute(sql, args) as cur:
        return list(await cur.fetchall())


def _vector(value) -> np.ndarray:
    """A stored vector from either engine: SQLite's float32 blob or a pgvector value."""
    if isinstance(value, bytes | bytearray | memoryview):
        return np.frombuffer(bytes(value), dtype="<f4").astype(np.float32)
    return as_array(value)


async def _copy_documents(source: Store, target: PgStore, ids: list[int], report: MigrationReport) -> None:
    marks = ",".join("?" * len(ids))
    docs = await _rows(source, f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE id IN ({marks}) ORDER BY id", ids)
    passages = await _rows(
        source,
        "SELECT id, document_id, ordinal, paragraph_index, char_start, char_end, text, text_hash FROM passages"
        f" WHERE document_id IN ({marks}) ORDER BY document_id, ordinal",
        ids,
    )
    vectors: dict[str, dict[int, np.ndarray]] = {}
    pids = [p["id"] for p in passages]
    for i in range(0, len(pids), 500):
        chunk = pids[i : i + 500]
        for r in await _rows(
            source,
            f"SELECT passage_id, model, vector FROM vectors WHERE passage_id IN ({','.join('?' * len(chunk))})",
            chunk,
        ):
            vectors.setdefault(r["model"], {})[r["passage_id"]] = _vector(r["vector"])
    for dim in {int(v.shape[0]) for by_pid in vectors.values() for v in by_pid.values()}:
        await target.ensure_vector_index(dim)
    by_doc: dict[int, list] = {}
    for p in passages:
        by_doc.setdefault(p["document_id"], []).append(p)
    titles = {d["id"]: d["title"] for d in docs}
    # BM25 postings are the target's own: tokenised here (CPU work, in a worker).
    tokens = await asyncio.to_thread(LexicalIndex().tokenise, [(titles[p["document_id"]], p["text"]) for p in passages])
    token_of = dict(zip(pids, tokens, strict=True))
    async with target.transaction() as conn:
        for d in docs:
            async with conn.execute(
                f"INSERT INTO documents ({_DOCUMENT_COLUMNS}) VALUES ({','.join('?' * 12)})"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                [d[c.strip()] for c in _DOCUMENT_COLUMNS.split(",")],
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
            await target._write_passages(
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


async def _copy_rows(source: Store, target: PgStore, table: str, columns: str, conflict: str) -> int:
    names = [c.strip() for c in columns.split(",")]
    rows = await _rows(source, f"SELECT {columns} FROM {table} ORDER BY {names[0]}")
    before = await _count(target, table)
    for i in range(0, len(rows), 1000):
        async with target.transaction() as conn:
            await conn.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({','.join('?' * len(names))}) {conflict}",
                [[r[n] for n in names] for r in rows[i : i + 1000]],
            )
    return await _count(target, table) - before


async def _count(store: Store, table: str) -> int:
    [row] = await _rows(store, f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"])


async def _advance_sequences(source: Store, target: PgStore) -> None:
    """New rows in the target must never take a copied id, nor one the source ever gave out (SQLite's
    AUTOINCREMENT remembers removed ids; reusing one would make old log rows cite new passages)."""
    issued: dict[str, int] = {}
    if not isinstance(source, PgStore):
        for r in await _rows(source, "SELECT name, seq FROM sqlite_sequence"):
            issued[r["name"]] = int(r["seq"])
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
