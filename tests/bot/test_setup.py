"""/setup on simcord's virtual clock (2026-01-01 00:00 UTC at start): each subcommand with each
permission path, every bad value refused with nothing saved, and per-server daily briefings (two
servers at different times, each its own documents, restart-safe, a missed post caught up once)."""

import datetime as dt

import discord
import pytest
import simcord
from bot_helpers import OTHER_GUILD, briefings_in, reply_of

from bot.app import create_bot
from bot.checks import NotManager, NotModerator
from bot.tree import BadInput
from knowledge.errors import InvalidInput

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOUR = 3600


def briefing_text(message) -> str:
    return " ".join(f"{f.name} {f.value}" for e in message.embeds for f in e.fields) + (
        message.embeds[0].description or ""
    )


@pytest.mark.parametrize("who", ["user", "mod"])
async def test_setup_is_refused_without_manage_server(world, who):
    member = getattr(world, who)
    for name, options in [
        ("setup briefing", {"channel": world.channel, "time": "08:00", "timezone": "UTC"}),
        ("setup briefing-off", {}),
        ("setup ask-channel", {"channel": world.channel}),
        ("setup moderator-role", {"role": world.guild.default_role}),
        ("setup show", {}),
    ]:
        result = await member.slash(world.channel, name, **options)
        simcord.assert_error(world.env, NotManager)
        assert result.ephemeral and "Manage Server" in result.response.content
    assert not (await world.kb.guild_settings(world.guild.id)).briefing_configured
    assert await world.kb.ask_channels() == []
    assert len(await world.rows("denied")) == 5


async def test_setup_briefing_saves_and_show_shows_it(world):
    result = await world.manager.slash(
        world.channel, "setup briefing", channel=world.channel, time="07:30", timezone="Europe/Paris"
    )
    assert result.ephemeral and "07:30 (Europe/Paris)" in result.response.content
    saved = await world.kb.guild_settings(world.guild.id)
    assert saved.briefing_channel_id == world.channel.id and saved.briefing_time == dt.time(7, 30)
    shown = await world.manager.slash(world.channel, "setup show")
    assert shown.ephemeral and f"<#{world.channel.id}> at 07:30 (Europe/Paris)" in shown.response.content
    off = await world.manager.slash(world.channel, "setup briefing-off")
    assert off.ephemeral and "off" in off.response.content
    assert await world.kb.guild_briefings() == []
    shown = await world.manager.slash(world.channel, "setup show")
    assert "**Daily briefing:** off" in shown.response.content


@pytest.mark.parametrize(
    ("time", "timezone", "expected"),
    [("25:00", "UTC", "HH:MM"), ("8h", "UTC", "HH:MM"), ("08:00", "Mars/Olympus", "unknown time zone")],
)
async def test_a_bad_time_or_timezone_is_refused_and_nothing_saved(world, time, timezone, expected):
    result = await world.manager.slash(
        world.channel, "setup briefing", channel=world.channel, time=time, timezone=timezone
    )
    simcord.assert_error(world.env, InvalidInput)
    assert result.ephemeral and expected in result.response.content
    assert not (await world.kb.guild_settings(world.guild.id)).briefing_configured


async def test_a_channel_without_permissions_is_refused_naming_the_permission(world):
    me = world.guild.me
    muted = world.guild.create_text_channel("muted", overwrites={me: discord.PermissionOverwrite(send_messages=False)})
    result = await world.manager.slash(world.channel, "setup briefing", channel=muted, time="08:00", timezone="UTC")
    simcord.assert_error(world.env, BadInput)
    assert result.ephemeral and "**Send Messages**" in result.response.content
    assert not (await world.kb.guild_settings(world.guild.id)).briefing_configured
    no_threads = world.guild.create_text_channel(
        "nothreads", overwrites={me: discord.PermissionOverwrite(create_public_threads=False)}
    )
    result = await world.manager.slash(world.channel, "setup ask-channel", channel=no_threads)
    simcord.assert_error(world.env, BadInput)
    assert "**Create Public Threads**" in result.response.content and "Send Messages" not in result.response.content
    assert await world.kb.ask_channels() == []


