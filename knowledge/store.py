"""All SQL of newsdesk lives here: one SQLite file, one long-lived aiosqlite connection.

Migrations are an append-only list applied by ``PRAGMA user_version``, each in one transaction:
never edit an applied migration, add a new one. Writes of one document happen in one transaction,
so a crash never leaves half a document indexed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import numpy as np

from .errors import DatabaseError
from .models import Document, Passage

log = logging.getLogger(__name__)

# How long a write waits for another process's write transaction (a `newsdesk index` beside the
# bot) before giving up with "the database is busy".
DEFAULT_BUSY_TIMEOUT_S = 30.0
# SQLite INTEGER range: a larger id (a typo of 20 digits) matches no row, and binding it raises
# OverflowError.
_MAX_ID = 2**63 - 1

MIGRATIONS: list[str] = [
    # 1: documents, passages, vectors, full-text index
    """
    -- AUTOINCREMENT: ids are never reused, so "#7" and the passage ids kept in the interaction log
    -- never come to mean another text after a removal.
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        source TEXT,
        published TEXT,                 -- ISO date, NULL when unknown
        published_precision TEXT NOT NULL DEFAULT 'day',  -- day, month or year
        author TEXT,
        guild_id INTEGER,               -- NULL: global (seeds, CLI)
        origin TEXT NOT NULL,           -- file name, URL or "pasted text"
        content_hash TEXT NOT NULL,     -- of the raw input bytes
        text TEXT NOT NULL,             -- clean text; paragraphs joined by a blank line
        words INTEGER NOT NULL,
        added_at TEXT NOT NULL          -- UTC ISO timestamp
    );
    CREATE UNIQUE INDEX documents_hash_scope ON documents(content_hash, IFNULL(guild_id, 0));
    CREATE INDEX documents_origin ON documents(origin, IFNULL(guild_id, 0));
    CREATE INDEX documents_added ON documents(added_at);
    CREATE INDEX documents_published ON documents(published);

    CREATE TABLE passages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        paragraph_index INTEGER NOT NULL,
        char_start INTEGER NOT NULL,
        char_end INTEGER NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL         -- of title + text: what was embedded
    );
    CREATE INDEX passages_document ON passages(document_id);
    CREATE INDEX passages_hash ON passages(text_hash);

    -- One row per passage and model: vectors of two models are never mixed.
    CREATE TABLE vectors (
        passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,           -- float32, little endian, L2-normalised
        PRIMARY KEY (passage_id, model)
    );

    CREATE VIRTUAL TABLE passages_fts USING fts5(
        text, title, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER passages_delete_fts AFTER DELETE ON passages BEGIN
        DELETE FROM passages_fts WHERE rowid = old.id;
    END;
    """,
    # 2: interaction log and briefing posts
    """
    CREATE TABLE interactions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,               -- UTC ISO timestamp
        guild_id INTEGER,
        channel_id INTEGER,
        user_id INTEGER,
        kind TEXT NOT NULL,             -- ask, mention, followup, brief, doc_add, doc_remove, feedback, ...
        input TEXT,
        outcome TEXT,                   -- answered, abstained, denied, error, up, down, ...
        answer TEXT,
        passage_ids TEXT,               -- JSON list of cited passage ids
        scores TEXT,                    -- JSON list of their scores
        latency_ms REAL,
        ref_id INTEGER                  -- e.g. the interaction a feedback row is about
    );
    CREATE INDEX interactions_at ON interactions(at);
    CREATE INDEX interactions_kind ON interactions(kind, at);

    CREATE TABLE briefing_posts (
        id INTEGER PRIMARY KEY,
        guild_id INTEGER,
        channel_id INTEGER NOT NULL,
        day TEXT NOT NULL,              -- local date of the scheduled briefing
        posted_at TEXT NOT NULL,
        message_id INTEGER,
        UNIQUE (channel_id, day)
    );
    """,
    # 3: per-term document counts of the full-text index (for inspecting IDF from SQL; search and
    # answers take document frequencies from the in-memory postings)
    """
    CREATE VIRTUAL TABLE passages_vocab USING fts5vocab(passages_fts, 'row');
    """,
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(ts: dt.datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def _parse_ts(value: str) -> dt.datetime:
    ts = dt.datetime.fromisoformat(value)
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.timezone.utc)


def scope_clause(scope: int | None, column: str = "d.guild_id") -> tuple[str, list]:
    """SQL for a scope: None = every document (CLI, admin), 0 = global documents only,
    a guild id = global documents plus that guild's own."""
    if scope is None:
        return "1", []
    if scope == 0:
        return f"{column} IS NULL", []
    return f"({column} IS NULL OR {column} = ?)", [scope]


