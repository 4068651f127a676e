"""The bot's settings: read once, in ``main()`` (or by a test), never at import time."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from knowledge.config import KnowledgeConfig, seed_paths
from knowledge.errors import SettingsError
from knowledge.timezones import canonical_timezone

__all__ = ["Settings", "SettingsError"]

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_MAX_ID = 2**63 - 1  # Discord ids are 64-bit


@dataclass(frozen=True)
class Settings:
    # repr=False: a settings object may be logged or shown in a traceback, the token never.
    token: str | None = field(default=None, repr=False)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    seeds: tuple[Path, ...] = (Path("seeds"),)
    briefing_channel_id: int | None = None
    briefing_time: dt.time = dt.time(8, 0)
    briefing_tz: str = "UTC"
    briefing_max_words: int = 350
    moderator_role: str | None = None
    dev_guild_id: int | None = None
    rate_limit_per_minute: int = 6
    # None (LOG_LEVEL unset): INFO for the bot, WARNING for the console, where log lines would land
    # among the answers (``bot.__main__.log_level``).
    log_level: str | None = None
    # Sharding (several gateway connections; with PostgreSQL, over several processes): the total
    # number of shards, and those this process runs (all of them when empty).
    shard_count: int | None = None
    shard_ids: tuple[int, ...] = ()
    # How often every followed feed is polled (a failing one waits longer: knowledge.feeds.backoff).
    feed_poll_minutes: int = 30

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.briefing_tz)

    @property
    def briefing_at(self) -> dt.time:
        """The daily briefing time in the briefing time zone (what ``tasks.loop(time=...)`` takes)."""
        return self.briefing_time.replace(tzinfo=self.tz)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        typed_tz = get("BRIEFING_TZ") or "UTC"
        tz = canonical_timezone(typed_tz)  # the same names /setup briefing accepts
        if tz is None:
            raise SettingsError(
                f"BRIEFING_TZ: unknown time zone {typed_tz[:40]!r} (use an IANA name like Europe/Paris)"
            )
        log_level = (get("LOG_LEVEL") or "").upper() or None
        if log_level is not None and log_level not in _LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL: expected one of {', '.join(_LOG_LEVELS)}, got {log_level[:40]!r}")
        return cls(
            token=get("DISCORD_TOKEN"),
            knowledge=KnowledgeConfig.from_env(env),
            seeds=seed_paths(env),
            briefing_channel_id=_int(get("BRIEFING_CHANNEL_ID"), "BRIEFING_CHANNEL_ID"),
            briefing_time=_time(get("BRIEFING_TIME") or "08:00"),
            briefing_tz=tz,
            briefing_max_words=_int(get("BRIEFING_MAX_WORDS"), "BRIEFING_MAX_WORDS", high=5000) or 350,
            moderator_role=get("MODERATOR_ROLE"),
            dev_guild_id=_int(get("DEV_GUILD_ID"), "DEV_GUILD_ID"),
            # Not `or 6`: 0 is a valid setting (no limit), only an unset variable means the default.
            rate_limit_per_minute=_default(
                _int(get("RATE_LIMIT_PER_MINUTE"), "RATE_LIMIT_PER_MINUTE", allow_zero=True, high=10_000), 6
            ),
            log_level=log_level,
            **_shards(get("SHARD_COUNT"), get("SHARD_IDS")),
            feed_poll_minutes=_int(get("FEED_POLL_MINUTES"), "FEED_POLL_MINUTES", high=7 * 24 * 60) or 30,
        )


def _shards(count_value: str | None, ids_value: str | None) -> dict:
    count = _int(count_value, "SHARD_COUNT", high=10_000)
    if ids_value is None:
        return {"shard_count": count, "shard_ids": ()}
    if count is None:
        raise SettingsError("SHARD_IDS needs SHARD_COUNT (the total number of shards across processes)")
    try:
        ids = tuple(int(part) for part in ids_value.split(","))
    except ValueError:
        raise SettingsError(f"SHARD_IDS: expected shard numbers like 0,1, got {ids_value[:40]!r}") from None
    if len(set(ids)) != len(ids) or not all(0 <= i < count for i in ids):
        raise SettingsError(f"SHARD_IDS: expected distinct shard numbers from 0 to {count - 1}, got {ids_value[:40]!r}")
    return {"shard_count": count, "shard_ids": ids}


def _int(value: str | None, name: str, *, allow_zero: bool = False, high: int = _MAX_ID) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError as e:
        raise SettingsError(f"{name}: expected a whole number, got {value[:40]!r}") from e
    if number < 0 or (number == 0 and not allow_zero):
        raise SettingsError(f"{name}: expected a positive number, got {value[:40]!r}")
    if number > high:
        raise SettingsError(f"{name}: expected a number up to {high}, got {value[:40]!r}")
    return number


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _time(value: str) -> dt.time:
    try:
        hour, minute = (int(part) for part in value.split(":"))
        return dt.time(hour, minute)
    except ValueError as e:  # also a wrong number of parts, and hours or minutes out of range
        raise SettingsError(f"BRIEFING_TIME: expected HH:MM (24 h), got {value[:40]!r}") from e
