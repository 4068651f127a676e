"""Reading a BEIR-layout folder and building a fresh knowledge base from its corpus through the
same ingest path as any pasted text (each corpus line a document: title + text, metadata.date as
its published date)."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from ..config import KnowledgeConfig
from ..embed import Embedder
from ..errors import KnowledgeError
from ..service import KnowledgeBase, TextItem


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    answers: list[str]
    date: dt.date | None


@dataclass(frozen=True)
class BeirSet:
    corpus: list[dict]
    queries: list[Query]
    qrels: dict[str, dict[str, float]]


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10].replace("/", "-"))
    except ValueError:
        return None


def read_queries(path: Path) -> list[Query]:
    out = []
    for q in read_jsonl(path):
        meta = q.get("metadata") or {}
        answers = meta.get("answers") or ([meta["answer"]] if meta.get("answer") else [])
        out.append(
            Query(
                id=str(q["_id"]), text=q["text"], answers=[str(a) for a in answers], date=parse_date(meta.get("date"))
            )
        )
    return out


BEIR_FILES = ("corpus.jsonl", "queries.jsonl", "qrels.tsv")


def read_beir(folder: Path) -> BeirSet:
    folder = Path(folder)
    if not folder.is_dir():
        raise KnowledgeError(f"no folder {folder}")
    missing = [name for name in BEIR_FILES if not (folder / name).is_file()]
    if missing:
        raise KnowledgeError(f"{folder} is not a BEIR-layout folder: {', '.join(missing)} missing")
    qrels: dict[str, dict[str, float]] = {}
    with open(folder / "qrels.tsv", encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].replace(".", "").isdigit():
                continue  # header
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = float(parts[2])
    return BeirSet(
        corpus=read_jsonl(folder / "corpus.jsonl"), queries=read_queries(folder / "queries.jsonl"), qrels=qrels
    )


@asynccontextmanager
async def corpus_knowledge_base(
    corpus: list[dict], *, embedder: Embedder | None = None, config: KnowledgeConfig | None = None
) -> AsyncIterator[tuple[KnowledgeBase, dict[int, str], float]]:
    """A knowledge base holding ``corpus``, in a temporary SQLite file or the given (empty)
    PostgreSQL database (``config``); yields (kb, document id ->
    corpus id, seconds spent indexing)."""
    with tempfile.TemporaryDirectory(prefix="newsdesk-eval-") as tmp:
        given = config is not None
        # A database given is used as it is (it must be empty); otherwise a fresh SQLite file.
        config = config if config is not None else KnowledgeConfig(db=Path(tmp) / "eval.db")
        kb = await KnowledgeBase.open(config, embedder=embedder)
        try:
            if given and await kb.count_documents():
                raise KnowledgeError(f"{config.db_name} already holds documents: evaluate in an empty database")
            items = [
                TextItem(
                    text=row.get("text") or "",
                    title=(row.get("title") or "").replace("_", " "),
                    published=parse_date((row.get("metadata") or {}).get("date")),
                    origin=str(row["_id"]),
                )
                for row in corpus
            ]
            started = time.perf_counter()
            report = await kb.add_texts(items)
            seconds = time.perf_counter() - started
            doc_to_corpus = {d.id: d.origin for d in report.added}
            yield kb, doc_to_corpus, seconds
        finally:
            await kb.close()