def date_clause(date_from: dt.date | None, date_to: dt.date | None, column: str = "d.published") -> tuple[str, list]:
    parts, args = [], []
    if date_from is not None:
        parts.append(f"{column} >= ?")
        args.append(date_from.isoformat())
    if date_to is not None:
        parts.append(f"{column} <= ?")
        args.append(date_to.isoformat())
    return (" AND ".join(parts) or "1"), args


@dataclass(frozen=True)
class NewPassage:
    ordinal: int
    paragraph_index: int
    char_start: int
    char_end: int
    text: str
    text_hash: str


@dataclass(frozen=True)
class NewDocument:
    title: str
    source: str | None
    published: dt.date | None
    author: str | None
    guild_id: int | None
    origin: str
    content_hash: str
    text: str
    words: int
    published_precision: str = "day"


_DOC_COLUMNS = ("d.id, d.title, d.source, d.published, d.author, d.guild_id, d.origin, d.content_hash, d.added_at,"
                " d.words, d.published_precision")
_NDOC = 11


def _document(row: Sequence, passages: int = 0) -> Document:
    return Document(
        id=row[0], title=row[1], source=row[2],
        published=dt.date.fromisoformat(row[3]) if row[3] else None,
        author=row[4], guild_id=row[5], origin=row[6], content_hash=row[7],
        added_at=_parse_ts(row[8]), words=row[9], passages=passages, published_precision=row[10],
    )


def inserted_document(doc: NewDocument, doc_id: int, passages: int, added_at: dt.datetime) -> Document:
    """The ``Document`` that ``Store.get_document`` reads back for a row just written with
    ``insert_document(..., added_at=added_at)``: saves one query per indexed document."""
    return Document(
        id=doc_id, title=doc.title, source=doc.source, published=doc.published, author=doc.author,
        guild_id=doc.guild_id, origin=doc.origin, content_hash=doc.content_hash,
        added_at=_parse_ts(_iso(added_at)), passages=passages, words=doc.words,
        published_precision=doc.published_precision,
    )


