import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import schedule
from bot.settings import Settings, SettingsError
from knowledge import dates

UTC = dt.UTC


def test_settings_defaults():
    s = Settings.from_env({})
    assert s.token is None
    assert s.seeds == (Path("seeds"),)
    assert s.briefing_time == dt.time(8, 0) and s.briefing_tz == "UTC"
    assert s.briefing_channel_id is None and s.dev_guild_id is None
    assert s.rate_limit_per_minute == 6


def test_settings_read_every_variable():
    s = Settings.from_env(
        {
            "DISCORD_TOKEN": "secret-token",
            "NEWSDESK_DB": "/tmp/x.db",
            "NEWSDESK_SEEDS": "a:b",
            "BRIEFING_CHANNEL_ID": "123",
            "BRIEFING_TIME": "07:30",
            "BRIEFING_TZ": "Europe/Paris",
            "MODERATOR_ROLE": "Editors",
            "DEV_GUILD_ID": "456",
            "NEWSDESK_MAX_FILE_MB": "2",
            "RATE_LIMIT_PER_MINUTE": "0",
            "LOG_LEVEL": "debug",
        }
    )
    assert s.token == "secret-token"
    assert Path(s.knowledge.db) == Path("/tmp/x.db") and s.knowledge.max_file_bytes == 2 * 1024 * 1024
    assert s.seeds == (Path("a"), Path("b"))
    assert s.briefing_channel_id == 123 and s.dev_guild_id == 456 and s.moderator_role == "Editors"
    assert s.briefing_at == dt.time(7, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert s.rate_limit_per_minute == 0 and s.log_level == "DEBUG"


def test_token_never_in_repr():
    assert "secret-token" not in repr(Settings.from_env({"DISCORD_TOKEN": "secret-token"}))


@pytest.mark.parametrize(
    "env",
    [
        {"BRIEFING_TIME": "8am"},
        {"BRIEFING_TZ": "Mars/Olympus"},
        {"BRIEFING_TZ": "posixrules"},
        {"BRIEFING_TZ": "right/UTC"},
        {"BRIEFING_TZ": "localtime"},
        {"BRIEFING_TZ": "Factory"},
        {"BRIEFING_CHANNEL_ID": "abc"},
        {"BRIEFING_TIME": "25:00"},
    ],
)
def test_bad_settings_name_the_variable(env):
    with pytest.raises(SettingsError) as e:
        Settings.from_env(env)
    assert next(iter(env)) in str(e.value)


def test_catch_up_due_only_after_todays_time_and_when_not_posted():
    tz = ZoneInfo("Asia/Tokyo")  # UTC+9
    at = dt.time(8, 0)
    before = dt.datetime(2026, 1, 1, 22, 0, tzinfo=UTC)  # 07:00 on Jan 2 in Tokyo
    after = dt.datetime(2026, 1, 1, 23, 30, tzinfo=UTC)  # 08:30 on Jan 2 in Tokyo
    assert schedule.local_day(after, tz) == dt.date(2026, 1, 2)
    assert not schedule.catch_up_due(before, at, tz, posted_today=False)
    assert schedule.catch_up_due(after, at, tz, posted_today=False)
    assert not schedule.catch_up_due(after, at, tz, posted_today=True)


def test_briefing_window_starts_at_the_last_post_or_24h_ago():
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert schedule.briefing_window_start(now, None) == now - dt.timedelta(hours=24)
    last = now - dt.timedelta(hours=30)
    assert schedule.briefing_window_start(now, last) == last
    assert schedule.briefing_window_start(now, now - dt.timedelta(days=30)) == now - dt.timedelta(hours=24)


def test_parse_since():
    """What /brief since: reads: knowledge.dates.parse_since, as the bot calls it."""
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert dates.parse_since(None, now) == now - dt.timedelta(hours=24)
    assert dates.parse_since("12h", now) == now - dt.timedelta(hours=12)
    assert dates.parse_since("3 days", now) == now - dt.timedelta(days=3)
    assert dates.parse_since("1w", now) == now - dt.timedelta(weeks=1)
    assert dates.parse_since("90m", now) == now - dt.timedelta(minutes=90)  # /brief refused it once
    assert dates.parse_since("2026-03-01", now) == dt.datetime(2026, 3, 1, tzinfo=UTC)
    for bad in ("yesterday", "2027-01-01", "900d"):
        with pytest.raises(ValueError):
            dates.parse_since(bad, now)


def test_briefing_tz_is_stored_as_the_tz_database_spells_it():
    assert Settings.from_env({"BRIEFING_TZ": "europe/paris"}).briefing_tz == "Europe/Paris"
    assert Settings.from_env({}).briefing_tz == "UTC"
