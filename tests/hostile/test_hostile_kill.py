"""kill -9 in the middle of indexing, in a real subprocess: the database stays whole (every document
with all its passages, vectors and full-text rows, none half-written), it opens again, answers,
and indexing the same folder again finishes the job without duplicates."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.service import KnowledgeBase

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = 200

# The child indexes the folder file by file (one transaction each) with the fast fake embedder,
# slowed a little so the parent can kill it mid-way, not before or after.
CHILD = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from knowledge.config import KnowledgeConfig
    from knowledge.embed import HashingEmbedder
    from knowledge.service import KnowledgeBase

    class Slow(HashingEmbedder):
        def encode(self, texts, *, bulk=False):
            time.sleep(0.02)
            return super().encode(texts, bulk=bulk)

    async def main():
        config = KnowledgeConfig(db=Path(sys.argv[1]))
        async with await KnowledgeBase.open(config, embedder=Slow()) as kb:
            for path in sorted(Path(sys.argv[2]).iterdir()):
                await kb.index_paths([path])
                print("indexed", path.name, flush=True)

    asyncio.run(main())
""")


def _documents(folder: Path) -> None:
    folder.mkdir()
    for i in range(DOCUMENTS):
        body = "\n\n".join(
            f"Report {i} paragraph {p}: the harbour authority number {i} said cranes "
            f"moved {i * 7 + p} containers on shift {p} while wages talks went on."
            for p in range(6)
        )
        (folder / f"report-{i:03d}.txt").write_text(f"Harbour report {i}\n\n{body}\n", encoding="utf-8")


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            "documents": conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0],
            "orphans": conn.execute(
                "SELECT (SELECT COUNT(*) FROM passages WHERE document_id NOT IN (SELECT id FROM documents))"
                " + (SELECT COUNT(*) FROM vectors WHERE passage_id NOT IN (SELECT id FROM passages))"
                " + (SELECT COUNT(*) FROM passages_fts WHERE rowid NOT IN (SELECT id FROM passages))"
                " + (SELECT COUNT(*) FROM documents WHERE id NOT IN (SELECT document_id FROM passages))"
                " + (SELECT COUNT(*) FROM passages WHERE id NOT IN (SELECT passage_id FROM vectors))"
            ).fetchone()[0],
            "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok",
        }


async def test_kill_9_mid_index_leaves_no_half_document_and_a_rerun_finishes(tmp_path: Path):
    folder, db = tmp_path / "news", tmp_path / "newsdesk.db"
    _documents(folder)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(folder)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        indexed = 0
        deadline = time.monotonic() + 120
        while indexed < 20 and time.monotonic() < deadline:  # well under way, far from done
            line = child.stdout.readline() if child.stdout else ""
            if not line:
                break
            indexed += line.startswith("indexed")
        assert indexed >= 20, "the child did not get going"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        if child.stdout:
            child.stdout.close()

    after_kill = _counts(db)
    assert after_kill["integrity"] and after_kill["orphans"] == 0
    assert indexed <= after_kill["documents"] < DOCUMENTS  # killed mid-way, every finished one kept

    config = KnowledgeConfig(db=db)
    async with await KnowledgeBase.open(config, embedder=HashingEmbedder()) as kb:
        hits = await kb.search("harbour authority cranes containers", k=3)
        assert hits and all(h.document.title.startswith("Harbour report") for h in hits)
        report = await kb.index_paths([folder])
        assert not report.errors
        assert len(report.added) == DOCUMENTS - after_kill["documents"]
        assert len(report.unchanged) == after_kill["documents"]
    final = _counts(db)
    assert final == {"documents": DOCUMENTS, "orphans": 0, "integrity": True}
