"""The SQLite engine's database: one file, one long-lived aiosqlite connection (WAL mode), rows read by
column name (``sqlite3.Row``); opening, migrating by ``PRAGMA user_version`` (``schema.MIGRATIONS``,
each in one transaction), write transactions, and what SQLite's errors mean to a user."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import ClassVar, Self

import aiosqlite

from ...errors import DatabaseError
from ..sql.common import SqlDatabase, one_row, refuse_newer

log = logging.getLogger(__name__)

# How long a write waits for another process's write transaction (a `newsdesk index` beside the
# bot) before giving up with "the database is busy".
DEFAULT_BUSY_TIMEOUT_S = 30.0


# What each SQLite error code means to whoever runs newsdesk (the raw messages, "disk I/O error",
# "file is not a database", say little about what to do).
_CAUSES = {
    "SQLITE_FULL": "the database is full (no space left on the disk, or its size limit reached)",
    "SQLITE_BUSY": "the database is busy: another process is writing to it; try again in a moment",
    "SQLITE_LOCKED": "the database is busy: another process is writing to it; try again in a moment",
    "SQLITE_READONLY": "the database is read-only (check the permissions of the file and its folder)",
    "SQLITE_CORRUPT": "the database file is damaged (database disk image is malformed)",
    "SQLITE_NOTADB": "the file is not a SQLite database (damaged, truncated or another kind of file)",
    "SQLITE_IOERR": "the database could not be read or written (disk I/O error)",
    "SQLITE_CANTOPEN": "the database file cannot be opened (check the path and its permissions)",
    "SQLITE_PERM": "access to the database file is denied",
}


def _code(e: sqlite3.Error) -> str:
    # Extended codes (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT, ...) share their primary code's meaning.
    name = getattr(e, "sqlite_errorname", None) or ""
    return next((code for code in _CAUSES if name == code or name.startswith(code + "_")), "")


def error_cause(e: sqlite3.Error) -> str:
    return _CAUSES.get(_code(e), str(e))


def database_error(e: sqlite3.Error) -> Exception:
    """A ``DatabaseError`` for a fault of the database itself; anything else (a constraint, a bug in
    a statement) is left as it is."""
    if _code(e):
        log.info("database error: %s (%s)", e, getattr(e, "sqlite_errorname", "?"))
        return DatabaseError(error_cause(e))
    return e


def check_path(path: Path) -> None:
    """What SQLite would report obscurely or not at all: a folder, a FIFO or a device where the
    file should be, a folder that cannot be created."""
    if path.is_dir():
        raise DatabaseError(f"cannot open the database {path}: it is a folder, not a file")
    if path.exists() and not path.is_file():
        raise DatabaseError(f"cannot open the database {path}: it is not a regular file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseError(f"cannot open the database {path}: cannot create its folder ({e.strerror or e})") from e


async def stopped(conn: aiosqlite.Connection) -> None:
    """Wait for the worker thread of a connection that failed to connect: aiosqlite stops it, but
    only once the event loop runs again, and a loop closed before then leaves a traceback behind."""
    thread = getattr(conn, "_thread", None)
    if thread is not None and thread.is_alive():
        await asyncio.to_thread(thread.join, 5)


def statements(script: str) -> list[str]:
    """Split a migration script into statements (trigger bodies hold semicolons)."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            out.append(joined)
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out


class Database(SqlDatabase):
    """One SQLite file on one long-lived aiosqlite connection: opening, migrating (``migrations``, an
    append-only list set by the subclass) and write transactions. Rows are ``sqlite3.Row``: read by
    column name."""

    migrations: ClassVar[Sequence[str]] = ()
    _conn: aiosqlite.Connection

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Self:
        """Open (creating when missing) and migrate the database. Any failure is a ``DatabaseError``
        naming the file and the cause, and leaves no connection open: aiosqlite's worker thread is
        not a daemon, so one left open keeps a failed process alive for ever."""
        path = Path(path)
        memory = str(path) == ":memory:"
        if not memory:
            await asyncio.to_thread(check_path, path)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per document.
        conn = aiosqlite.connect(str(path), isolation_level=None)
        try:
            await conn
        except sqlite3.Error as e:
            await stopped(conn)
            raise DatabaseError(f"cannot open the database {path}: {error_cause(e)}") from e
        conn.row_factory = sqlite3.Row
        try:
            # Each PRAGMA's cursor is closed at once: an open cursor that still holds a row (journal_mode,
            # busy_timeout return one) keeps its statement "in progress" and the next COMMIT fails.
            # busy_timeout first: the other PRAGMAs may already need a lock another process holds.
            async with conn.execute(f"PRAGMA busy_timeout={max(0, int(busy_timeout_s * 1000))}"):
                pass
            store = cls(conn, path)
            # Before anything writes (journal_mode=WAL rewrites the header): a newer schema is left as it is.
            await store._check_version()
            for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"):
                async with conn.execute(pragma):
                    pass
            await store.migrate()
        except BaseException as e:
            await conn.close()
            if isinstance(e, (sqlite3.Error, DatabaseError)):
                cause = error_cause(e) if isinstance(e, sqlite3.Error) else str(e)
                raise DatabaseError(f"cannot open the database {path}: {cause}") from e
            raise
        return store

    @property
    def connection(self) -> aiosqlite.Connection:
        """The connection itself (the engine's own tests read pragmas through it)."""
        return self._conn

    async def close(self) -> None:
        await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction. A database error (full disk, locked by another process, read-only)
        becomes a ``DatabaseError`` the caller can show; the transaction is rolled back only when
        SQLite has not already done so itself (it does on SQLITE_FULL, and a second ROLLBACK would
        raise "no transaction is active" and hide the real error)."""
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise database_error(e) from e
        try:
            yield self._conn
            await self._conn.execute("COMMIT")
        except BaseException as e:
            await self._rollback()
            if isinstance(e, sqlite3.Error):
                raise database_error(e) from e
            raise

    async def _rollback(self) -> None:
        if not self._conn.in_transaction:
            return
        try:
            await self._conn.execute("ROLLBACK")
        except sqlite3.Error as e:  # the error being raised matters more than this one
            log.warning("rollback failed: %s", e)

    async def _check_version(self) -> int:
        return refuse_newer(await self.schema_version(), len(self.migrations))

    async def migrate(self) -> None:
        version = await self._check_version()
        for number, script in enumerate(self.migrations[version:], start=version + 1):
            log.info("applying migration %d", number)
            async with self.transaction() as conn:
                for statement in statements(script):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {number}")

    async def schema_version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cur:
            return one_row(await cur.fetchone())["user_version"]
