"""Safe start and stop: a database that cannot be opened (damaged, truncated, read-only, not a
database, a folder, a newer schema) is one clear line and a prompt non-zero exit, from the CLI and
from ``python -m bot``; every connection is closed on every path; a full disk and a database locked
by another process are clear errors the knowledge base and the console survive."""

from __future__ import annotations

import asyncio
import ctypes
import io
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest

from bot.console import Console
from bot.settings import Settings
from knowledge.backends.sqlite import SqliteStore, sqlite_store
from knowledge.backends.sqlite.schema import MIGRATIONS
from knowledge.config import KnowledgeConfig
from knowledge.embed import HashingEmbedder
from knowledge.errors import DatabaseError
from knowledge.service import KnowledgeBase

ROOT = Path(__file__).resolve().parents[2]
NEWS = "Dam opens\n\nThe new dam on the Mekong river opened on Monday after six years of construction."


# ---------------------------------------------------------------------------------------------- helpers


def _workers(before: Iterable[threading.Thread] = ()) -> list[threading.Thread]:
    """aiosqlite's worker threads, other than ``before``, still running after up to 60 s (not daemons:
    one left running keeps a process alive). A closed connection's thread ends just after it hands
    back its last result. Threads of earlier tests are excluded rather than counted: the garbage
    collector may end theirs at any moment, which made a count before and after flaky."""
    known = set(before)
    deadline = time.monotonic() + 60  # returns as soon as none is left: a bound, not a speed
    while True:
        alive = [
            t
            for t in threading.enumerate()
            if "_connection_worker_thread" in t.name and t.is_alive() and t not in known
        ]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.01)


def _running_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name and t.is_alive()]


