"""The PostgreSQL engine's connection: an adapter that runs the shared SQL (``backends.sql``, written
once in SQL both engines accept, with ``?`` placeholders) through a small psycopg 3 pool, and
``PgDatabase``, the PostgreSQL side of opening, migrating and transactions.

Why an adapter and not a second copy of every query: the shared SQL is the one place where the
schema is read and written; keeping one text of it means a fix or a new query reaches both
engines. Only what the engines do differently is written twice: the schema (``schema``), the
writes of a document (vectors and BM25 postings live in tables here, see ``store``) and search
(``search``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import select
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, ClassVar, LiteralString, Self, cast

import numpy as np
import psycopg
from pgvector.psycopg import register_vector_async

from ...config import redacted
from ...errors import DatabaseError
from ..sql.common import SqlDatabase, refuse_newer

log = logging.getLogger(__name__)

# One number for all processes: the migration lock (pg_advisory_xact_lock) that makes two processes
# starting at once apply each migration once.
_MIGRATION_LOCK = 0x6E657773  # "news"
POOL_SIZE = 8


@lru_cache(maxsize=512)
def translate(sql: str) -> LiteralString:
    """The shared SQL for psycopg: ``?`` placeholders become ``%s`` (a literal ``%``, as in a LIKE
    pattern written into the SQL, is doubled first). The shared SQL holds no ``?`` inside string
    literals; parameters carry every user value."""
    # The shared SQL is built from its own literals and placeholders, never from user values.
    return cast(LiteralString, sql.replace("%", "%%").replace("?", "%s"))


class Row(tuple):
    """A row read by position and by column name, as ``sqlite3.Row`` is: the shared SQL reads
    both engines' rows the same way (``row["title"]``, ``tuple(row)``)."""

    _names: dict[str, int]

    def __new__(cls, values: Iterable[Any], names: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any):
    names: dict[str, int] = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


class Pool:
    """A few long-lived connections, opened as needed and reused.

    Why not ``psycopg_pool``: its scheduler and worker tasks run for the pool's whole life, and
    tasks the bot never awaits are what the offline Discord harness (and a clean shutdown) must
    account for. Here nothing runs between statements: a connection is borrowed, used and put
    back; one found broken is dropped and the next borrower opens a fresh one."""

    def __init__(self, url: str, *, size: int, timeout_s: float, options: str) -> None:
        self.url = url
        self.shown = redacted(url)  # for messages: never the password
        self.timeout_s = timeout_s
        self._options = options
        self._idle: list[psycopg.AsyncConnection] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    async def _connect(self) -> psycopg.AsyncConnection:
        conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=max(1, int(self.timeout_s)), options=self._options
        )
        try:
            await _configure(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        if self._closed:
            raise DatabaseError("the database is closed")
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout_s)
        except TimeoutError:
            raise DatabaseError("the PostgreSQL server did not answer in time (all connections busy)") from None
        conn = None
        try:
            while self._idle and conn is None:
                candidate = self._idle.pop()
                if candidate.closed or candidate.broken or _said_goodbye(candidate):
                    await candidate.close()
                else:
                    conn = candidate
            if conn is None:
                conn = await self._connect()
            yield conn
        finally:
            self._slots.release()
            if conn is not None:
                await self._put_back(conn)

    async def _put_back(self, conn: psycopg.AsyncConnection) -> None:
        healthy = not (conn.closed or conn.broken) and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if healthy and not self._closed:
            self._idle.append(conn)
        else:
            await conn.close()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


def _said_goodbye(conn: psycopg.AsyncConnection) -> bool:
    """Whether the server has written to an idle connection: it only does so to end it (a restart, a
    crash, an administrator's ``pg_terminate_backend``), then closes its end. psycopg learns of it
    only when a statement fails, so without this look every connection pooled before a restart
    would fail one question after the server is back. Costs no round trip: a poll of the socket."""
    try:
        poller = select.poll()
    except AttributeError:  # no poll() (Windows): the failed statement tells instead
        return False
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


