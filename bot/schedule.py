"""Pure date arithmetic for briefings: which day a scheduled post belongs to, whether a missed one
is due at start, and what ``/brief since:`` means."""

from __future__ import annotations

import datetime as dt
import re

DEFAULT_WINDOW = dt.timedelta(hours=24)
_DURATION = re.compile(r"^\s*(\d+)\s*(h|hours?|d|days?|w|weeks?)\s*$", re.IGNORECASE)
MAX_SINCE = dt.timedelta(days=366)
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def local_day(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The briefing day a moment belongs to: its date in the briefing time zone."""
    return now.astimezone(tz).date()


def scheduled_at(day: dt.date, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, at.replace(tzinfo=None), tzinfo=tz)


def catch_up_due(now: dt.datetime, at: dt.time, tz: dt.tzinfo, *, posted_today: bool) -> bool:
    """True when today's scheduled time has passed and nothing was posted for today (the bot was
    down at that time)."""
    day = local_day(now, tz)
    return not posted_today and now >= scheduled_at(day, at, tz)


def briefing_window_start(now: dt.datetime, last_post: dt.datetime | None) -> dt.datetime:
    """Documents added since the last post; the last 24 hours when there was none (or it is
    older than a week, so a long outage does not produce a giant briefing)."""
    if last_post is None or now - last_post > dt.timedelta(days=7) or last_post > now:
        return now - DEFAULT_WINDOW
    return last_post


def parse_since(text: str | None, now: dt.datetime, tz: dt.tzinfo = dt.timezone.utc) -> dt.datetime:
    """``/brief since:``: empty -> 24 hours ago; ``12h``, ``3d``, ``1w``; or a date ``YYYY-MM-DD``
    (midnight in the briefing time zone). Raises ValueError with a user-readable message."""
    if text is None or not text.strip():
        return now - DEFAULT_WINDOW
    m = _DURATION.match(text)
    if m:
        digits, unit = m.group(1), m.group(2)[0].lower()
        # Compared as whole hours before building a timedelta: 99999999999d overflows one.
        hours = int(digits) * _UNIT_HOURS[unit] if len(digits) <= 12 else None
        if hours is None or hours > MAX_SINCE.days * 24:
            raise ValueError("`since` can go back one year at most")
        return now - dt.timedelta(hours=hours)
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"`since` must look like 12h, 3d, 1w or 2024-05-01, not {text.strip()[:40]!r}") from None
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    if start > now:
        raise ValueError("`since` is in the future")
    return start
