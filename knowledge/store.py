"""All SQL of newsdesk lives here, in ``store_log`` (the interaction log and briefing posts) and in
``db`` (opening, migrating, transactions): one SQLite file, one long-lived aiosqlite connection, rows
read by column name (``sqlite3.Row``).

Migrations (``migrations.MIGRATIONS``) are an append-only list applied by ``PRAGMA user_version``,
each in one transaction: never edit an applied migration, add a new one. Writes of one document happen in one transaction,
so a crash never leaves half a document indexed.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .config import KnowledgeConfig
from .db import MAX_ID, iso, one_row, parse_ts, storable, utcnow, valid_id
from .errors import DuplicateDocument
from .migrations import MIGRATIONS
from .models import Document, Passage
from .scope import GLOBAL_SCOPE, scope_of
from .store_log import InteractionLog
from .store_setup import SetupStore

log = logging.getLogger(__name__)


def scope_clause(scope: int | None, column: str = "d.guild_id") -> tuple[str, list]:
    """SQL for a scope: None = every document (CLI, admin), 0 = global documents only,
    a guild id = global documents plus that guild's own."""
    if scope is None:
        return "TRUE", []
    if scope == GLOBAL_SCOPE:
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
    return (" AND ".join(parts) or "TRUE"), args


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


# Named, not numbered: a query adds what it needs (a passage count, a scope key) beside these.
_DOC_COLUMNS = (
    "d.id, d.title, d.source, d.published, d.author, d.guild_id, d.origin, d.content_hash, d.added_at,"
    " d.words, d.published_precision"
)
# Subquery for a document's passage count, read as row["passages"].
_PASSAGE_COUNT = "(SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id) AS passages"


def _document(row: sqlite3.Row, passages: int = 0) -> Document:
    return Document(
        id=row["id"],
        title=row["title"],
        source=row["source"],
        published=dt.date.fromisoformat(row["published"]) if row["published"] else None,
        author=row["author"],
        guild_id=row["guild_id"],
        origin=row["origin"],
        content_hash=row["content_hash"],
        added_at=parse_ts(row["added_at"]),
        words=row["words"],
        passages=passages,
        published_precision=row["published_precision"],
    )


_PASSAGE_COLUMNS = "p.document_id, p.ordinal, p.paragraph_index, p.char_start, p.char_end, p.text AS passage_text"


def _passage(row: sqlite3.Row, passage_id: int) -> Passage:
    columns = ("document_id", "ordinal", "paragraph_index", "char_start", "char_end")
    return Passage(id=passage_id, text=row["passage_text"], **{name: row[name] for name in columns})


