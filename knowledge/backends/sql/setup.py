"""The SQL of what servers set up from Discord, shared by both engines: per-server briefing and
moderator role, ask channels, news feeds and the feed entries already seen.

Portable between SQLite and PostgreSQL: ``?`` placeholders, ``ON CONFLICT``, ``RETURNING``,
``COALESCE``, TRUE/FALSE, timestamps as ISO text."""

from __future__ import annotations

import datetime as dt

from ...clock import iso, parse_ts, utcnow
from ...models import Feed, GuildSettings
from ...scope import GLOBAL_SCOPE, Scope, scope_of
from .common import Row, SqlDatabase, storable, valid_id

_SETTINGS_COLUMNS = "guild_id, briefing_channel_id, briefing_time, briefing_tz, briefing_enabled, moderator_role_id"
_FEED_COLUMNS = (
    "id, guild_id, url, title, added_at, etag, last_modified, last_success_at, last_error, last_error_at,"
    " failures, next_poll_at"
)


def _ts(value: str | None) -> dt.datetime | None:
    return parse_ts(value) if value else None


def _settings(row: Row) -> GuildSettings:
    at = row["briefing_time"]
    return GuildSettings(
        guild_id=row["guild_id"],
        briefing_channel_id=row["briefing_channel_id"],
        briefing_time=dt.time.fromisoformat(at) if at else None,
        briefing_tz=row["briefing_tz"],
        briefing_enabled=bool(row["briefing_enabled"]),
        moderator_role_id=row["moderator_role_id"],
    )


