"""Pure date arithmetic for briefings: which day a scheduled post belongs to, whether a missed one
is due at start. What ``/brief since:`` means is ``knowledge.dates.parse_since``, shared with the
console and ``newsdesk brief``."""

from __future__ import annotations

import datetime as dt

DEFAULT_WINDOW = dt.timedelta(hours=24)


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


def next_post(now: dt.datetime, at: dt.time, tz: dt.tzinfo) -> dt.datetime:
    """The next scheduled moment (strictly after ``now``), in UTC."""
    day = local_day(now, tz)
    when = scheduled_at(day, at, tz)
    if when <= now:
        when = scheduled_at(day + dt.timedelta(days=1), at, tz)
    return when.astimezone(dt.UTC)


def briefing_window_start(now: dt.datetime, last_post: dt.datetime | None) -> dt.datetime:
    """Documents added since the last post; the last 24 hours when there was none (or it is
    older than a week, so a long outage does not produce a giant briefing)."""
    if last_post is None or now - last_post > dt.timedelta(days=7) or last_post > now:
        return now - DEFAULT_WINDOW
    return last_post
