"""The SQL of documents, passages and vectors that both engines run as it is: finding, listing and
reading documents and passages, the vectors already stored, and what a migration reads. The writes
of a document and search differ per engine (``sqlite.store``, ``postgres.store``).

Writes of one document happen in one transaction, so a crash never leaves half a document indexed.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ...clock import iso, parse_ts, utcnow
from ...models import Document, NewDocument, Passage
from ...scope import scope_of
from ..interface import Export
from .common import MAX_ID, Row, SqlDatabase, date_clause, one_row, scope_clause, storable, valid_id

# Named, not numbered: a query adds what it needs (a passage count, a scope key) beside these.
_DOC_COLUMNS = (
    "d.id, d.title, d.source, d.published, d.author, d.guild_id, d.origin, d.content_hash, d.added_at,"
    " d.words, d.published_precision"
)
# Subquery for a document's passage count, read as row["passages"].
_PASSAGE_COUNT = "(SELECT COUNT(*) FROM passages p WHERE p.document_id = d.id) AS passages"


def _document(row: Row, passages: int = 0) -> Document:
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


def _passage(row: Row, passage_id: int) -> Passage:
    columns = ("document_id", "ordinal", "paragraph_index", "char_start", "char_end")
    return Passage(id=passage_id, text=row["passage_text"], **{name: row[name] for name in columns})


# The columns ``document_row`` fills, in its order (both engines' inserts name them so).
DOCUMENT_COLUMNS = (
    "title, source, published, published_precision, author, guild_id, origin, content_hash, text, words, added_at"
)
DOCUMENT_INSERT = f"INSERT INTO documents ({DOCUMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


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


# A stored document's every column, in the order a copy inserts them.
EXPORTED_COLUMNS = f"id, {DOCUMENT_COLUMNS}"


class DocumentSQL(SqlDatabase):
    """Documents, passages and vectors: the queries both engines share. ``vector_blob`` is the
    engine's hook: a stored vector as float32 bytes."""

    @abstractmethod
    def vector_blob(self, stored: Any) -> bytes:
        """A vector as the engine returns it, as little-endian float32 bytes."""

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

    async def record_removed_file(self, doc: Document) -> None:
        """Remember that the file ``doc`` was read from was removed, with the content it had."""
        if not doc.origin:
            return
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO removed_files (origin, scope, content_hash, removed_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (origin, scope) DO UPDATE SET content_hash = excluded.content_hash,"
                " removed_at = excluded.removed_at",
                (storable(doc.origin), scope_of(doc.guild_id), doc.content_hash, iso(utcnow())),
            )

    async def removed_file_hash(self, origin: str, guild_id: int | None) -> str | None:
        """The content hash the file at ``origin`` had when its document was removed; None if never."""
        async with self._conn.execute(
            "SELECT content_hash FROM removed_files WHERE origin = ? AND scope = ?",
            (storable(origin), scope_of(guild_id)),
        ) as cur:
            row = await cur.fetchone()
        return row["content_hash"] if row else None

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
                    found.setdefault(r["text_hash"], self.vector_blob(r["vector"]))
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

    # ----------------------------------------------------------------- what a migration reads

    async def document_ids(self) -> list[int]:
        async with self._conn.execute("SELECT id FROM documents ORDER BY id") as cur:
            return [r["id"] for r in await cur.fetchall()]

    async def export_documents(self, ids: Sequence[int]) -> Export:
        """The rows of documents ``ids``, of their passages (in order) and their vectors of every model."""
        if not ids:
            return Export([], [], {})
        marks = ",".join("?" * len(ids))
        async with self._conn.execute(
            f"SELECT {EXPORTED_COLUMNS} FROM documents WHERE id IN ({marks}) ORDER BY id", list(ids)
        ) as cur:
            docs = list(await cur.fetchall())
        async with self._conn.execute(
            "SELECT id, document_id, ordinal, paragraph_index, char_start, char_end, text, text_hash FROM passages"
            f" WHERE document_id IN ({marks}) ORDER BY document_id, ordinal",
            list(ids),
        ) as cur:
            passages = list(await cur.fetchall())
        vectors: dict[str, dict[int, np.ndarray]] = {}
        pids = [p["id"] for p in passages]
        for i in range(0, len(pids), 500):
            chunk = pids[i : i + 500]
            async with self._conn.execute(
                f"SELECT passage_id, model, vector FROM vectors WHERE passage_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ) as cur:
                for r in await cur.fetchall():
                    vector = np.frombuffer(self.vector_blob(r["vector"]), dtype="<f4").astype(np.float32)
                    vectors.setdefault(r["model"], {})[r["passage_id"]] = vector
        return Export(docs, passages, vectors)

    async def issued_ids(self) -> dict[str, int]:
        """The largest id each table ever gave out, where the engine remembers ids of removed rows
        (a copy must never give one out again); empty where it does not."""
        return {}