async def test_ask_channel_toggles(world):
    on = await world.manager.slash(world.channel, "setup ask-channel", channel=world.channel)
    assert on.ephemeral and "is now an ask channel" in on.response.content
    assert await world.kb.ask_channels(world.guild.id) == [world.channel.id]
    assert world.channel.id in world.bot.ask_channel_ids
    shown = await world.manager.slash(world.channel, "setup show")
    assert f"**Ask channels:** <#{world.channel.id}>" in shown.response.content
    off = await world.manager.slash(world.channel, "setup ask-channel", channel=world.channel)
    assert "no longer" in off.response.content and world.channel.id not in world.bot.ask_channel_ids


async def test_moderator_role_overrides_the_default_role_for_this_server(world):
    editors = world.guild.create_role("Desk")
    desk = world.guild.add_member(world.env.create_user("desk"), roles=[editors])
    refused = await desk.slash(world.channel, "stats")
    simcord.assert_error(world.env, NotModerator)
    assert "**Moderator** role" in refused.response.content
    result = await world.manager.slash(world.channel, "setup moderator-role", role=editors)
    assert result.ephemeral and f"<@&{editors.id}>" in result.response.content
    allowed = await desk.slash(world.channel, "stats")
    assert reply_of(allowed).embeds and "Only moderators" not in (reply_of(allowed).content or "")
    # The MODERATOR_ROLE default no longer counts here; the message names this server's role.
    refused = await world.mod.slash(world.channel, "stats")
    simcord.assert_error(world.env, NotModerator)
    assert "**Desk** role" in refused.response.content


# ---------------------------------------------------------------------------- per-server briefings


async def two_servers(world):
    """The dev guild and a second one, each with its own document and its own briefing."""
    other = world.env.create_guild("Elsewhere", id=OTHER_GUILD)
    other_channel = other.create_text_channel("digest")
    boss = other.add_member(
        world.env.create_user("boss"),
        roles=[other.create_role("Owners", permissions=discord.Permissions(manage_guild=True))],
    )
    await world.admin.slash(world.channel, "sync", scope="global")
    await world.kb.add_text(
        "Dock workers in Rotterdam stopped work on Monday over pay and shift rules.",
        guild_id=world.guild.id,
        title="Rotterdam port strike",
    )
    await world.kb.add_text(
        "The valley council voted to rebuild the old stone bridge after the spring floods.",
        guild_id=OTHER_GUILD,
        title="Valley bridge rebuilt",
    )
    await world.manager.slash(world.channel, "setup briefing", channel=world.channel, time="08:00", timezone="UTC")
    # 10:00 in Paris is 09:00 UTC in January.
    await boss.slash(other_channel, "setup briefing", channel=other_channel, time="10:00", timezone="Europe/Paris")
    return other_channel


async def test_two_servers_each_get_one_briefing_a_day_of_their_own_documents(world):
    other_channel = await two_servers(world)
    bot_id = world.bot.user.id
    await world.env.advance_time(8 * HOUR + 60)
    [mine] = briefings_in(world.channel, bot_id)
    assert briefings_in(other_channel, bot_id) == []
    await world.env.advance_time(HOUR)
    [theirs] = briefings_in(other_channel, bot_id)
    assert len(briefings_in(world.channel, bot_id)) == 1
    assert "Rotterdam" in briefing_text(mine) and "Valley bridge" not in briefing_text(mine)
    assert "Valley bridge" in briefing_text(theirs) and "Rotterdam" not in briefing_text(theirs)
    await world.env.advance_time(24 * HOUR)
    assert len(briefings_in(world.channel, bot_id)) == 2 and len(briefings_in(other_channel, bot_id)) == 2
    rows = [r for r in await world.rows("brief") if r.input and r.input.startswith("scheduled")]
    assert sorted((r.guild_id, r.input) for r in rows) == [
        (world.guild.id, "scheduled 2026-01-01"),
        (world.guild.id, "scheduled 2026-01-02"),
        (OTHER_GUILD, "scheduled 2026-01-01"),
        (OTHER_GUILD, "scheduled 2026-01-02"),
    ]


async def test_a_briefing_set_after_its_time_today_starts_the_next_day_whichever_server_sets_it_first(world):
    # At 11:00 both times (08:00, 09:00 UTC) have passed. The first /setup used to start the
    # schedule, whose start-up catch-up then posted that server's briefing at once, but not the
    # second server's: the first post depended on the order servers were set up in.
    await world.env.advance_time(11 * HOUR)
    other_channel = await two_servers(world)
    bot_id = world.bot.user.id
    await world.env.advance_time(60)
    assert briefings_in(world.channel, bot_id) == [] and briefings_in(other_channel, bot_id) == []
    await world.env.advance_time(24 * HOUR)
    assert len(briefings_in(world.channel, bot_id)) == 1 and len(briefings_in(other_channel, bot_id)) == 1