class Result:
    """A statement's rows, read already: what ``aiosqlite``'s cursor offers the shared SQL."""

    lastrowid = None

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount

    async def fetchone(self) -> Row | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    async def fetchall(self) -> list[Row]:
        rows, self._at = self._rows[self._at :], len(self._rows)
        return rows

    def __aiter__(self) -> AsyncIterator[Row]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Row]:
        while (row := await self.fetchone()) is not None:
            yield row

    async def __aenter__(self) -> Result:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Pending:
    """``conn.execute(...)`` both awaited and used as ``async with``, as aiosqlite allows."""

    def __init__(self, run) -> None:
        self._run = run

    def __await__(self):
        return self._run().__await__()

    async def __aenter__(self) -> Result:
        return await self._run()

    async def __aexit__(self, *exc: object) -> None:
        return None


class Connection:
    """The store's ``_conn`` over PostgreSQL. Outside a transaction each statement borrows a pooled
    connection (autocommit), so concurrent readers never queue behind one another; inside
    ``PgDatabase.transaction`` it is bound to that transaction's connection."""

    def __init__(self, pool: Pool, conn: psycopg.AsyncConnection | None = None) -> None:
        self.pool = pool
        self.conn = conn

    @property
    def in_transaction(self) -> bool:
        return self.conn is not None

    def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None) -> _Pending:
        """``prepare=False``: planned each time with its values (psycopg otherwise prepares a
        statement run five times, and PostgreSQL may then plan it once for any values)."""
        return _Pending(lambda: self._execute(sql, params, prepare))

    async def _execute(self, sql: str, params: Sequence[Any], prepare: bool | None = None) -> Result:
        async with self._borrow() as conn:
            try:
                cur = conn.cursor(row_factory=_row_factory)
                await cur.execute(translate(sql), list(params), prepare=prepare)
                rows = await cur.fetchall() if cur.description else []
                return Result(rows, cur.rowcount)
            except psycopg.Error as e:
                raise database_error(e, self.pool.shown) from e

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self._borrow() as conn:
            try:
                async with conn.cursor() as cur:
                    await cur.executemany(translate(sql), [list(r) for r in rows])
            except psycopg.Error as e:
                raise database_error(e, self.pool.shown) from e

    @asynccontextmanager
    async def _borrow(self) -> AsyncIterator[psycopg.AsyncConnection]:
        if self.conn is not None:
            yield self.conn
            return
        try:
            async with self.pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as e:  # connecting failed: the server is down or unreachable
            raise database_error(e, self.pool.shown) from e

    async def close(self) -> None:
        await self.pool.close()


# What PostgreSQL's error classes mean to whoever runs newsdesk; anything else (a constraint, a bug
# in a statement) stays as it is.
_CAUSES: dict[type[psycopg.Error], str] = {
    psycopg.errors.DiskFull: "the database server's disk is full",
    psycopg.errors.InsufficientPrivilege: "the database user lacks a permission it needs",
    psycopg.errors.ReadOnlySqlTransaction: "the database is read-only (a standby server?)",
    psycopg.errors.LockNotAvailable: "the database is busy: another process holds a lock; try again in a moment",
    psycopg.errors.QueryCanceled: "the database took too long and the statement was cancelled",
}


def one_line(e: BaseException, limit: int = 300) -> str:
    """libpq's messages run over several lines (a hint after the cause): one line for the user."""
    return " ".join(str(e).split())[:limit]


def database_error(e: psycopg.Error, where: str) -> Exception:
    """What the server's error ``e`` means to whoever runs newsdesk, naming the database ``where``
    (a URL without its password: with several databases, or a server that went away, which one
    matters); ``e`` itself when it is not about the database's state."""
    for kind, cause in _CAUSES.items():
        if isinstance(e, kind):
            return DatabaseError(f"{cause} ({where})")
    if isinstance(e, psycopg.OperationalError):
        return DatabaseError(f"the database {where} cannot be reached or failed: {one_line(e, 200)}")
    return e


def as_array(value: Any) -> np.ndarray:
    """A pgvector value read back (pgvector's ``Vector``, or an array) as float32."""
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    return np.asarray(value, dtype=np.float32)


