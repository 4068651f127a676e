"""The PostgreSQL engine's store: the shared SQL (``sql.documents``, ``sql.log``, ``sql.setup``,
through the ``connection`` adapter), with a document's writes done the PostgreSQL way: its
passages' vectors and its lexical rows (for the engine the database keeps, ``engines``: BM25
postings, or a row per passage for pg_textsearch's index) go into tables in the document's
transaction, with COPY (a passage holds about a hundred terms, one statement per row would dominate
ingest).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import psycopg

from ...errors import DuplicateDocument
from ...models import NewDocument, NewPassage
from ...scope import scope_of
from .. import lexical
from ..interface import DocumentWrite
from ..sql.common import storable, valid_id
from ..sql.documents import DOCUMENT_INSERT, DocumentSQL, document_row
from ..sql.log import LogSQL
from ..sql.setup import SetupSQL
from .connection import Connection, PgDatabase, as_array
from .engines import DatabaseLexical, settle
from .lexical import POSTINGS, LexicalSide, PassageTerms
from .schema import PG_MIGRATIONS

log = logging.getLogger(__name__)

# pgvector releases before 0.8.3 can corrupt an HNSW index when VACUUM follows deletions, and 0.8.3
# can fail one ("hnsw graph not repaired"); newsdesk deletes documents.
PGVECTOR_MINIMUM = (0, 8, 4)
_warned_pgvector: set[str] = set()


def day_number(published: dt.date | None) -> int:
    """The day column of vectors and postings: the date's ordinal, 0 when unknown (as ``DenseIndex``)."""
    return published.toordinal() if published else 0


@asynccontextmanager
async def _duplicates_refused() -> AsyncIterator[None]:
    """The unique (content hash, scope) index refusing a document another process just indexed."""
    try:
        yield
    except psycopg.errors.UniqueViolation as e:
        if "documents_hash_scope" not in str(e):
            raise
        raise DuplicateDocument("already indexed (by another process, just now)") from None


