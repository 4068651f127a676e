"""/brief on demand and the daily briefing on simcord's virtual clock (which starts at
2026-01-01 00:00 UTC): posting at BRIEFING_TIME, no double post after a restart, catch-up after
downtime, and retries after a failure without killing the loop."""

import datetime as dt

import pytest
import simcord
from bot_helpers import acknowledged_by_defer, briefings_in, reply_of, with_settings

from bot.app import create_bot
from bot.tree import BadInput

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOUR = 3600


async def start_with_briefings(world, settings, **changes):
    """Restart the bot configured to post in the world's channel (its id is known only now)."""
    configured = with_settings(settings, briefing_channel_id=world.channel.id, **changes)
    await world.env.restart_bot(create_bot(configured, embedder=world.kb.embedder))
    return configured


async def test_brief_on_demand(world):
    result = await world.user.slash(world.channel, "brief")
    assert acknowledged_by_defer(world.env)
    embed = reply_of(result).embeds[0]
    assert embed.title.startswith("Briefing")
    assert any("Kazakhstan" in f.name for f in embed.fields)
    [row] = await world.rows("brief")
    assert row.outcome == "posted" and row.input == "24h" and row.passage_ids
    assert len(row.scores) == len(row.passage_ids)  # the cited passages' scores, as /ask logs them


async def test_brief_since_90_minutes_reads_what_the_cli_reads(world):
    # /brief once had its own parser, which refused "90m" that `newsdesk brief --since` took.
    result = await world.user.slash(world.channel, "brief", since="90m")
    assert reply_of(result).embeds[0].title.startswith("Briefing")
    [row] = await world.rows("brief")
    assert row.input == "90m" and row.outcome == "posted"


async def test_brief_with_a_bad_since_is_a_clear_error(world):
    result = await world.user.slash(world.channel, "brief", since="last tuesday")
    simcord.assert_error(world.env, BadInput)
    assert result.ephemeral and "12h, 3d, 1w" in result.response.content


async def test_daily_briefing_posts_at_the_configured_time_every_day(world, settings):
    await start_with_briefings(world, settings, briefing_time=dt.time(8, 0))
    bot_id = world.bot.user.id
    await world.env.advance_time(7 * HOUR)
    assert briefings_in(world.channel, bot_id) == []
    await world.env.advance_time(1 * HOUR + 60)
    assert len(briefings_in(world.channel, bot_id)) == 1
    assert await world.kb.store.briefing_posted(world.channel.id, dt.date(2026, 1, 1))
    await world.env.advance_time(24 * HOUR)
    assert len(briefings_in(world.channel, bot_id)) == 2
    assert await world.kb.store.briefing_posted(world.channel.id, dt.date(2026, 1, 2))
    rows = await world.rows("brief")
    assert [r.input for r in rows] == ["scheduled 2026-01-01", "scheduled 2026-01-02"]
    assert all(r.channel_id == world.channel.id for r in rows)


async def test_restart_after_the_post_does_not_post_twice(world, settings):
    configured = await start_with_briefings(world, settings, briefing_time=dt.time(8, 0))
    await world.env.advance_time(8 * HOUR + 60)
    assert len(briefings_in(world.channel, world.bot.user.id)) == 1
    await world.env.restart_bot(create_bot(configured, embedder=world.kb.embedder))
    await world.env.advance_time(HOUR)
    assert len(briefings_in(world.channel, world.bot.user.id)) == 1


async def test_missed_briefing_is_posted_once_at_start(world, settings):
    # 00:00 UTC is 09:00 in Tokyo: today's 08:00 briefing was missed while the bot was down.
    configured = await start_with_briefings(world, settings, briefing_time=dt.time(8, 0), briefing_tz="Asia/Tokyo")
    assert len(briefings_in(world.channel, world.bot.user.id)) == 1
    assert await world.kb.store.briefing_posted(world.channel.id, dt.date(2026, 1, 1))
    await world.env.restart_bot(create_bot(configured, embedder=world.kb.embedder))
    assert len(briefings_in(world.channel, world.bot.user.id)) == 1
    # and the schedule goes on: next post at 08:00 Tokyo = 23:00 UTC
    await world.env.advance_time(23 * HOUR + 60)
    assert len(briefings_in(world.channel, world.bot.user.id)) == 2


async def test_no_catch_up_before_the_scheduled_time(world, settings):
    await start_with_briefings(world, settings, briefing_time=dt.time(10, 0), briefing_tz="Asia/Tokyo")
    assert briefings_in(world.channel, world.bot.user.id) == []


async def test_a_failed_post_is_retried_and_the_loop_survives(world, settings, caplog):
    await start_with_briefings(world, settings, briefing_time=dt.time(8, 0))
    world.env.inject_error("POST", f"/channels/{world.channel.id}/messages", status=500)
    await world.env.advance_time(8 * HOUR + 5)
    assert briefings_in(world.channel, world.bot.user.id) == []
    assert "retrying" in caplog.text
    await world.env.advance_time(60)  # the first retry comes 30 s later
    assert len(briefings_in(world.channel, world.bot.user.id)) == 1
    await world.env.advance_time(24 * HOUR)
    assert len(briefings_in(world.channel, world.bot.user.id)) == 2


async def test_no_briefing_channel_means_no_loop(world):
    cog = world.bot.get_cog("Briefings")
    assert not cog.daily.is_running()
    await world.env.advance_time(24 * HOUR)
    assert briefings_in(world.channel, world.bot.user.id) == []
