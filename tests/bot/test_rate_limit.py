"""The per-user rate limit (2 per minute in this module) on /ask and on mentions."""

import discord
import pytest
import simcord
from bot_helpers import QUESTION, reply_of, with_settings

from bot.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_settings(settings, rate_limit_per_minute=2)


async def test_rate_limit_gives_a_friendly_message_and_resets(world):
    for _ in range(2):
        await world.user.slash(world.channel, "ask", question=QUESTION)
    third = await world.user.slash(world.channel, "ask", question=QUESTION)
    simcord.assert_error(world.env, discord.app_commands.CheckFailure)
    assert third.ephemeral and "Please wait" in third.response.content
    # someone else is not limited
    other = await world.mod.slash(world.channel, "ask", question=QUESTION)
    assert reply_of(other).embeds
    await world.env.advance_time(61)
    again = await world.user.slash(world.channel, "ask", question=QUESTION)
    assert reply_of(again).embeds
    assert [r.outcome for r in await world.rows("ask")].count("rate_limited") == 1


async def test_mentions_share_the_limit(world):
    for _ in range(2):
        await world.user.slash(world.channel, "ask", question=QUESTION)
    await world.user.send(world.channel, f"<@{world.bot.user.id}> {QUESTION}")
    reply = world.channel.last_message
    assert reply.author.id == world.bot.user.id and "Please wait" in reply.content
    assert "(limit: 2 per minute)" in reply.content  # the slash command's message, not a drifted copy
    assert world.channel.threads == []
    assert (await world.rows("mention"))[-1].outcome == "rate_limited"