class PgStore(PgDatabase, DocumentSQL, LogSQL, SetupSQL):
    """Documents, passages, vectors and the lexical side's rows in PostgreSQL; the queries both
    engines share come from ``DocumentSQL``, ``LogSQL`` and ``SetupSQL``, opening and transactions
    from ``PgDatabase``."""

    migrations = PG_MIGRATIONS

    def __init__(self, conn: Connection, path: str) -> None:
        super().__init__(conn, path)
        # Written in each document's transaction, read by search (``search.PgSearch``), by the
        # engine the database keeps at that moment.
        self.lexical: LexicalSide = DatabaseLexical(conn)
        self.lexical_engine = POSTINGS  # as settled at open (``engines.settle``)
        self._vector_indexes: set[int] = set()  # the sizes whose HNSW index is known to exist

    @classmethod
    async def open(cls, url: str, *, busy_timeout_s: float = 30.0, bm25: str = "auto") -> PgStore:  # type: ignore[override]
        """``PgDatabase.open``, then the lexical engine settled (``bm25``: ``auto`` or ``sql``, see
        ``engines.settle``) and an old pgvector named in the log."""
        store = await super().open(url, busy_timeout_s=busy_timeout_s)
        try:
            store.lexical_engine = await settle(store, bm25)
            await store._check_pgvector()
        except BaseException:
            await store.close()
            raise
        return store

    async def _check_pgvector(self) -> None:
        async with self._conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'") as cur:
            row = await cur.fetchone()
        version = str(row["extversion"]) if row else ""
        if version_tuple(version) < PGVECTOR_MINIMUM and version not in _warned_pgvector:
            _warned_pgvector.add(version)  # once per process, however many times it opens
            log.warning(
                "pgvector %s is older than 0.8.4: its HNSW index can be damaged when VACUUM runs after"
                ' documents are removed; upgrade the server\'s pgvector (README, "Deploying at scale")',
                version or "(unknown)",
            )

    def vector_blob(self, stored: Any) -> bytes:
        return as_array(stored).astype("<f4").tobytes()

    async def ensure_vector_index(self, dim: int) -> None:
        """The HNSW index for vectors of ``dim`` dimensions (one per dimension: the column holds any
        model's vectors, an index needs one size), made before the first vector of that size is
        written, under the migration lock."""
        done = self._vector_indexes
        if dim in done:
            return
        if not 0 < dim <= 16000:  # pgvector's limit; the size is written into the SQL below
            raise ValueError(f"unexpected vector size {dim}")
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(?)", (0x6E657773,))
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS vectors_hnsw_{dim} ON vectors"
                f" USING hnsw ((vector::vector({dim})) vector_cosine_ops) WHERE dim = {dim}"
            )
        done.add(dim)

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
        [written] = await self.insert_documents(
            [DocumentWrite(doc, passages, vectors, replace_id=replace_id, added_at=added_at)], model
        )
        return written

    async def insert_documents(self, writes: Sequence[DocumentWrite], model: str) -> list[tuple[int, list[int]]]:
        """All in one transaction, as on SQLite; each document's rows go in by COPY."""
        writes = [replace(w, vectors=np.ascontiguousarray(w.vectors, dtype=np.float32)) for w in writes]
        for w in writes:
            if len(w.vectors) != len(w.passages):
                raise ValueError(f"{len(w.passages)} passages but {len(w.vectors)} vectors")
        for dim in sorted({int(w.vectors.shape[1]) for w in writes if len(w.vectors)}):
            await self.ensure_vector_index(dim)
        # Tokenising is CPU work: in a worker, before the transaction holds any lock.
        tokens = await asyncio.to_thread(
            lambda: [lexical.tokenise([(w.doc.title, p.text) for p in w.passages]) for w in writes]
        )
        out: list[tuple[int, list[int]]] = []
        async with _duplicates_refused(), self.transaction() as conn:
            for w, doc_tokens in zip(writes, tokens, strict=True):
                out.append(await self._insert_in(conn, w, doc_tokens, model))
        return out

    async def _insert_in(
        self, conn: Connection, w: DocumentWrite, tokens: Sequence[tuple[dict[str, float], int]], model: str
    ) -> tuple[int, list[int]]:
        if w.replace_id is not None:
            await self._delete_in(conn, w.replace_id)
        async with conn.execute(DOCUMENT_INSERT + " RETURNING id", document_row(w.doc, w.added_at)) as cur:
            row = await cur.fetchone()
        assert row is not None  # INSERT ... RETURNING always returns the row
        doc_id = row["id"]
        if not w.passages:
            return doc_id, []
        async with conn.execute(
            "SELECT nextval(pg_get_serial_sequence('passages', 'id')) AS id FROM generate_series(1, ?)",
            (len(w.passages),),
        ) as cur:
            ids = [r["id"] for r in await cur.fetchall()]
        rows = [
            (pid, p.ordinal, p.paragraph_index, p.char_start, p.char_end, p.text, p.text_hash)
            for pid, p in zip(ids, w.passages, strict=True)
        ]
        scope, day = scope_of(w.doc.guild_id), day_number(w.doc.published)
        await self.write_passages(conn, doc_id, scope, day, rows, tokens, [(model, list(w.vectors))])
        return doc_id, ids

    async def write_passages(
        self,
        conn: Connection,
        doc_id: int,
        scope: int,
        day: int,
        rows: Sequence[tuple[int, int, int, int, int, str, str]],
        tokens: Sequence[tuple[dict[str, float], int]],
        vectors: Sequence[tuple[str, Sequence[np.ndarray | None]]],
    ) -> None:
        """COPY one document's passages (id, ordinal, paragraph, start, end, text, text hash) and their
        vectors per model (row for row; None: none of that model), and hand their terms to the
        lexical side, inside the caller's transaction."""
        raw = conn.conn
        assert raw is not None  # inside a transaction
        async with raw.cursor() as cur:
            async with cur.copy(
                "COPY passages (id, document_id, ordinal, paragraph_index, char_start, char_end, text,"
                " text_hash, length) FROM STDIN"
            ) as copy:
                for (pid, ordinal, paragraph, start, end, text, text_hash), (_, length) in zip(
                    rows, tokens, strict=True
                ):
                    await copy.write_row(
                        (pid, doc_id, ordinal, paragraph, start, end, storable(text), text_hash, length)
                    )
            async with cur.copy(
                "COPY vectors (passage_id, model, dim, vector, document_id, scope, day) FROM STDIN"
            ) as copy:
                for model, vecs in vectors:
                    for (pid, *_), vec in zip(rows, vecs, strict=True):
                        if vec is not None:
                            await copy.write_row((pid, model, int(vec.shape[0]), vec, doc_id, scope, day))
        await self.lexical.add(
            conn, [PassageTerms(pid, scope, day, terms) for (pid, *_), terms in zip(rows, tokens, strict=True)]
        )

    async def _delete_in(self, conn, doc_id: int) -> list[int]:
        # The document's row locked first: a second process removing (or replacing) it at once waits
        # here, then finds it gone. Without the lock both read its passages and both counted them
        # off the BM25 statistics (corpus_stats lost them twice; tests/knowledge/test_postgres_faults).
        async with conn.execute("SELECT id FROM documents WHERE id = ? FOR UPDATE", (doc_id,)) as cur:
            if await cur.fetchone() is None:
                return []
        async with conn.execute("SELECT id, length FROM passages WHERE document_id = ? ORDER BY id", (doc_id,)) as cur:
            rows = await cur.fetchall()
        await self.lexical.remove(conn, [(r["id"], float(r["length"])) for r in rows])
        await conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return [r["id"] for r in rows]

    async def delete_document(self, doc_id: int) -> list[int]:
        if not valid_id(doc_id):
            return []
        async with self.transaction() as conn:
            return await self._delete_in(conn, doc_id)

    async def add_vectors(self, model: str, rows: Sequence[tuple[int, np.ndarray]]) -> None:
        for dim in {int(v.shape[0]) for _, v in rows}:
            await self.ensure_vector_index(dim)
        async with self.transaction() as conn:
            await conn.executemany(
                "INSERT INTO vectors (passage_id, model, dim, vector, document_id, scope, day)"
                " SELECT p.id, ?, ?, ?, p.document_id, COALESCE(d.guild_id, 0),"
                " CASE WHEN d.published IS NULL THEN 0 ELSE (d.published::date - DATE '0001-01-01') + 1 END"
                " FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.id = ?"
                " ON CONFLICT (passage_id, model) DO UPDATE SET dim = excluded.dim, vector = excluded.vector",
                [(model, int(v.shape[0]), np.asarray(v, dtype=np.float32), pid) for pid, v in rows],
            )

    async def passages_missing_vectors(self, model: str) -> list[tuple[int, str, str]]:
        """As the shared SQL, after a cheaper look: a passage holds at most one vector per model (the
        key) and ``corpus_stats`` counts every passage, so equal counts mean none is missing. At
        1,000,000 passages the count takes 0.18 s and the anti-join 0.78 s: most of a start."""
        async with self._conn.execute(
            "SELECT (SELECT COUNT(*) FROM vectors WHERE model = ?) AS vectors,"
            " (SELECT passages FROM corpus_stats WHERE id = 1) AS passages",
            (model,),
        ) as cur:
            row = await cur.fetchone()
        if row is not None and int(row["vectors"]) >= int(row["passages"] or 0):
            return []
        return await super().passages_missing_vectors(model)

    async def count_passages(self) -> int:
        async with self._conn.execute("SELECT passages AS n FROM corpus_stats WHERE id = 1") as cur:
            row = await cur.fetchone()
        return int(row["n"]) if row else 0


def version_tuple(version: str) -> tuple[int, ...]:
    """ "0.8.1" as (0, 8, 1), for comparing releases; what is not a number counts 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split(".")[:3]) if version else (0,)
