"""PostgreSQL's dense side after many removals and re-adds: newsdesk deletes documents, VACUUM then
repairs pgvector's HNSW graph, and pgvector releases before 0.8.3 could corrupt it doing so (0.8.3
could still fail one when rows were written during the VACUUM). The nearest passages the index
returns must stay those an exact scan returns."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import psycopg

from knowledge.backends.interface import DocumentWrite
from knowledge.backends.postgres import PgSearch, open_store
from knowledge.config import KnowledgeConfig
from knowledge.models import NewDocument, NewPassage

MODEL = "churn-test"
DIM = 48
PASSAGES_PER_DOCUMENT = 4


def _write(i: int, vectors: np.ndarray) -> DocumentWrite:
    text = f"Document {i}"
    passages = [
        NewPassage(ordinal=j, paragraph_index=j, char_start=0, char_end=len(text), text=text, text_hash=f"{i}-{j}")
        for j in range(len(vectors))
    ]
    doc = NewDocument(
        title=f"Doc {i}",
        source=None,
        author=None,
        origin=f"churn-{i}",
        published=dt.date(2024, 1, 1) + dt.timedelta(days=i % 300),
        guild_id=None,
        content_hash=f"hash-{i}",
        text=text,
        words=2,
    )
    return DocumentWrite(doc, passages, vectors)


def _vacuum(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM vectors")


async def test_nearest_passages_stay_exact_after_many_removals_and_re_adds(pg_url):
    rng = np.random.default_rng(3)
    # Clustered, as embeddings of news are: 30 topics, passages near their topic.
    topics = rng.normal(size=(30, DIM))
    store = await open_store(KnowledgeConfig().with_db(pg_url))
    try:
        vectors: dict[int, np.ndarray] = {}  # document id -> its passages' vectors
        serial = 0

        async def add(batch: list[np.ndarray]) -> None:
            nonlocal serial
            writes = []
            for v in batch:
                serial += 1
                writes.append(_write(serial, v))
            for (doc_id, _), w in zip(await store.insert_documents(writes, MODEL), writes, strict=True):
                vectors[doc_id] = w.vectors

        def document_vectors(n: int) -> list[np.ndarray]:
            out = []
            for _ in range(n):
                v = topics[rng.integers(len(topics))] + 0.3 * rng.normal(size=(PASSAGES_PER_DOCUMENT, DIM))
                out.append((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32))
            return out

        for _ in range(4):
            await add(document_vectors(100))
        for round_ in range(6):
            gone = rng.choice(sorted(vectors), size=len(vectors) * 2 // 5, replace=False)
            back = [vectors.pop(int(doc_id)) for doc_id in gone]
            for doc_id in gone:
                await store.delete_document(int(doc_id))
            if round_ % 2:  # written again while VACUUM repairs the graph
                await asyncio.gather(asyncio.to_thread(_vacuum, pg_url), add(back))
            else:
                await asyncio.to_thread(_vacuum, pg_url)
                await add(back)
        await asyncio.to_thread(_vacuum, pg_url)

        pids_by_row, matrix = [], []
        async with store.connection.execute("SELECT passage_id, vector FROM vectors WHERE model = ?", [MODEL]) as cur:
            for r in await cur.fetchall():
                pids_by_row.append(int(r["passage_id"]))
                matrix.append(np.asarray(r["vector"].to_numpy(), dtype=np.float32))
        stored = np.asarray(matrix)
        assert len(stored) == len(vectors) * PASSAGES_PER_DOCUMENT == 1600

        index = PgSearch(store, MODEL)
        recalls = []
        for query in document_vectors(40):
            q = query[0]
            exact = {pids_by_row[i] for i in np.argsort(-(stored @ q))[:10]}
            found = {pid for pid, _ in await index.dense(q, 10, "TRUE", [])}
            recalls.append(len(exact & found) / 10)
        assert np.mean(recalls) >= 0.95 and min(recalls) >= 0.7, recalls
    finally:
        await store.close()