def _drop_file_permission_override() -> None:
    """Run as root, the child would write a read-only file anyway: drop CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH from its bounding set so file permissions apply to it as to anyone."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSDESK_", "BRIEFING_"))}
    seeds = tmp_path / "no-seeds"
    seeds.mkdir(exist_ok=True)
    # A busy timeout far beyond the run's own limit (below): a process that waited on a lock instead
    # of exiting at once is then caught by that limit, not by timing how long it took.
    env.update(PYTHONPATH=str(ROOT), NEWSDESK_SEEDS=str(seeds), LOG_LEVEL="WARNING", NEWSDESK_DB_BUSY_TIMEOUT_S="3600")
    env.update(extra)
    return env


def _run(
    args: list[str], tmp_path: Path, *, env: dict[str, str], read_only: bool = False, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a hang, not a speed: see _env's busy timeout
        preexec_fn=_drop_file_permission_override if read_only and os.geteuid() == 0 else None,
    )


def _newsdesk_db(path: Path, documents: int = 0) -> Path:
    """A real newsdesk database, with some documents when a test needs pages to damage."""

    async def build() -> None:
        async with await KnowledgeBase.open(KnowledgeConfig(db=path), embedder=HashingEmbedder()) as kb:
            for i in range(documents):
                await kb.add_text(f"Report {i}\n\n" + " ".join(f"word{i}x{j}" for j in range(400)))

    asyncio.run(build())
    return path


def _corrupt(tmp: Path) -> Path:
    path = tmp / "corrupt.db"
    path.write_bytes(np.random.default_rng(8).integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes())
    return path


def _truncated(tmp: Path) -> Path:
    path = _newsdesk_db(tmp / "truncated.db", documents=40)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _header_only(tmp: Path) -> Path:
    path = tmp / "header.db"
    path.write_bytes(b"SQLite format 3\x00" + bytes(34))
    return path


def _text_file(tmp: Path) -> Path:
    path = tmp / "notes.db"
    path.write_text("These are my notes, not a database.\n" * 50, encoding="utf-8")
    return path


def _folder(tmp: Path) -> Path:
    path = tmp / "folder.db"
    path.mkdir()
    return path


def _fifo(tmp: Path) -> Path:
    path = tmp / "pipe.db"
    os.mkfifo(path)  # SQLite would block opening it, for ever
    return path


def _future_schema(tmp: Path) -> Path:
    path = tmp / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE things (x)")
        conn.execute("PRAGMA user_version = 99")
    return path


def _read_only_file(tmp: Path) -> Path:
    # A database that still needs its migrations (an older newsdesk's, or new), in a read-only file.
    path = tmp / "readonly.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    return path


def _read_only_folder(tmp: Path) -> Path:
    folder = tmp / "locked-folder"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return folder / "new.db"


BAD_DATABASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    # kind: (make it, a word the one-line cause must hold)
    "corrupt": (_corrupt, "not a SQLite database"),
    "truncated": (_truncated, "damaged"),
    "header-only": (_header_only, "damaged"),
    "text-file": (_text_file, "not a SQLite database"),
    "folder": (_folder, "folder"),
    "fifo": (_fifo, "not a regular file"),
    "future-schema": (_future_schema, "newer"),
    "read-only-file": (_read_only_file, "read-only"),
    "read-only-folder": (_read_only_folder, "cannot"),
}
READ_ONLY = {"read-only-file", "read-only-folder"}


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], path: Path, cause: str) -> None:
    assert result.returncode not in (0, None), result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert path.name in lines[0] and cause in lines[0], lines[0]


@pytest.fixture
def restore_permissions(tmp_path: Path):
    yield
    for p in tmp_path.rglob("*"):  # let pytest clean up the read-only folder
        if p.is_dir():
            p.chmod(stat.S_IRWXU)


# ---------------------------------------------------------------------------------------------- bad databases


@pytest.mark.parametrize("kind", BAD_DATABASES)
def test_cli_on_a_bad_database_prints_one_line_and_exits(kind, tmp_path, restore_permissions):
    make, cause = BAD_DATABASES[kind]
    path = make(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    result = _run(
        ["-m", "knowledge.cli", "--db", str(path), "docs", "list"],
        tmp_path,
        env=_env(tmp_path),
        read_only=kind in READ_ONLY,
    )
    _assert_one_clear_line(result, path, cause)
    if kind == "future-schema":  # refused, not used: nothing was written to it
        assert path.read_bytes() == before
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone() == (99,)
            assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["things"]


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "folder", "future-schema", "read-only-file"])
def test_console_on_a_bad_database_prints_one_line_and_exits(kind, tmp_path, restore_permissions):
    make, cause = BAD_DATABASES[kind]
    path = make(tmp_path)
    result = _run(
        ["-m", "bot"],
        tmp_path,
        env=_env(tmp_path, NEWSDESK_DB=str(path)),
        read_only=kind in READ_ONLY,
        stdin="help\nquit\n",
    )
    _assert_one_clear_line(result, path, cause)


def test_log_export_on_a_bad_database_prints_one_line_and_exits(tmp_path):
    path = _corrupt(tmp_path)
    result = _run(
        ["-m", "knowledge.cli", "--db", str(path), "log", "export", "--format", "csv"], tmp_path, env=_env(tmp_path)
    )
    _assert_one_clear_line(result, path, "not a SQLite database")


async def test_a_failed_open_leaves_no_connection_behind(tmp_path):
    before = _running_workers()
    for make in (_corrupt, _truncated, _future_schema, _text_file):
        path = await asyncio.to_thread(make, tmp_path)
        with pytest.raises(DatabaseError, match=path.name):
            await SqliteStore.open(path)
    assert _workers(before) == []


async def test_knowledge_base_that_fails_after_the_store_opened_closes_it(tmp_path):
    path = await asyncio.to_thread(_newsdesk_db, tmp_path / "kb.db", 2)

    class BrokenEmbedder(HashingEmbedder):
        def encode(self, texts, *, bulk=False):
            raise RuntimeError("model files are missing")

    before = _running_workers()
    # Another model id: the passages have no vectors of it, so opening embeds them, and fails.
    with pytest.raises(RuntimeError, match="model files"):
        await KnowledgeBase.open(KnowledgeConfig(db=path), embedder=BrokenEmbedder(model_id="other"))
    assert _workers(before) == []


def test_a_valid_database_still_opens_and_migrates(tmp_path):
    path = tmp_path / "fresh.db"
    result = _run(["-m", "knowledge.cli", "--db", str(path), "docs", "list"], tmp_path, env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)


# ---------------------------------------------------------------------------------------------- full disk


async def _fill_up(kb: KnowledgeBase) -> None:
    """SQLITE_FULL for real: the database may not grow past a few more pages."""
    conn = sqlite_store(kb.store).connection
    async with conn.execute("PRAGMA page_count") as cur:
        row = await cur.fetchone()
    assert row is not None
    (pages,) = row
    async with conn.execute(f"PRAGMA max_page_count = {pages + 2}"):
        pass


async def _make_room(kb: KnowledgeBase) -> None:
    async with sqlite_store(kb.store).connection.execute("PRAGMA max_page_count = 1000000"):
        pass


async def test_a_full_disk_is_a_clear_error_and_the_base_goes_on(kb):
    await _fill_up(kb)
    big = "Budget report\n\n" + " ".join(f"line{i} of the budget" for i in range(4000))
    with pytest.raises(DatabaseError, match="the database is full"):
        await kb.add_text(big)
    with pytest.raises(DatabaseError, match="the database is full"):
        await kb.log_interaction("ask", input="x" * 200_000)
    await _make_room(kb)
    doc = await kb.add_text(NEWS)
    assert (await kb.get_document(doc.id)).title == "Dam opens"
    assert await kb.count_documents() == 1  # the failed document left nothing behind


async def test_a_full_disk_does_not_end_the_console(kb, tmp_path):
    out = io.StringIO()
    console = Console(kb, Settings(knowledge=kb.config), out=out)
    await _fill_up(kb)
    big = tmp_path / "big.txt"
    big.write_text("Budget report\n\n" + " ".join(f"line{i} of the budget" for i in range(4000)), encoding="utf-8")
    assert await console.handle(f"doc add {big}") is True
    assert "error: the database is full" in out.getvalue()
    await _make_room(kb)
    assert await console.handle(f"doc add {big}") is True
    assert "added #" in out.getvalue()


# ---------------------------------------------------------------------------------------------- locked database


def _hold_write_lock(path: str | Path) -> sqlite3.Connection:
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE IF NOT EXISTS other_process (x)")
    return other


async def test_a_write_waits_for_another_process_that_finishes(kb_config):
    async with await KnowledgeBase.open(kb_config, embedder=HashingEmbedder()) as kb:
        async with sqlite_store(kb.store).connection.execute("PRAGMA busy_timeout") as cur:
            row = await cur.fetchone()
            assert row is not None and row[0] >= 15_000  # a `newsdesk index` beside the bot takes seconds
        other = _hold_write_lock(kb_config.db)
        releaser = threading.Timer(0.5, lambda: (other.execute("COMMIT"), other.close()))
        releaser.start()
        doc = await kb.add_text(NEWS)
        releaser.join()
        assert doc.id == 1


async def test_a_database_locked_too_long_is_a_clear_error_and_the_base_goes_on(kb_config):
    config = KnowledgeConfig(db=kb_config.db, db_busy_timeout_s=0.2)
    async with await KnowledgeBase.open(config, embedder=HashingEmbedder()) as kb:
        other = _hold_write_lock(config.db)
        try:
            with pytest.raises(DatabaseError, match="busy: another process is writing"):
                await kb.add_text(NEWS)
            with pytest.raises(DatabaseError, match="busy"):
                await kb.log_interaction("ask", input="anything")
            assert await kb.count_documents() == 0  # reads go on meanwhile (WAL)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await kb.add_text(NEWS)).id == 1


async def test_a_locked_database_does_not_end_the_console(kb_config, tmp_path):
    config = KnowledgeConfig(db=kb_config.db, db_busy_timeout_s=0.2)
    async with await KnowledgeBase.open(config, embedder=HashingEmbedder()) as kb:
        out = io.StringIO()
        console = Console(kb, Settings(knowledge=config), out=out)
        note = tmp_path / "note.txt"
        note.write_text(NEWS, encoding="utf-8")
        other = _hold_write_lock(config.db)
        try:
            assert await console.handle(f"doc add {note}") is True
            assert await console.handle("ask what opened on the Mekong?") is True  # its log row is refused
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert out.getvalue().count("error: the database is busy") == 2
        assert await console.handle(f"doc add {note}") is True
        assert "added #1 Dam opens" in out.getvalue()


def test_cli_on_a_locked_database_is_one_clear_line(tmp_path):
    path = _newsdesk_db(tmp_path / "locked.db", documents=1)
    # The model id the test database was built with (a stand-in package, so the setting is valid):
    # its passages have vectors of that id, so the CLI opens it without loading a model.
    model_id = HashingEmbedder().model_id
    package = tmp_path / "models" / model_id.replace("-", "_")
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    env = _env(tmp_path, NEWSDESK_DB_BUSY_TIMEOUT_S="0.2", NEWSDESK_MODEL=model_id)
    env["PYTHONPATH"] += os.pathsep + str(tmp_path / "models")
    other = _hold_write_lock(path)
    try:
        reading = _run(["-m", "knowledge.cli", "--db", str(path), "docs", "list"], tmp_path, env=env)
        writing = _run(["-m", "knowledge.cli", "--db", str(path), "docs", "remove", "1"], tmp_path, env=env)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert reading.returncode == 0 and "Report 0" in reading.stdout, reading.stderr  # a writer blocks no reader
    assert writing.returncode == 1 and "Traceback" not in writing.stderr, writing.stderr
    assert (
        writing.stderr.strip() == "error: the database is busy: another process is writing to it; try again in a moment"
    )


# ---------------------------------------------------------------------------------------------- bad database URLs

BAD_URLS = {
    "unclosed-bracket": ("postgresql://[::1:99999/x", "Invalid IPv6 URL"),
    "port-out-of-range": ("postgresql://newsdesk:s3cret@localhost:99999/x", "out of range"),
    "port-not-a-number": ("postgres://newsdesk:s3cret@localhost:port/x", "integer"),
}


@pytest.mark.parametrize("kind", BAD_URLS)
@pytest.mark.parametrize("where", ["--db", "NEWSDESK_DB"])
def test_a_malformed_database_url_is_one_line_and_exit_2(kind, where, tmp_path):
    url, cause = BAD_URLS[kind]
    args = ["-m", "knowledge.cli", *(["--db", url] if where == "--db" else []), "docs", "list"]
    env = _env(tmp_path, **({"NEWSDESK_DB": url} if where == "NEWSDESK_DB" else {}))
    result = _run(args, tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {where}: not a valid postgresql:// URL (") and cause in line, line
    assert "s3cret" not in result.stderr  # the password is never echoed


def test_the_bot_refuses_a_malformed_database_url_in_one_line(tmp_path):
    result = _run(["-m", "bot"], tmp_path, env=_env(tmp_path, NEWSDESK_DB="postgresql://[::1:99999/x"), stdin="quit\n")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "newsdesk: NEWSDESK_DB: not a valid postgresql:// URL (Invalid IPv6 URL)"