async def _configure(conn: psycopg.AsyncConnection) -> None:
    await register_vector_async(conn)
    # Candidates per query are 100 (retrieval.CANDIDATES): the HNSW search list must be longer than
    # that, and filtered searches (one server's documents, a date range) keep scanning until they
    # have enough rows instead of returning fewer (pgvector 0.8's iterative scans).
    await conn.execute("SET hnsw.ef_search = 200")
    await conn.execute("SET hnsw.iterative_scan = relaxed_order")
    # Search statements run in milliseconds: compiling them (JIT, enabled by default above a cost
    # that BM25 over a million passages reaches) would cost more than it saves.
    await conn.execute("SET jit = off")


class PgDatabase(SqlDatabase):
    """Opening, migrating and transactions over PostgreSQL."""

    migrations: ClassVar[Sequence[str]] = ()
    _conn: Connection

    def __init__(self, conn: Connection, path: str) -> None:
        self._conn = conn
        self.path = path  # the URL without its password, for messages

    @property
    def connection(self) -> Connection:
        """The pooled connection for reads outside a transaction (search)."""
        return self._conn

    @classmethod
    async def open(cls, url: str, *, busy_timeout_s: float = 30.0) -> Self:
        shown = redacted(url)
        try:
            # The extension first, on a plain connection: the pool's connections register the vector
            # type as they open, which needs the type to exist.
            async with await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10) as conn:
                await conn.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
                try:
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                finally:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])
        except psycopg.Error as e:
            raise DatabaseError(f"cannot open the database {shown}: {one_line(e)}") from e
        timeout_ms = max(1, int(busy_timeout_s * 1000))
        # lock_timeout: a write waiting on another process's lock fails clearly, as SQLite's busy
        # timeout does.
        pool = Pool(url, size=POOL_SIZE, timeout_s=max(10.0, busy_timeout_s), options=f"-c lock_timeout={timeout_ms}")
        try:
            store = cls(Connection(pool), shown)
            await store.migrate()
        except BaseException as e:
            await pool.close()
            if isinstance(e, DatabaseError) and shown in str(e):
                raise  # names the database already
            if isinstance(e, (psycopg.Error, DatabaseError)):
                raise DatabaseError(f"cannot open the database {shown}: {one_line(e)}") from e
            raise
        return store

    async def close(self) -> None:
        await self._conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        try:
            async with self._conn._borrow() as conn:
                async with conn.transaction():
                    yield Connection(self._conn.pool, conn)
        except psycopg.Error as e:
            raise database_error(e, self.path) from e

    async def schema_version(self) -> int:
        async with self._conn.execute(
            "SELECT COALESCE(MAX(version), 0) AS v FROM newsdesk_schema"
            if await self._has_schema_table()
            else "SELECT 0 AS v"
        ) as cur:
            row = await cur.fetchone()
        return int(row["v"]) if row else 0

    async def _has_schema_table(self) -> bool:
        async with self._conn.execute("SELECT to_regclass('newsdesk_schema') IS NOT NULL AS present") as cur:
            row = await cur.fetchone()
        return bool(row and row["present"])

    async def migrate(self) -> None:
        # Under a lock held for the transaction: two processes starting together apply each
        # migration once, and the second sees the first's version.
        async with self.transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            await conn.execute("CREATE TABLE IF NOT EXISTS newsdesk_schema (version INTEGER PRIMARY KEY)")
            version = await self._check_version_in(conn)
            for number, script in enumerate(self.migrations[version:], start=version + 1):
                log.info("applying PostgreSQL migration %d", number)
                for statement in _statements(script):
                    await conn.execute(statement)
                await conn.execute("INSERT INTO newsdesk_schema (version) VALUES (?)", (number,))

    async def _check_version_in(self, conn: Connection) -> int:
        async with conn.execute("SELECT COALESCE(MAX(version), 0) AS v FROM newsdesk_schema") as cur:
            row = await cur.fetchone()
        return refuse_newer(int(row["v"]) if row else 0, len(self.migrations))


_STATEMENT_END = re.compile(r";\s*(?:\n|$)")


def _statements(script: str) -> list[str]:
    """A migration script's statements (the PostgreSQL scripts hold no semicolons inside bodies)."""
    return [s.strip() for s in _STATEMENT_END.split(script) if s.strip() and not _only_comments(s)]


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())