# The columns ``document_row`` fills, in its order (both engines' inserts name them so).
_DOCUMENT_COLUMNS = (
    "title, source, published, published_precision, author, guild_id, origin, content_hash, text, words, added_at"
)
DOCUMENT_INSERT = f"INSERT INTO documents ({_DOCUMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# The same with the id given: a batch picks its ids itself (see ``Store.insert_documents``).
_DOCUMENT_INSERT_WITH_ID = (
    f"INSERT INTO documents (id, {_DOCUMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PASSAGE_INSERT = (
    "INSERT INTO passages (id, document_id, ordinal, paragraph_index, char_start, char_end, text, text_hash)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_FTS_INSERT = "INSERT INTO passages_fts (rowid, text, title) VALUES (?, ?, ?)"
_VECTOR_INSERT = "INSERT INTO vectors (passage_id, model, dim, vector) VALUES (?, ?, ?, ?)"


@dataclass(frozen=True)
class DocumentWrite:
    """One document for ``Store.insert_documents``: its passages, a vector per passage, and the
    document it replaces, if any."""

    doc: NewDocument
    passages: Sequence[NewPassage]
    vectors: np.ndarray
    replace_id: int | None = None
    added_at: dt.datetime | None = None


def document_row(doc: NewDocument, added_at: dt.datetime | None) -> tuple:
    """A new document's values for ``DOCUMENT_INSERT``: text both engines can store."""
    return (
        storable(doc.title),
        storable(doc.source),
        doc.published.isoformat() if doc.published else None,
        doc.published_precision,
        storable(doc.author),
        doc.guild_id,
        storable(doc.origin),
        doc.content_hash,
        storable(doc.text),
        doc.words,
        iso(added_at or utcnow()),
    )


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


def inserted_document(doc: NewDocument, doc_id: int, passages: int, added_at: dt.datetime) -> Document:
    """The ``Document`` that ``Store.get_document`` reads back for a row just written with
    ``insert_document(..., added_at=added_at)``: saves one query per indexed document."""
    return Document(
        id=doc_id,
        title=doc.title,
        source=doc.source,
        published=doc.published,
        author=doc.author,
        guild_id=doc.guild_id,
        origin=doc.origin,
        content_hash=doc.content_hash,
        added_at=parse_ts(iso(added_at)),
        passages=passages,
        words=doc.words,
        published_precision=doc.published_precision,
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


class Store(SetupStore, InteractionLog):
    """Documents, passages, vectors and the full-text index; the interaction log and briefing posts
    come from ``InteractionLog``, server settings and feeds from ``SetupStore``, opening and
    transactions from ``db.Database``."""

    migrations = MIGRATIONS

    # ----------------------------------------------------------------- documents

    async def find_by_hashes(self, keys: Iterable[tuple[str, int | None]]) -> dict[tuple[str, int], Document]:
        """The documents of many (content hash, guild id) pairs in one query per 500 hashes; keyed
        by (hash, scope_of(guild id))."""
        wanted = {(h, scope_of(g)) for h, g in keys}
        hashes = sorted({h for h, _ in wanted})
        found: dict[tuple[str, int], Document] = {}
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            sql = (
                f"SELECT {_DOC_COLUMNS}, COALESCE(d.guild_id, 0) AS scope FROM documents d"
                f" WHERE d.content_hash IN ({','.join('?' * len(chunk))})"
            )
            async with self._conn.execute(sql, chunk) as cur:
                for row in await cur.fetchall():
                    key = (row["content_hash"], row["scope"])
                    if key in wanted:
                        found[key] = _document(row)
        return found

    async def find_by_origin(self, origin: str, guild_id: int | None) -> Document | None:
        sql = f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.origin = ? AND COALESCE(d.guild_id, 0) = ? ORDER BY d.id DESC"
        async with self._conn.execute(sql, (storable(origin), scope_of(guild_id))) as cur:
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

    async def get_document(self, doc_id: int) -> Document | None:
        if not valid_id(doc_id):
            return None
        sql = f"SELECT {_DOC_COLUMNS}, {_PASSAGE_COUNT} FROM documents d WHERE d.id = ?"
        async with self._conn.execute(sql, (doc_id,)) as cur:
            row = await cur.fetchone()
        return _document(row, row["passages"]) if row else None

    async def list_documents(
        self,
        *,
        scope: int | None = None,
        limit: int | None = None,
        offset: int = 0,
        added_since: dt.datetime | None = None,
        added_until: dt.datetime | None = None,
        published_from: dt.date | None = None,
        published_to: dt.date | None = None,
        title_like: str | None = None,
    ) -> list[Document]:
        where, args = scope_clause(scope)
        clauses = [where]
        if added_since is not None:
            clauses.append("d.added_at >= ?")
            args.append(iso(added_since))
        if added_until is not None:
            clauses.append("d.added_at < ?")
            args.append(iso(added_until))
        dc, dargs = date_clause(published_from, published_to)
        clauses.append(dc)
        args += dargs
        if title_like:
            # lower() on both sides: SQLite's LIKE ignores case, PostgreSQL's does not.
            clauses.append("lower(d.title) LIKE lower(?) ESCAPE '\\'")
            escaped = title_like.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%{escaped}%")
        sql = (
            f"SELECT {_DOC_COLUMNS}, {_PASSAGE_COUNT}"
            f" FROM documents d WHERE {' AND '.join(clauses)} ORDER BY d.added_at DESC, d.id DESC"
            " LIMIT ? OFFSET ?"
        )
        if offset > MAX_ID:  # a page number typed with 20 digits: past every row, and too big to bind
            return []
        args += [MAX_ID if limit is None else min(limit, MAX_ID), offset]
        async with self._conn.execute(sql, args) as cur:
            rows = await cur.fetchall()
        return [_document(r, r["passages"]) for r in rows]

    async def count_documents(self, *, scope: int | None = None) -> int:
        where, args = scope_clause(scope)
        async with self._conn.execute(f"SELECT COUNT(*) AS n FROM documents d WHERE {where}", args) as cur:
            return one_row(await cur.fetchone())["n"]

    async def count_passages(self) -> int:
        async with self._conn.execute("SELECT COUNT(*) AS n FROM passages") as cur:
            return one_row(await cur.fetchone())["n"]

    async def document_text(self, doc_id: int) -> str | None:
        if not valid_id(doc_id):
            return None
        async with self._conn.execute("SELECT text FROM documents WHERE id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        return row["text"] if row else None

    async def document_texts(self, doc_ids: Iterable[int]) -> dict[int, str]:
        ids = [i for i in dict.fromkeys(doc_ids) if valid_id(i)]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        async with self._conn.execute(f"SELECT id, text FROM documents WHERE id IN ({marks})", ids) as cur:
            return {r["id"]: r["text"] for r in await cur.fetchall()}

    # ----------------------------------------------------------------- passages

    async def passages_with_documents(self, passage_ids: Sequence[int]) -> dict[int, tuple[Passage, Document]]:
        if not passage_ids:
            return {}
        marks = ",".join("?" * len(passage_ids))
        # The passage's id is aliased: the document's columns bring their own "id".
        sql = (
            f"SELECT p.id AS passage_id, {_PASSAGE_COLUMNS}, {_DOC_COLUMNS} FROM passages p"
            f" JOIN documents d ON d.id = p.document_id WHERE p.id IN ({marks})"
        )
        async with self._conn.execute(sql, list(passage_ids)) as cur:
            rows = await cur.fetchall()
        return {r["passage_id"]: (_passage(r, r["passage_id"]), _document(r)) for r in rows}

    async def passages_of_documents(self, doc_ids: Sequence[int]) -> list[Passage]:
        if not doc_ids:
            return []
        marks = ",".join("?" * len(doc_ids))
        sql = (
            f"SELECT p.id, {_PASSAGE_COLUMNS} FROM passages p"
            f" WHERE p.document_id IN ({marks}) ORDER BY p.document_id, p.ordinal"
        )
        async with self._conn.execute(sql, list(doc_ids)) as cur:
            return [_passage(r, r["id"]) for r in await cur.fetchall()]

    async def vectors_by_hash(self, model: str, hashes: Iterable[str]) -> dict[str, bytes]:
        """Existing vectors for passage texts already embedded with this model: unchanged text is
        never embedded twice."""
        hashes = list(dict.fromkeys(hashes))
        found: dict[str, bytes] = {}
        for i in range(0, len(hashes), 500):
            chunk = hashes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT p.text_hash, v.vector FROM passages p JOIN vectors v ON v.passage_id = p.id"
                f" WHERE v.model = ? AND p.text_hash IN ({marks})"
            )
            async with self._conn.execute(sql, [model, *chunk]) as cur:
                for r in await cur.fetchall():
                    found.setdefault(r["text_hash"], r["vector"])
        return found

    async def passages_missing_vectors(self, model: str) -> list[tuple[int, str, str]]:
        """(passage id, document title, passage text) of passages without a vector of ``model``."""
        sql = (
            "SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.document_id"
            " WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.passage_id = p.id AND v.model = ?)"
            " ORDER BY p.id"
        )
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


async def open_store(config: KnowledgeConfig) -> Store:
    """The configured database: PostgreSQL for a ``postgresql://`` URL, else the SQLite file."""
    if config.db_url:
        from .pg_store import PgStore  # lazy: SQLite-only processes never import psycopg

        return await PgStore.open(config.db_url, busy_timeout_s=config.db_busy_timeout_s, bm25=config.pg_bm25)
    return await Store.open(config.db_path, busy_timeout_s=config.db_busy_timeout_s)
