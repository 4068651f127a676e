"""The SQLite engine's store: the shared SQL (``sql.documents``, ``sql.log``, ``sql.setup``) on one
SQLite file, with a document's writes done the SQLite way (passages, an FTS5 row and a vector per
passage, ids picked from AUTOINCREMENT's sequences) and what the in-memory index loads.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ...errors import DuplicateDocument
from ...models import NewDocument, NewPassage
from ..interface import DocumentWrite
from ..sql.common import date_clause, one_row, scope_clause, valid_id
from ..sql.documents import DOCUMENT_COLUMNS, DOCUMENT_INSERT, DocumentSQL, document_row
from ..sql.log import LogSQL
from ..sql.setup import SetupSQL
from .database import Database
from .schema import MIGRATIONS

# The same with the id given: a batch picks its ids itself (see ``SqliteStore.insert_documents``).
_DOCUMENT_INSERT_WITH_ID = f"INSERT INTO documents (id, {DOCUMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_PASSAGE_INSERT = (
    "INSERT INTO passages (id, document_id, ordinal, paragraph_index, char_start, char_end, text, text_hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_FTS_INSERT = "INSERT INTO passages_fts (rowid, text, title) VALUES (?, ?, ?)"
_VECTOR_INSERT = "INSERT INTO vectors (passage_id, model, dim, vector) VALUES (?, ?, ?, ?)"


def _passage_rows(
    doc: NewDocument, doc_id: int, ids: Sequence[int], passages: Sequence[NewPassage], vectors: np.ndarray, model: str
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """One document's rows for ``passages``, ``passages_fts`` and ``vectors``."""
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    pairs = list(zip(ids, passages, strict=True))
    return (
        [
            (pid, doc_id, p.ordinal, p.paragraph_index, p.char_start, p.char_end, p.text, p.text_hash)
            for pid, p in pairs
        ],
        [(pid, p.text, doc.title) for pid, p in pairs],
        [(pid, model, int(vec.shape[0]), vec.tobytes()) for pid, vec in zip(ids, vectors, strict=True)],
    )


@contextmanager
def duplicates_refused() -> Iterator[None]:
    """The unique (content hash, scope) index refusing a document: another process indexed the same
    content between this one's check and its write."""
    try:
        yield
    except sqlite3.IntegrityError as e:
        if "documents_hash_scope" not in str(e):
            raise
        raise DuplicateDocument("already indexed (by another process, just now)") from None


