"""What the PostgreSQL fault tests (``test_postgres_faults``) use: a private server they can stop and
start, waits on state the database shows (a backend waiting on a lock, a row count), and the CLI run
as a real process."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import LiteralString, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
PASSWORD = "s3cret-pw"  # in every URL the product sees: it must never show it
# Only bounds a hang (a process blocked for good would otherwise stall the run); nothing here waits
# this long unless something is wrong, and no test asserts on time.
PATIENCE_S = 300.0


class PrivateServer:
    """A PostgreSQL server of these tests' own (the pgserver wheel, in a fresh folder): stopping it
    disturbs no other test, as stopping the session's server (``pg_server``) would. It starts again on
    the same socket folder, so URLs stay valid across a restart, as a real server's do."""

    def __init__(self, folder: Path) -> None:
        from pgserver import get_server  # pyright: ignore[reportPrivateImportUsage]

        self.folder = folder
        self._server = get_server(folder, cleanup_mode="delete")
        self.admin_url = self._server.get_uri()
        # Started again with the options pgserver started it with (its socket folder, the libraries
        # a wheel preloads), as PostgreSQL recorded them: the command line after the program and -D.
        recorded = shlex.split((folder / "postmaster.opts").read_text())[1:]
        at = recorded.index("-D")
        self._options = " ".join(shlex.quote(option) for option in recorded[:at] + recorded[at + 2 :])
        self.running = True

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        # No pipes: the server pg_ctl starts would inherit them, and reading them would never end.
        done = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.folder), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._server.system_user,
            timeout=PATIENCE_S,
        )
        if done.returncode != 0:
            log = (self.folder / "log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed ({done.returncode}); server log:\n{log}")

    def stop(self) -> None:
        """As a crash or a power cut: every backend ends at once, nothing is rolled back cleanly
        (the restart recovers from the write-ahead log)."""
        self._pg_ctl("-m", "immediate", "-w", "stop")
        self.running = False

    def start(self) -> None:
        self._pg_ctl("-w", "-t", str(int(PATIENCE_S)), "-o", self._options, "-l", str(self.folder / "log"), "start")
        self.running = True

    def create_database(self) -> str:
        """A fresh database; its URL carries a password (the server trusts local connections, so it
        is never checked, only carried), to show that no message repeats it."""
        name = f"f_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(netloc=f"postgres:{PASSWORD}@", path=f"/{name}"))

    def drop_database(self, url: str) -> None:
        if not self.running:
            return
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def cleanup(self) -> None:
        if not self.running:
            self.start()  # pgserver stops and deletes a running server
        self._server.cleanup()


def shown(url: str) -> str:
    """The database as messages name it: the URL with its password masked."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc="postgres:***@"))


def wait_until(condition: Callable[[], T], what: str, *, processes: Sequence[subprocess.Popen] = ()) -> T:
    """Poll ``condition`` until it is true (returned); fails naming ``what`` if one of ``processes``
    ends first or ``PATIENCE_S`` pass (a hang, never a slow machine's normal pace)."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        if value := condition():
            return value
        for process in processes:
            if process.poll() is not None:
                out, err = process.communicate()
                raise AssertionError(f"a process ended ({process.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def query(url: str, text: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(cast(LiteralString, text), params).fetchall()  # the tests' own SQL


def scalar(url: str, text: str, params: tuple = ()) -> int:
    [(value,)] = query(url, text, params)
    return int(value)


def blocked_by(url: str, pid: int) -> list[int]:
    """The backends waiting for a lock that backend ``pid`` holds (on a table, or on a row its open
    transaction wrote)."""
    return [p for (p,) in query(url, "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (pid,))]


def alive(url: str, pid: int) -> bool:
    return scalar(url, "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s", (pid,)) > 0


def tables_written(url: str, pid: int) -> set[str]:
    """The tables backend ``pid``'s open transaction has written rows to."""
    rows = query(
        url,
        "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
        " WHERE l.pid = %s AND l.granted AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'",
        (pid,),
    )
    return {name for (name,) in rows}


@contextmanager
def table_locked(url: str, table: str, mode: str) -> Iterator[int]:
    """``table`` locked in ``mode`` by a transaction of the test's own until the block ends (then
    committed: it wrote nothing); yields its backend's pid. The product's statements that conflict
    wait there, so a test holds a process at a known step and sees it wait (``blocked_by``)."""
    conn = psycopg.connect(url)
    try:
        conn.execute(cast(LiteralString, f"LOCK TABLE {table} IN {mode} MODE"))
        yield conn.info.backend_pid
        try:
            conn.commit()
        except psycopg.OperationalError:
            pass  # the test stopped the server meanwhile: the lock went with it
    finally:
        conn.close()


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env["PYTHONPATH"] = str(ROOT)
    env["LOG_LEVEL"] = "WARNING"
    # A test may hold a process at a lock for a while: its lock wait must not time out first.
    env["NEWSDESK_DB_BUSY_TIMEOUT_S"] = str(int(PATIENCE_S))
    return env


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "knowledge.cli", *args],
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=PATIENCE_S)
    return process.returncode, out, err


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.communicate(timeout=PATIENCE_S)


def last_line(stderr: str) -> str:
    """The last line a user sees on stderr (a progress bar redraws with carriage returns)."""
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else ""
