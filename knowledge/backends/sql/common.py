"""What the SQL both engines share rests on: a connection that runs it, the base class its table
groups extend, and the small rules every statement follows (ids a 64-bit integer can hold, text
either engine can store, a scope and a date window as SQL).

The SQL is written once, in SQL SQLite and PostgreSQL both accept, with ``?`` placeholders (the
PostgreSQL adapter translates them), ``ON CONFLICT``, ``RETURNING``, ``COALESCE`` and TRUE/FALSE;
rows are read by column name. An engine supplies ``SqlDatabase``'s hooks (opening, transactions,
migrations) and the statements that differ (a document's writes, search); txtai's
``database/rdbms.py`` is built the same way.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Generator, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Protocol

from ...errors import DatabaseError
from ...scope import GLOBAL_SCOPE

# SQLite INTEGER range (PostgreSQL's BIGINT is the same): a larger id (a typo of 20 digits) matches
# no row, and binding it raises OverflowError.
MAX_ID = 2**63 - 1


class Row(Protocol):
    """A row read by column name or position: ``sqlite3.Row``, or the PostgreSQL adapter's ``Row``."""

    def __getitem__(self, key: Any, /) -> Any: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> Any: ...

    async def fetchall(self) -> Iterable[Any]: ...


class Statement(Protocol):
    """``conn.execute(...)``: awaited for its cursor, or used as ``async with ... as cursor``."""

    def __await__(self) -> Generator[Any, None, Any]: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any, /) -> Any: ...


class Connection(Protocol):
    """What the shared SQL calls: aiosqlite's connection, or the PostgreSQL adapter."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Statement: ...

    def executemany(self, sql: str, parameters: Any, /) -> Awaitable[Any]: ...


class SqlDatabase(ABC):
    """The base of every table group's SQL (documents, the log, server setup): reads go through
    ``_conn``, writes through ``transaction()``. An engine's database class implements the rest."""

    migrations: ClassVar[Any] = ()
    _conn: Connection  # aiosqlite's, or the PostgreSQL adapter

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Any]:
        """One write transaction; the connection it yields runs the transaction's statements."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def schema_version(self) -> int: ...


def storable(text: str | None) -> str | None:
    """Text either engine can store: a lone surrogate (undecodable bytes in a file name or a
    question, kept by Python's surrogateescape) would raise UnicodeEncodeError; it becomes "?"."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def valid_id(row_id: int) -> bool:
    """Whether an id can name a row at all: ids are 64-bit integers."""
    return 0 < row_id <= MAX_ID


def refuse_newer(version: int, known: int) -> int:
    """``version`` when this code knows it. A newer schema is refused, not used: this code would
    write rows it does not expect. Both engines' stores check with this."""
    if version > known:
        raise DatabaseError(
            f"its schema version is {version}, newer than this newsdesk knows ({known}); "
            "upgrade newsdesk or use another database"
        )
    return version


def one_row(row: Any) -> Any:
    """The row of a query that always returns one (``COUNT(*)``, a pragma)."""
    if row is None:
        raise DatabaseError("the database returned no row where one is always expected")
    return row


def scope_clause(scope: int | None, column: str = "d.guild_id") -> tuple[str, list]:
    """SQL for a scope: None = every document (CLI, admin), 0 = global documents only,
    a guild id = global documents plus that guild's own."""
    if scope is None:
        return "TRUE", []
    if scope == GLOBAL_SCOPE:
        return f"{column} IS NULL", []
    return f"({column} IS NULL OR {column} = ?)", [scope]


def date_clause(date_from: dt.date | None, date_to: dt.date | None, column: str = "d.published") -> tuple[str, list]:
    parts, args = [], []
    if date_from is not None:
        parts.append(f"{column} >= ?")
        args.append(date_from.isoformat())
    if date_to is not None:
        parts.append(f"{column} <= ?")
        args.append(date_to.isoformat())
    return (" AND ".join(parts) or "TRUE"), args