class SqliteStore(Database, DocumentSQL, LogSQL, SetupSQL):
    """Documents, passages, vectors and the full-text index in one SQLite file; the queries both
    engines share come from ``DocumentSQL`` (documents), ``LogSQL`` (the interaction log and
    briefing posts) and ``SetupSQL`` (server settings and feeds), opening and transactions from
    ``Database``."""

    migrations = MIGRATIONS

    def vector_blob(self, stored: Any) -> bytes:
        return stored  # stored as float32 bytes already

    async def issued_ids(self) -> dict[str, int]:
        # AUTOINCREMENT remembers the ids of removed rows in sqlite_sequence.
        async with self._conn.execute("SELECT name, seq FROM sqlite_sequence") as cur:
            return {r["name"]: int(r["seq"]) for r in await cur.fetchall()}

    async def insert_document(
        self,
        doc: NewDocument,
        passages: Sequence[NewPassage],
        vectors: np.ndarray,
        model: str,
        *,
        replace_id: int | None = None,
        added_at: dt.datetime | None = None,
    ) -> tuple[int, list[int]]:
        """Insert a document with its passages, FTS rows and vectors in one transaction; when
        ``replace_id`` is given that document is deleted in the same transaction."""
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        if len(vectors) != len(passages):  # not an assert: under -O zip() would silently drop passages
            raise ValueError(f"{len(passages)} passages but {len(vectors)} vectors")
        with duplicates_refused():
            async with self.transaction() as conn:
                if replace_id is not None:
                    await conn.execute("DELETE FROM documents WHERE id = ?", (replace_id,))
                # RETURNING hands back the passage id to start from in the same round trip: the ids are the
                # ones SQLite would pick itself (AUTOINCREMENT's sequence + 1), safe because BEGIN IMMEDIATE holds the write lock
                # until COMMIT. Then three executemany calls instead of three statements per passage: every
                # await is a hop to aiosqlite's thread, and those hops were most of ingest's cost besides
                # the model.
                async with conn.execute(
                    DOCUMENT_INSERT
                    + " RETURNING id, (SELECT IFNULL(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'passages') AS last",
                    document_row(doc, added_at),
                ) as cur:
                    [row] = await cur.fetchall()
                doc_id, last = row["id"], row["last"]
                ids = list(range(last + 1, last + 1 + len(passages)))
                passage_rows, fts_rows, vector_rows = _passage_rows(doc, doc_id, ids, passages, vectors, model)
                await conn.executemany(_PASSAGE_INSERT, passage_rows)
                await conn.executemany(_FTS_INSERT, fts_rows)
                await conn.executemany(_VECTOR_INSERT, vector_rows)
        return doc_id, ids

    async def insert_documents(self, writes: Sequence[DocumentWrite], model: str) -> list[tuple[int, list[int]]]:
        """``insert_document`` for many documents in one transaction and a fixed number of
        statements, whatever their count: per document, the round trips to aiosqlite's thread and
        the commit cost more than the rows themselves (about 1 ms a document, most of ingest's time
        besides the model). All or nothing: on an error nothing is written, and the caller can
        write the documents one by one to learn which one failed."""
        for w in writes:
            if len(w.vectors) != len(w.passages):
                raise ValueError(f"{len(w.passages)} passages but {len(w.vectors)} vectors")
        if not writes:
            return []
        with duplicates_refused():
            async with self.transaction() as conn:
                replaced = [(w.replace_id,) for w in writes if w.replace_id is not None]
                if replaced:
                    await conn.executemany("DELETE FROM documents WHERE id = ?", replaced)
                # The ids SQLite would pick itself (AUTOINCREMENT's sequences + 1): BEGIN IMMEDIATE
                # holds the write lock until COMMIT, so nobody else takes them meanwhile.
                async with conn.execute(
                    "SELECT (SELECT IFNULL(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'documents') AS docs,"
                    " (SELECT IFNULL(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'passages') AS passages"
                ) as cur:
                    last = one_row(await cur.fetchone())
                next_doc, next_passage = last["docs"] + 1, last["passages"] + 1
                out: list[tuple[int, list[int]]] = []
                documents, passage_rows, fts_rows, vector_rows = [], [], [], []
                for w in writes:
                    ids = list(range(next_passage, next_passage + len(w.passages)))
                    documents.append((next_doc, *document_row(w.doc, w.added_at)))
                    rows = _passage_rows(w.doc, next_doc, ids, w.passages, w.vectors, model)
                    passage_rows += rows[0]
                    fts_rows += rows[1]
                    vector_rows += rows[2]
                    out.append((next_doc, ids))
                    next_doc, next_passage = next_doc + 1, next_passage + len(ids)
                await conn.executemany(_DOCUMENT_INSERT_WITH_ID, documents)
                await conn.executemany(_PASSAGE_INSERT, passage_rows)
                await conn.executemany(_FTS_INSERT, fts_rows)
                await conn.executemany(_VECTOR_INSERT, vector_rows)
        return out

    async def delete_document(self, doc_id: int) -> list[int]:
        """Delete a document; its passages, vectors and FTS rows go with it (cascade + trigger).
        Returns the deleted passage ids."""
        if not valid_id(doc_id):
            return []
        async with self.transaction() as conn:
            async with conn.execute("SELECT id FROM passages WHERE document_id = ?", (doc_id,)) as cur:
                ids = [r["id"] for r in await cur.fetchall()]
            await conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return ids

    async def add_vectors(self, model: str, rows: Sequence[tuple[int, np.ndarray]]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(
                "INSERT OR REPLACE INTO vectors (passage_id, model, dim, vector) VALUES (?, ?, ?, ?)",
                [(pid, model, int(v.shape[0]), np.asarray(v, dtype="<f4").tobytes()) for pid, v in rows],
            )

    async def load_vectors(self, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every vector of ``model`` with what the dense index filters on:
        (passage ids, document ids, guild ids (0 = GLOBAL_SCOPE), published day ordinals (0 = unknown),
        float32 matrix)."""
        sql = (
            "SELECT v.passage_id, p.document_id, COALESCE(d.guild_id, 0) AS guild_id, d.published, v.dim, v.vector"
            " FROM vectors v JOIN passages p ON p.id = v.passage_id JOIN documents d ON d.id = p.document_id"
            " WHERE v.model = ? ORDER BY v.passage_id"
        )
        pids, dids, gids, days, blobs = [], [], [], [], []
        dim = 0
        async with self._conn.execute(sql, (model,)) as cur:
            async for r in cur:
                pids.append(r["passage_id"])
                dids.append(r["document_id"])
                gids.append(r["guild_id"])
                days.append(dt.date.fromisoformat(r["published"]).toordinal() if r["published"] else 0)
                dim = r["dim"]
                blobs.append(r["vector"])
        matrix = (
            np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)
            if blobs
            else np.zeros((0, 0), dtype=np.float32)
        )
        return (
            np.array(pids, dtype=np.int64),
            np.array(dids, dtype=np.int64),
            np.array(gids, dtype=np.int64),
            np.array(days, dtype=np.int32),
            matrix.astype(np.float32, copy=False),
        )

    async def index_fingerprint(self) -> tuple[int, int, int, int]:
        """(passages, largest passage id, documents, largest document id), read in one statement.
        Ids are AUTOINCREMENT, never reused: any insert raises a largest id for good and any delete
        lowers a count, so an index built when this was the same holds the same rows (``index_cache``)."""
        sql = (
            "SELECT (SELECT COUNT(*) FROM passages) AS np, (SELECT COALESCE(MAX(id), 0) FROM passages) AS mp,"
            " (SELECT COUNT(*) FROM documents) AS nd, (SELECT COALESCE(MAX(id), 0) FROM documents) AS md"
        )
        async with self._conn.execute(sql) as cur:
            row = one_row(await cur.fetchone())
        return (row["np"], row["mp"], row["nd"], row["md"])

    async def database_id(self) -> str:
        """This database's random id (migration 5), which its index cache records."""
        async with self._conn.execute("SELECT value FROM meta WHERE key = 'database_id'") as cur:
            return str(one_row(await cur.fetchone())["value"])

    async def index_rows(self, model: str, ids: list[int]) -> dict[int, tuple[int, int, int, bytes]]:
        """passage id -> (document id, guild id (0 = global), published day ordinal (0 = unknown),
        vector blob) of those of ``ids`` with a vector of ``model``: what ``load_vectors`` gives for
        them, for checking an index cache against the database."""
        marks = ",".join("?" * len(ids))
        sql = (
            "SELECT v.passage_id, p.document_id, COALESCE(d.guild_id, 0) AS guild_id, d.published, v.vector"
            " FROM vectors v JOIN passages p ON p.id = v.passage_id JOIN documents d ON d.id = p.document_id"
            f" WHERE v.model = ? AND v.passage_id IN ({marks})"
        )
        async with self._conn.execute(sql, (model, *ids)) as cur:
            return {
                r["passage_id"]: (
                    r["document_id"],
                    r["guild_id"],
                    dt.date.fromisoformat(r["published"]).toordinal() if r["published"] else 0,
                    bytes(r["vector"]),
                )
                for r in await cur.fetchall()
            }

    async def passage_ids(self) -> np.ndarray:
        """Every passage id, ascending (int64)."""
        async with self._conn.execute("SELECT id FROM passages ORDER BY id") as cur:
            return np.array([r[0] for r in await cur.fetchall()], dtype=np.int64)

    async def passage_texts(self, model: str) -> list[tuple[int, str, str]]:
        """(passage id, document title, text) of every passage with a vector of ``model``, in the
        order of ``load_vectors``, for the in-memory BM25 postings."""
        sql = (
            "SELECT p.id, d.title, p.text FROM vectors v JOIN passages p ON p.id = v.passage_id"
            " JOIN documents d ON d.id = p.document_id WHERE v.model = ? ORDER BY v.passage_id"
        )
        async with self._conn.execute(sql, (model,)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def fts_search(
        self,
        match: str,
        *,
        limit: int,
        scope: int | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        weights: tuple[float, float] = (1.0, 0.5),
    ) -> list[tuple[int, float]]:
        """(passage id, BM25 score) best first; scores are positive (FTS5's bm25() negated)."""
        where, args = scope_clause(scope)
        dc, dargs = date_clause(date_from, date_to)
        filtered = where != "TRUE" or dc != "TRUE"
        if filtered:
            sql = (
                f"SELECT f.rowid AS passage_id, -bm25(passages_fts, ?, ?) AS score FROM passages_fts f"
                f" JOIN passages p ON p.id = f.rowid JOIN documents d ON d.id = p.document_id"
                f" WHERE passages_fts MATCH ? AND {where} AND {dc} ORDER BY bm25(passages_fts, ?, ?) LIMIT ?"
            )
            params = [*weights, match, *args, *dargs, *weights, limit]
        else:
            sql = (
                "SELECT rowid AS passage_id, -bm25(passages_fts, ?, ?) AS score FROM passages_fts"
                " WHERE passages_fts MATCH ?"
                " ORDER BY bm25(passages_fts, ?, ?) LIMIT ?"
            )
            params = [*weights, match, *weights, limit]
        async with self._conn.execute(sql, params) as cur:
            return [(r["passage_id"], float(r["score"])) for r in await cur.fetchall()]
