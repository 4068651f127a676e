"""What the knowledge tests read from a database behind the knowledge base's back, on either
backend: with a connection of their own (plain ``sqlite3`` on the file, or ``psycopg``), never
through the store under test."""

from __future__ import annotations

import sqlite3
from typing import LiteralString, cast

from knowledge.service import KnowledgeBase
from knowledge.text import index_tokens

# Rows that belong to no document: what a half-written document would leave. The lexical side is
# FTS5's table in SQLite, and in PostgreSQL pg_textsearch's table or the postings (its engine's).
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


def pg_engine(kb: KnowledgeBase) -> str:
    """The lexical engine the PostgreSQL database keeps: ``bm25`` (pg_textsearch) or ``postings``."""
    import psycopg

    assert _postgres(kb)
    with psycopg.connect(str(kb.config.db)) as conn:
        row = conn.execute("SELECT lexical FROM corpus_stats WHERE id = 1").fetchone()
    assert row is not None
    return str(row[0])


def _lexical_table(kb: KnowledgeBase) -> tuple[str, str]:
    """The lexical side's table and its passage id column."""
    if not _postgres(kb):
        return "passages_fts", "rowid"
    return ("bm25_texts", "passage_id") if pg_engine(kb) == "bm25" else ("postings", "passage_id")


def table_counts(kb: KnowledgeBase) -> dict[str, int]:
    """Rows of documents, passages and vectors, and passages on the lexical side."""
    table, column = _lexical_table(kb)
    lexical = f"SELECT COUNT(DISTINCT {column}) FROM {table}"
    counts = {t: _query(kb, f"SELECT COUNT(*) FROM {t}") for t in ("documents", "passages", "vectors")}
    counts["lexical"] = _query(kb, lexical)
    return counts


def lexical_rows_with(kb: KnowledgeBase, word: str) -> int:
    """Passages the lexical side holds ``word`` for (FTS5's MATCH, pg_textsearch's score, or the
    postings of its token)."""
    if _postgres(kb) and pg_engine(kb) == "bm25":
        return _query(
            kb, f"SELECT COUNT(*) FROM bm25_texts WHERE body <@> to_bm25query('{word}', 'bm25_texts_body') < 0"
        )
    if _postgres(kb):
        [token] = index_tokens(word)
        return _query(kb, f"SELECT COUNT(*) FROM postings WHERE term = '{token}'")
    return _query(kb, f"SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH '{word}'")


def orphans(kb: KnowledgeBase) -> int:
    table, column = _lexical_table(kb)
    return _query(kb, _ORPHANS.format(lexical=table, lexical_id=column))


async def searchable_passages(kb: KnowledgeBase) -> int:
    """Passages search can find: the in-memory index's live rows, or those with a vector in PostgreSQL."""
    return await kb.index.size()
