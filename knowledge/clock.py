"""UTC time as newsdesk stores and compares it: ISO 8601 text with microseconds, read back as aware
datetimes. Both engines store timestamps as this text, so one ordering holds everywhere."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(ts: dt.datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_ts(value: str) -> dt.datetime:
    ts = dt.datetime.fromisoformat(value)
    return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