def _feed(row: Row) -> Feed:
    return Feed(
        id=row["id"],
        guild_id=row["guild_id"],
        url=row["url"],
        title=row["title"],
        added_at=parse_ts(row["added_at"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_success_at=_ts(row["last_success_at"]),
        last_error=row["last_error"],
        last_error_at=_ts(row["last_error_at"]),
        failures=row["failures"],
        next_poll_at=_ts(row["next_poll_at"]),
    )


def _feed_scope(scope: Scope) -> tuple[str, list]:
    """Feeds a place manages: None every feed (CLI), GLOBAL_SCOPE the global ones, a guild its own."""
    if scope is None:
        return "TRUE", []
    if scope == GLOBAL_SCOPE:
        return "guild_id IS NULL", []
    return "guild_id = ?", [scope]


class SetupSQL(SqlDatabase):
    # ----------------------------------------------------------------- server settings

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        async with self._conn.execute(
            f"SELECT {_SETTINGS_COLUMNS} FROM guild_settings WHERE guild_id = ?", (guild_id,)
        ) as cur:
            row = await cur.fetchone()
        return _settings(row) if row else GuildSettings(guild_id)

    async def set_guild_briefing(self, guild_id: int, *, channel_id: int, at: dt.time, tz: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, briefing_channel_id, briefing_time, briefing_tz,"
                " briefing_enabled, updated_at) VALUES (?, ?, ?, ?, TRUE, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET briefing_channel_id = excluded.briefing_channel_id,"
                " briefing_time = excluded.briefing_time, briefing_tz = excluded.briefing_tz,"
                " briefing_enabled = TRUE, updated_at = excluded.updated_at",
                (guild_id, channel_id, at.strftime("%H:%M"), tz, iso(utcnow())),
            )

    async def disable_guild_briefing(self, guild_id: int) -> bool:
        """Turn the server's briefing off; False when it had none on."""
        async with self.transaction() as conn:
            cur = await conn.execute(
                "UPDATE guild_settings SET briefing_enabled = FALSE, updated_at = ?"
                " WHERE guild_id = ? AND briefing_enabled = TRUE",
                (iso(utcnow()), guild_id),
            )
            return cur.rowcount > 0

    async def set_guild_moderator_role(self, guild_id: int, role_id: int | None) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO guild_settings (guild_id, moderator_role_id, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (guild_id) DO UPDATE SET moderator_role_id = excluded.moderator_role_id,"
                " updated_at = excluded.updated_at",
                (guild_id, role_id, iso(utcnow())),
            )

    async def guild_briefings(self) -> list[GuildSettings]:
        """Every server whose own briefing is on."""
        async with self._conn.execute(
            f"SELECT {_SETTINGS_COLUMNS} FROM guild_settings WHERE briefing_enabled = TRUE ORDER BY guild_id"
        ) as cur:
            return [_settings(r) for r in await cur.fetchall()]

    # ----------------------------------------------------------------- ask channels

    async def toggle_ask_channel(self, guild_id: int, channel_id: int) -> bool:
        """Make ``channel_id`` an ask channel, or stop it being one; True when it now is."""
        async with self.transaction() as conn:
            cur = await conn.execute("DELETE FROM ask_channels WHERE channel_id = ?", (channel_id,))
            if cur.rowcount > 0:
                return False
            await conn.execute(
                "INSERT INTO ask_channels (channel_id, guild_id, added_at) VALUES (?, ?, ?)",
                (channel_id, guild_id, iso(utcnow())),
            )
            return True

    async def ask_channels(self, guild_id: int | None = None) -> list[int]:
        where, args = ("guild_id = ?", [guild_id]) if guild_id is not None else ("TRUE", [])
        async with self._conn.execute(
            f"SELECT channel_id FROM ask_channels WHERE {where} ORDER BY added_at, channel_id", args
        ) as cur:
            return [r["channel_id"] for r in await cur.fetchall()]

    # ----------------------------------------------------------------- feeds

    async def insert_feed(self, *, guild_id: int | None, url: str, title: str) -> Feed | None:
        """A new feed; None when this scope already follows ``url``."""
        async with self.transaction() as conn:
            async with conn.execute(
                "INSERT INTO feeds (guild_id, url, title, added_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING RETURNING id",
                (guild_id, storable(url), storable(title), iso(utcnow())),
            ) as cur:
                row = await cur.fetchone()
        return await self.feed(row["id"]) if row else None

    async def feed(self, feed_id: int) -> Feed | None:
        if not valid_id(feed_id):
            return None
        async with self._conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,)) as cur:
            row = await cur.fetchone()
        return _feed(row) if row else None

    async def feed_by_url(self, url: str, guild_id: int | None) -> Feed | None:
        async with self._conn.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE url = ? AND COALESCE(guild_id, 0) = ?",
            (storable(url), scope_of(guild_id)),
        ) as cur:
            row = await cur.fetchone()
        return _feed(row) if row else None

    async def delete_feed(self, feed_id: int) -> bool:
        if not valid_id(feed_id):
            return False
        async with self.transaction() as conn:
            cur = await conn.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
            return cur.rowcount > 0

    async def list_feeds(self, *, scope: Scope = None) -> list[Feed]:
        where, args = _feed_scope(scope)
        async with self._conn.execute(f"SELECT {_FEED_COLUMNS} FROM feeds WHERE {where} ORDER BY id", args) as cur:
            return [_feed(r) for r in await cur.fetchall()]

    async def feeds_due(self, now: dt.datetime) -> list[Feed]:
        async with self._conn.execute(
            f"SELECT {_FEED_COLUMNS} FROM feeds WHERE next_poll_at IS NULL OR next_poll_at <= ? ORDER BY id",
            (iso(now),),
        ) as cur:
            return [_feed(r) for r in await cur.fetchall()]

    async def record_feed_success(
        self,
        feed_id: int,
        *,
        at: dt.datetime,
        next_poll_at: dt.datetime,
        etag: str | None,
        last_modified: str | None,
    ) -> None:
        """A poll that worked (a 304 included): validators kept for the next conditional GET."""
        async with self.transaction() as conn:
            await conn.execute(
                "UPDATE feeds SET last_success_at = ?, failures = 0, next_poll_at = ?,"
                " etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) WHERE id = ?",
                (iso(at), iso(next_poll_at), storable(etag), storable(last_modified), feed_id),
            )

    async def record_feed_failure(self, feed_id: int, *, at: dt.datetime, error: str, next_poll_at: dt.datetime) -> int:
        """Count one more failure in a row; returns how many there are now."""
        async with self.transaction() as conn:
            async with conn.execute(
                "UPDATE feeds SET last_error = ?, last_error_at = ?, failures = failures + 1, next_poll_at = ?"
                " WHERE id = ? RETURNING failures",
                (storable(error[:500]), iso(at), iso(next_poll_at), feed_id),
            ) as cur:
                row = await cur.fetchone()
        return row["failures"] if row else 0

    async def feed_entry_seen(self, feed: Feed, *, entry_key: str, content_hash: str) -> bool:
        """Whether this feed had the entry (by GUID or link), or any feed of the same scope had the
        same content (a story re-posted under a new GUID, or carried by two feeds)."""
        async with self._conn.execute(
            "SELECT 1 FROM feed_entries e JOIN feeds f ON f.id = e.feed_id"
            " WHERE (e.feed_id = ? AND e.entry_key = ?) OR (e.content_hash = ? AND COALESCE(f.guild_id, 0) = ?)"
            " LIMIT 1",
            (feed.id, storable(entry_key), content_hash, scope_of(feed.guild_id)),
        ) as cur:
            return await cur.fetchone() is not None

    async def record_feed_entry(
        self, feed_id: int, *, entry_key: str, content_hash: str, document_id: int | None, at: dt.datetime
    ) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                "INSERT INTO feed_entries (feed_id, entry_key, content_hash, document_id, seen_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (feed_id, storable(entry_key), content_hash, document_id, iso(at)),
            )