async def test_the_schedule_survives_a_restart_and_a_missed_post_is_caught_up_once(world, settings):
    other_channel = await two_servers(world)
    bot_id = world.bot.user.id
    await world.env.advance_time(8 * HOUR + 60)
    assert len(briefings_in(world.channel, bot_id)) == 1
    # Down from 08:01 to 09:30: the other server's 09:00 UTC post is missed, then caught up once.
    # (the bot's schedule stopped while the clock moves on: what a process that is down does)
    world.bot.get_cog("Briefings").guild_daily.cancel()
    await world.env.advance_time(HOUR + 29 * 60)
    assert briefings_in(other_channel, bot_id) == []
    await world.env.restart_bot(create_bot(settings, embedder=world.kb.embedder))
    assert len(briefings_in(other_channel, bot_id)) == 1
    assert len(briefings_in(world.channel, bot_id)) == 1  # no second post for the first server
    await world.env.restart_bot(create_bot(settings, embedder=world.kb.embedder))
    assert len(briefings_in(other_channel, bot_id)) == 1  # caught up once, not at every start
    await world.env.advance_time(24 * HOUR)
    assert len(briefings_in(world.channel, bot_id)) == 2 and len(briefings_in(other_channel, bot_id)) == 2


async def test_the_env_default_gives_way_to_the_servers_own_briefing(world, settings):
    from bot_helpers import with_settings

    configured = with_settings(settings, briefing_channel_id=world.channel.id, briefing_time=dt.time(6, 0))
    await world.env.restart_bot(create_bot(configured, embedder=world.kb.embedder))
    await world.manager.slash(world.channel, "setup briefing-off")  # never set: nothing changes
    await world.env.advance_time(6 * HOUR + 60)
    assert len(briefings_in(world.channel, world.bot.user.id)) == 1  # the .env default
    await world.manager.slash(world.channel, "setup briefing", channel=world.channel, time="12:00", timezone="UTC")
    # To 06:01 on 01-02: no post at 12:00 on 01-01 (the channel had that day's), none from .env at 06:00.
    await world.env.advance_time(24 * HOUR)
    assert len(briefings_in(world.channel, world.bot.user.id)) == 1
    await world.env.advance_time(6 * HOUR)
    assert len(briefings_in(world.channel, world.bot.user.id)) == 2  # the server's own, at 12:00


async def test_everyone_is_refused_as_the_moderator_role(world):
    result = await world.manager.slash(world.channel, "setup moderator-role", role=world.guild.default_role)
    simcord.assert_error(world.env, BadInput)
    content = result.response.content.replace("\u200b", "")  # the bot breaks every @everyone it sends
    assert result.ephemeral and "@everyone can't be the moderator role" in content and "Nothing was saved" in content
    assert (await world.kb.guild_settings(world.guild.id)).moderator_role_id is None
    refused = await world.user.slash(world.channel, "stats")  # a plain member is still no moderator
    simcord.assert_error(world.env, NotModerator)
    assert "Only moderators" in refused.response.content


@pytest.mark.parametrize(
    "timezone", ["posixrules", "Factory", "right/UTC", "localtime", "posix/Europe/Paris", "US/Eastern", "Europe"]
)
async def test_only_canonical_time_zones_are_accepted(world, timezone):
    result = await world.manager.slash(
        world.channel, "setup briefing", channel=world.channel, time="08:00", timezone=timezone
    )
    simcord.assert_error(world.env, InvalidInput)
    assert result.ephemeral and "unknown time zone" in result.response.content
    assert not (await world.kb.guild_settings(world.guild.id)).briefing_configured


async def test_a_time_zone_is_saved_as_the_tz_database_spells_it(world):
    result = await world.manager.slash(
        world.channel, "setup briefing", channel=world.channel, time="08:00", timezone="america/new_york"
    )
    assert "08:00 (America/New\\_York)" in result.response.content  # escaped: "_" is markdown
    assert (await world.kb.guild_settings(world.guild.id)).briefing_tz == "America/New_York"