class Store:
    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> "Store":
        """Open (creating when missing) and migrate the database. Any failure is a ``DatabaseError``
        naming the file and the cause, and leaves no connection open: aiosqlite's worker thread is
        not a daemon, so one left open keeps a failed process alive for ever."""
        path = Path(path)
        memory = str(path) == ":memory:"
        if not memory:
            await asyncio.to_thread(_check_path, path)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per document.
        conn = aiosqlite.connect(str(path), isolation_level=None)
        try:
            await conn
        except sqlite3.Error as e:
            await _stopped(conn)
            raise DatabaseError(f"cannot open the database {path}: {_cause(e)}") from e
        try:
            # Each PRAGMA's cursor is closed at once: an open cursor that still holds a row (journal_mode,
            # busy_timeout return one) keeps its statement "in progress" and the next COMMIT fails.
            # busy_timeout first: the other PRAGMAs may already need a lock another process holds.
            async with conn.execute(f"PRAGMA busy_timeout={max(0, int(busy_timeout_s * 1000))}"):
                pass
            store = cls(conn, path)
            # Before anything writes (journal_mode=WAL rewrites the header): a newer schema is left as it is.
            await store._check_version()
            for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"):
                async with conn.execute(pragma):
                    pass
            await store.migrate()
        except BaseException as e:
            await conn.close()
            if isinstance(e, (sqlite3.Error, DatabaseError)):
                cause = _cause(e) if isinstance(e, sqlite3.Error) else str(e)
                raise DatabaseError(f"cannot open the database {path}: {cause}") from e
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction. A database error (full disk, locked by another process, read-only)
        becomes a ``DatabaseError`` the caller can show; the transaction is rolled back only when
        SQLite has not already done so itself (it does on SQLITE_FULL, and a second ROLLBACK would
        raise "no transaction is active" and hide the real error)."""
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise _database_error(e) from e
        try:
            yield self._conn
            await self._conn.execute("COMMIT")
        except BaseException as e:
            await self._rollback()
            if isinstance(e, sqlite3.Error):
                raise _database_error(e) from e
            raise

    async def _rollback(self) -> None:
        if not self._conn.in_transaction:
            return
        try:
            await self._conn.execute("ROLLBACK")
        except sqlite3.Error as e:  # the error being raised matters more than this one
            log.warning("rollback failed: %s", e)

    async def _check_version(self) -> int:
        version = await self.schema_version()
        if version > len(MIGRATIONS):
            # Refused, not used: this code would write rows a newer schema does not expect.
            raise DatabaseError(f"its schema version is {version}, newer than this newsdesk knows "
                                f"({len(MIGRATIONS)}); upgrade newsdesk or use another database")
        return version

    async def migrate(self) -> None:
        version = await self._check_version()
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            log.info("applying migration %d", number)
            async with self.transaction() as conn:
                for statement in _statements(script):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {number}")

    async def schema_version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cur:
            return (await cur.fetchone())[0]

    # ----------------------------------------------------------------- documents

    async def find_by_hash(self, content_hash: str, guild_id: int | None) -> Document | None:
        sql = f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.content_hash = ? AND IFNULL(d.guild_id, 0) = ?"
        async with self._conn.execute(sql, (content_hash, guild_id or 0)) as cur:
            row = await cur.fetchone()
        return _document(row) if row else None

    async def find_by_hashes(self, keys: Iterable[tuple[str, int | None]]) -> dict[tuple[str, int], Document]:
        """``find_by_hash`` for many (content hash, guild id) pairs in one query per 500 hashes; keyed
        by (hash, guild id or 0)."""
        wanted = {(h, g or 0) for h, g in keys}
        hashes = sorted({h for h, _ in wanted})
        found: dict[tuple[str, int], Document] = {}
        for i in range(0, len(hashes), 500):
            chunk = hashes[i:i + 500]
            sql = (f"SELECT {_DOC_COLUMNS}, IFNULL(d.guild_id, 0) FROM documents d"
                   f" WHERE d.content_hash IN ({','.join('?' * len(chunk))})")
            async with self._conn.execute(sql, chunk) as cur:
                for row in await cur.fetchall():
                    key = (row[7], row[_NDOC])
                    if key in wanted:
                        found[key] = _document(row[:_NDOC])
        return found

    async def find_by_origin(self, origin: str, guild_id: int | None) -> Document | None:
        sql = f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.origin = ? AND IFNULL(d.guild_id, 0) = ? ORDER BY d.id DESC"
        async with self._conn.execute(sql, (_storable(origin), guild_id or 0)) as cur:
            row = await cur.fetchone()
        return _document(row) if row else None

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
        async with self.transaction() as conn:
            if replace_id is not None:
                await conn.execute("DELETE FROM documents WHERE id = ?", (replace_id,))
            # RETURNING hands back the passage id to start from in the same round trip: the ids are the
            # ones SQLite would pick itself (AUTOINCREMENT's sequence + 1), safe because BEGIN IMMEDIATE holds the write lock
            # until COMMIT. Then three executemany calls instead of three statements per passage: every
            # await is a hop to aiosqlite's thread, and those hops were most of ingest's cost besides
            # the model.
            async with conn.execute(
                "INSERT INTO documents (title, source, published, published_precision, author, guild_id, origin,"
                " content_hash, text, words, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " RETURNING id, (SELECT IFNULL(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'passages')",
                (_storable(doc.title), _storable(doc.source), doc.published.isoformat() if doc.published else None,
                 doc.published_precision, _storable(doc.author),
                 doc.guild_id, _storable(doc.origin), doc.content_hash, doc.text, doc.words,
                 _iso(added_at or utcnow())),
            ) as cur:
                [(doc_id, last)] = await cur.fetchall()
            ids = list(range(last + 1, last + 1 + len(passages)))
            await conn.executemany(
                "INSERT INTO passages (id, document_id, ordinal, paragraph_index, char_start, char_end, text,"
                " text_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(pid, doc_id, p.ordinal, p.paragraph_index, p.char_start, p.char_end, p.text, p.text_hash)
                 for pid, p in zip(ids, passages)])
            await conn.executemany("INSERT INTO passages_fts (rowid, text, title) VALUES (?, ?, ?)",
                                   [(pid, p.text, doc.title) for pid, p in zip(ids, passages)])
            await conn.executemany("INSERT INTO vectors (passage_id, model, dim, vector) VALUES (?, ?, ?, ?)",
                                   [(pid, model, int(vec.shape[0]), vec.tobytes()) for pid, vec in zip(ids, vectors)])
        return doc_id, ids

    async def delete_document(self, doc_id: int) -> list[int]:
        """Delete a document; its passages, vectors and FTS rows go with it (cascade + trigger).
        Returns the deleted passage ids."""
        if not valid_id(doc_id):
            return []
        async with self.transaction() as conn:
            async with conn.execute("SELECT id FROM passages WHERE document_id = ?", (doc_id,)) as cur:
                ids = [r[0] for r in await cur.fetchall()]
            await conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return ids

    async def get_document(self, doc_id: int) -> Document | None:
        if not valid_id(doc_id):
            return None
        sql = (f"SELECT {_DOC_COLUMNS}, (SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id)"
               " FROM documents d WHERE d.id = ?")
        async with self._conn.execute(sql, (doc_id,)) as cur:
            row = await cur.fetchone()
        return _document(row[:_NDOC], row[_NDOC]) if row else None

    async def list_documents(
        self, *, scope: int | None = None, limit: int | None = None, offset: int = 0,
        added_since: dt.datetime | None = None, added_until: dt.datetime | None = None,
        published_from: dt.date | None = None, published_to: dt.date | None = None,
        title_like: str | None = None,
    ) -> list[Document]:
        where, args = scope_clause(scope)
        clauses = [where]
        if added_since is not None:
            clauses.append("d.added_at >= ?")
            args.append(_iso(added_since))
        if added_until is not None:
            clauses.append("d.added_at < ?")
            args.append(_iso(added_until))
        dc, dargs = date_clause(published_from, published_to)
        clauses.append(dc)
        args += dargs
        if title_like:
            clauses.append("d.title LIKE ? ESCAPE '\\'")
            escaped = title_like.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%{escaped}%")
        sql = (f"SELECT {_DOC_COLUMNS}, (SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id)"
               f" FROM documents d WHERE {' AND '.join(clauses)} ORDER BY d.added_at DESC, d.id DESC"
               " LIMIT ? OFFSET ?")
        if offset > _MAX_ID:  # a page number typed with 20 digits: past every row, and too big to bind
            return []
        args += [-1 if limit is None else min(limit, _MAX_ID), offset]
        async with self._conn.execute(sql, args) as cur:
            rows = await cur.fetchall()
        return [_document(r[:_NDOC], r[_NDOC]) for r in rows]

    async def count_documents(self, *, scope: int | None = None) -> int:
        where, args = scope_clause(scope)
        async with self._conn.execute(f"SELECT COUNT(*) FROM documents d WHERE {where}", args) as cur:
            return (await cur.fetchone())[0]

    async def count_passages(self) -> int:
        async with self._conn.execute("SELECT COUNT(*) FROM passages") as cur:
            return (await cur.fetchone())[0]

    async def document_text(self, doc_id: int) -> str | None:
        if not valid_id(doc_id):
            return None
        async with self._conn.execute("SELECT text FROM documents WHERE id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def document_texts(self, doc_ids: Iterable[int]) -> dict[int, str]:
        ids = [i for i in dict.fromkeys(doc_ids) if valid_id(i)]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        async with self._conn.execute(f"SELECT id, text FROM documents WHERE id IN ({marks})", ids) as cur:
            return {r[0]: r[1] for r in await cur.fetchall()}

    # ----------------------------------------------------------------- passages

    async def passages_with_documents(self, passage_ids: Sequence[int]) -> dict[int, tuple[Passage, Document]]:
        if not passage_ids:
            return {}
        marks = ",".join("?" * len(passage_ids))
        sql = (f"SELECT p.id, p.document_id, p.ordinal, p.paragraph_index, p.char_start, p.char_end, p.text,"
               f" {_DOC_COLUMNS} FROM passages p JOIN documents d ON d.id = p.document_id"
               f" WHERE p.id IN ({marks})")
        async with self._conn.execute(sql, list(passage_ids)) as cur:
            rows = await cur.fetchall()
        return {r[0]: (Passage(*r[:7]), _document(r[7:])) for r in rows}

    async def passages_of_documents(self, doc_ids: Sequence[int]) -> list[Passage]:
        if not doc_ids:
            return []
        marks = ",".join("?" * len(doc_ids))
        sql = (f"SELECT id, document_id, ordinal, paragraph_index, char_start, char_end, text FROM passages"
               f" WHERE document_id IN ({marks}) ORDER BY document_id, ordinal")
        async with self._conn.execute(sql, list(doc_ids)) as cur:
            return [Passage(*r) for r in await cur.fetchall()]

    async def vectors_by_hash(self, model: str, hashes: Iterable[str]) -> dict[str, bytes]:
        """Existing vectors for passage texts already embedded with this model: unchanged text is
        never embedded twice."""
        hashes = list(dict.fromkeys(hashes))
        found: dict[str, bytes] = {}
        for i in range(0, len(hashes), 500):
            chunk = hashes[i:i + 500]
            marks = ",".join("?" * len(chunk))
            sql = (f"SELECT p.text_hash, v.vector FROM passages p JOIN vectors v ON v.passage_id = p.id"
                   f" WHERE v.model = ? AND p.text_hash IN ({marks})")
            async with self._conn.execute(sql, [model, *chunk]) as cur:
                for h, blob in await cur.fetchall():
                    found.setdefault(h, blob)
        return found

    async def passages_missing_vectors(self, model: str) -> list[tuple[int, str, str]]:
        """(passage id, document title, passage text) of passages without a vector of ``model``."""
        sql = ("SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id"
               " WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.passage_id = p.id AND v.model = ?)"
               " ORDER BY p.id")
        async with self._conn.execute(sql, (model,)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def add_vectors(self, model: str, rows: Sequence[tuple[int, np.ndarray]]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(
                "INSERT OR REPLACE INTO vectors (passage_id, model, dim, vector) VALUES (?, ?, ?, ?)",
                [(pid, model, int(v.shape[0]), np.asarray(v, dtype="<f4").tobytes()) for pid, v in rows],
            )

    async def load_vectors(self, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every vector of ``model`` with what the dense index filters on:
        (passage ids, document ids, guild ids (-1 = global), published day ordinals (0 = unknown),
        float32 matrix)."""
        sql = ("SELECT v.passage_id, p.document_id, IFNULL(d.guild_id, -1), d.published, v.dim, v.vector"
               " FROM vectors v JOIN passages p ON p.id = v.passage_id JOIN documents d ON d.id = p.document_id"
               " WHERE v.model = ? ORDER BY v.passage_id")
        pids, dids, gids, days, blobs = [], [], [], [], []
        dim = 0
        async with self._conn.execute(sql, (model,)) as cur:
            async for pid, did, gid, published, d, blob in cur:
                pids.append(pid)
                dids.append(did)
                gids.append(gid)
                days.append(dt.date.fromisoformat(published).toordinal() if published else 0)
                dim = d
                blobs.append(blob)
        matrix = (np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)
                  if blobs else np.zeros((0, 0), dtype=np.float32))
        return (np.array(pids, dtype=np.int64), np.array(dids, dtype=np.int64), np.array(gids, dtype=np.int64),
                np.array(days, dtype=np.int32), matrix.astype(np.float32, copy=False))

    async def passage_texts(self, model: str) -> list[tuple[int, str, str]]:
        """(passage id, document title, text) of every passage with a vector of ``model``, in the
        order of ``load_vectors``, for the in-memory BM25 postings."""
        sql = ("SELECT p.id, d.title, p.text FROM vectors v JOIN passages p ON p.id = v.passage_id"
               " JOIN documents d ON d.id = p.document_id WHERE v.model = ? ORDER BY v.passage_id")
        async with self._conn.execute(sql, (model,)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def fts_search(
        self, match: str, *, limit: int, scope: int | None = None,
        date_from: dt.date | None = None, date_to: dt.date | None = None,
        weights: tuple[float, float] = (1.0, 0.5),
    ) -> list[tuple[int, float]]:
        """(passage id, BM25 score) best first; scores are positive (FTS5's bm25() negated)."""
        where, args = scope_clause(scope)
        dc, dargs = date_clause(date_from, date_to)
        filtered = where != "1" or dc != "1"
        if filtered:
            sql = (f"SELECT f.rowid, -bm25(passages_fts, ?, ?) AS s FROM passages_fts f"
                   f" JOIN passages p ON p.id = f.rowid JOIN documents d ON d.id = p.document_id"
                   f" WHERE passages_fts MATCH ? AND {where} AND {dc} ORDER BY bm25(passages_fts, ?, ?) LIMIT ?")
            params = [*weights, match, *args, *dargs, *weights, limit]
        else:
            sql = ("SELECT rowid, -bm25(passages_fts, ?, ?) FROM passages_fts WHERE passages_fts MATCH ?"
                   " ORDER BY bm25(passages_fts, ?, ?) LIMIT ?")
            params = [*weights, match, *weights, limit]
        async with self._conn.execute(sql, params) as cur:
            return [(r[0], float(r[1])) for r in await cur.fetchall()]

    # ----------------------------------------------------------------- interaction log

    async def log_interaction(
        self, kind: str, *, guild_id: int | None = None, channel_id: int | None = None,
        user_id: int | None = None, input: str | None = None, outcome: str | None = None,
        answer: str | None = None, passage_ids: Sequence[int] = (), scores: Sequence[float] = (),
        latency_ms: float | None = None, ref_id: int | None = None, at: dt.datetime | None = None,
    ) -> int:
        async with self.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO interactions (at, guild_id, channel_id, user_id, kind, input, outcome, answer,"
                " passage_ids, scores, latency_ms, ref_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_iso(at or utcnow()), guild_id, channel_id, user_id, kind, _storable(input), outcome,
                 _storable(answer),
                 json.dumps(list(passage_ids)), json.dumps([round(float(s), 4) for s in scores]),
                 latency_ms, ref_id),
            )
            return cur.lastrowid

    async def interactions(
        self, *, since: dt.datetime | None = None, guild_id: int | None = None, kind: str | None = None,
    ) -> list[dict]:
        where, args = _interaction_filters(since=since, guild_id=guild_id, kind=kind)
        sql = f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE {where} ORDER BY id"
        async with self._conn.execute(sql, args) as cur:
            names = [c[0] for c in cur.description]
            return [_interaction(names, r) for r in await cur.fetchall()]

    async def interaction(self, row_id: int) -> dict | None:
        """One interaction-log row by id (e.g. the answer a feedback button refers to)."""
        if not valid_id(row_id):
            return None
        async with self._conn.execute(f"SELECT {_INTERACTION_COLUMNS} FROM interactions WHERE id = ?",
                                      (row_id,)) as cur:
            names = [c[0] for c in cur.description]
            row = await cur.fetchone()
        return _interaction(names, row) if row else None

    async def interaction_stats(self, *, guild_id: int | None = None, since: dt.datetime | None = None,
                                question_kinds: Sequence[str] = ("ask", "mention", "followup"),
                                top: int = 5) -> dict:
        """Aggregates for /stats: questions per day, refusals, feedback (each user's last vote per
        answer), most frequent unanswered questions and refused (denied) actions."""
        base, args = _interaction_filters(since=since, guild_id=guild_id)
        kinds = ",".join("?" * len(question_kinds))
        qargs = [*args, *question_kinds]
        questions = f"{base} AND kind IN ({kinds}) AND outcome IN ('answered', 'abstained')"
        async with self._conn.execute(
                f"SELECT substr(at, 1, 10) AS day, COUNT(*) FROM interactions WHERE {questions}"
                " GROUP BY day ORDER BY day", qargs) as cur:
            per_day = [(r[0], r[1]) for r in await cur.fetchall()]
        async with self._conn.execute(
                f"SELECT lower(trim(input)) AS q, COUNT(*) AS n, MAX(input) FROM interactions"
                f" WHERE {questions} AND outcome = 'abstained' GROUP BY q ORDER BY n DESC, MAX(at) DESC LIMIT ?",
                [*qargs, top]) as cur:
            unanswered = [(r[2], r[1]) for r in await cur.fetchall()]
        async with self._conn.execute(
                f"SELECT COUNT(*) FROM interactions WHERE {questions} AND outcome = 'abstained'", qargs) as cur:
            refusals = (await cur.fetchone())[0]
        # A user may click 👍 then 👎: only their last vote on an answer counts.
        async with self._conn.execute(
                f"SELECT outcome, COUNT(*) FROM interactions WHERE id IN (SELECT MAX(id) FROM interactions"
                f" WHERE {base} AND kind = 'feedback' GROUP BY user_id, ref_id) GROUP BY outcome", args) as cur:
            votes = {r[0]: r[1] for r in await cur.fetchall()}
        async with self._conn.execute(
                f"SELECT COUNT(*) FROM interactions WHERE {base} AND kind = 'denied'", args) as cur:
            denied = (await cur.fetchone())[0]
        return {
            "questions_per_day": per_day, "questions": sum(n for _, n in per_day), "refusals": refusals,
            "thumbs_up": votes.get("up", 0), "thumbs_down": votes.get("down", 0), "unanswered": unanswered,
            "denied": denied,
        }

    # ----------------------------------------------------------------- briefing posts

    async def briefing_posted(self, channel_id: int, day: dt.date) -> bool:
        async with self._conn.execute("SELECT 1 FROM briefing_posts WHERE channel_id = ? AND day = ?",
                                      (channel_id, day.isoformat())) as cur:
            return await cur.fetchone() is not None

    async def record_briefing_post(self, *, channel_id: int, day: dt.date, guild_id: int | None = None,
                                   message_id: int | None = None, at: dt.datetime | None = None) -> bool:
        """Record a post; False when that channel already had its briefing for that day."""
        async with self.transaction() as conn:
            cur = await conn.execute(
                "INSERT OR IGNORE INTO briefing_posts (guild_id, channel_id, day, posted_at, message_id)"
                " VALUES (?, ?, ?, ?, ?)",
                (guild_id, channel_id, day.isoformat(), _iso(at or utcnow()), message_id),
            )
            return cur.rowcount == 1

    async def last_briefing_at(self, channel_id: int) -> dt.datetime | None:
        async with self._conn.execute("SELECT MAX(posted_at) FROM briefing_posts WHERE channel_id = ?",
                                      (channel_id,)) as cur:
            row = await cur.fetchone()
        return _parse_ts(row[0]) if row and row[0] else None


