"""What the knowledge tests read from a database behind the knowledge base's back, on either
backend: with a connection of their own (plain ``sqlite3`` on the file, or ``psycopg``), never
through the store under test."""

from __future__ import annotations

import sqlite3
from typing import LiteralString, cast

from knowledge.service import KnowledgeBase
from knowledge.text import index_tokens

# Rows that belong to no document: what a half-written document would leave. The lexical side is
# FTS5's table in SQLite and the postings table in PostgreSQL.
_ORPHANS = (
    "SELECT (SELECT COUNT(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents))"
    " + (SELECT COUNT(*) FROM vectors WHERE passage_id NOT IN (SELECT id FROM passages))"
    " + (SELECT COUNT(*) FROM {lexical} WHERE {lexical_id} NOT IN (SELECT id FROM passages))"
    " + (SELECT COUNT(*) FROM documents WHERE id NOT IN (SELECT document_id FROM passages))"
)


def _postgres(kb: KnowledgeBase) -> bool:
    return kb.backend.engine == "postgres"


def _query(kb: KnowledgeBase, sql: str) -> int:
    if _postgres(kb):
        import psycopg

        with psycopg.connect(str(kb.config.db)) as conn:
            row = conn.execute(cast(LiteralString, sql)).fetchone()  # the tests' own SQL
    else:
        with sqlite3.connect(kb.config.db) as conn:
            row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def table_counts(kb: KnowledgeBase) -> dict[str, int]:
    """Rows of documents, passages and vectors, and passages on the lexical side."""
    lexical = (
        "SELECT COUNT(DISTINCT passage_id) FROM postings" if _postgres(kb) else "SELECT COUNT(*) FROM passages_fts"
    )
    counts = {t: _query(kb, f"SELECT COUNT(*) FROM {t}") for t in ("documents", "passages", "vectors")}
    counts["lexical"] = _query(kb, lexical)
    return counts


def lexical_rows_with(kb: KnowledgeBase, word: str) -> int:
    """Passages the lexical side holds ``word`` for (FTS5's MATCH, or the postings of its token)."""
    if _postgres(kb):
        [token] = index_tokens(word)
        return _query(kb, f"SELECT COUNT(*) FROM postings WHERE term = '{token}'")
    return _query(kb, f"SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH '{word}'")


def orphans(kb: KnowledgeBase) -> int:
    if _postgres(kb):
        return _query(kb, _ORPHANS.format(lexical="postings", lexical_id="passage_id"))
    return _query(kb, _ORPHANS.format(lexical="passages_fts", lexical_id="rowid"))


async def searchable_passages(kb: KnowledgeBase) -> int:
    """Passages search can find: the in-memory index's live rows, or those with a vector in PostgreSQL."""
    return await kb.index.size()