# What each SQLite error code means to whoever runs newsdesk (the raw messages, "disk I/O error",
# "file is not a database", say little about what to do).
_CAUSES = {
    "SQLITE_FULL": "the database is full (no space left on the disk, or its size limit reached)",
    "SQLITE_BUSY": "the database is busy: another process is writing to it; try again in a moment",
    "SQLITE_LOCKED": "the database is busy: another process is writing to it; try again in a moment",
    "SQLITE_READONLY": "the database is read-only (check the permissions of the file and its folder)",
    "SQLITE_CORRUPT": "the database file is damaged (database disk image is malformed)",
    "SQLITE_NOTADB": "the file is not a SQLite database (damaged, truncated or another kind of file)",
    "SQLITE_IOERR": "the database could not be read or written (disk I/O error)",
    "SQLITE_CANTOPEN": "the database file cannot be opened (check the path and its permissions)",
    "SQLITE_PERM": "access to the database file is denied",
}


def _code(e: sqlite3.Error) -> str:
    # Extended codes (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT, ...) share their primary code's meaning.
    name = getattr(e, "sqlite_errorname", None) or ""
    return next((code for code in _CAUSES if name == code or name.startswith(code + "_")), "")


def _cause(e: sqlite3.Error) -> str:
    return _CAUSES.get(_code(e), str(e))


def _database_error(e: sqlite3.Error) -> Exception:
    """A ``DatabaseError`` for a fault of the database itself; anything else (a constraint, a bug in
    a statement) is left as it is."""
    if _code(e):
        log.info("database error: %s (%s)", e, getattr(e, "sqlite_errorname", "?"))
        return DatabaseError(_cause(e))
    return e


def _check_path(path: Path) -> None:
    """What SQLite would report obscurely or not at all: a folder, a FIFO or a device where the
    file should be, a folder that cannot be created."""
    if path.is_dir():
        raise DatabaseError(f"cannot open the database {path}: it is a folder, not a file")
    if path.exists() and not path.is_file():
        raise DatabaseError(f"cannot open the database {path}: it is not a regular file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseError(f"cannot open the database {path}: cannot create its folder ({e.strerror or e})") from e


async def _stopped(conn: aiosqlite.Connection) -> None:
    """Wait for the worker thread of a connection that failed to connect: aiosqlite stops it, but
    only once the event loop runs again, and a loop closed before then leaves a traceback behind."""
    thread = getattr(conn, "_thread", None)
    if thread is not None and thread.is_alive():
        await asyncio.to_thread(thread.join, 5)


def _storable(text: str | None) -> str | None:
    """Text SQLite can store: a lone surrogate (undecodable bytes in a file name or a question, kept
    by Python's surrogateescape) would raise UnicodeEncodeError; it becomes "?"."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def valid_id(row_id: int) -> bool:
    """Whether an id can name a row at all: SQLite integers are 64-bit."""
    return 0 < row_id <= _MAX_ID


_INTERACTION_COLUMNS = ("id, at, guild_id, channel_id, user_id, kind, input, outcome, answer, passage_ids, scores,"
                        " latency_ms, ref_id")


def _interaction(names: Sequence[str], row: Sequence) -> dict:
    item = dict(zip(names, row))
    item["passage_ids"] = json.loads(item["passage_ids"] or "[]")
    item["scores"] = json.loads(item["scores"] or "[]")
    return item


def _interaction_filters(*, since: dt.datetime | None = None, guild_id: int | None = None,
                         kind: str | None = None) -> tuple[str, list]:
    clauses, args = ["1"], []
    if since is not None:
        clauses.append("at >= ?")
        args.append(_iso(since))
    if guild_id is not None:
        clauses.append("guild_id = ?")
        args.append(guild_id)
    if kind is not None:
        clauses.append("kind = ?")
        args.append(kind)
    return " AND ".join(clauses), args


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (trigger bodies hold semicolons)."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            out.append(joined)
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out
