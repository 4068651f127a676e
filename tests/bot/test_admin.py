"""/stats for moderators and the deliberate /sync."""

import discord
import pytest
import simcord
from bot_helpers import QUESTION, reply_of

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_stats_counts_questions_refusals_and_feedback(world):
    answered = await world.user.slash(world.channel, "ask", question=QUESTION)
    for _ in range(2):
        await world.user.slash(world.channel, "ask", question="What is the capital of Peru?")
    await world.user.click(reply_of(answered).message, label="👍")
    await world.user.click(reply_of(answered).message, label="👎")  # changed their mind: only the last counts
    await world.mod.click(reply_of(answered).message, label="👍")
    result = await world.mod.slash(world.channel, "stats")
    reply = reply_of(result)
    assert reply.ephemeral
    values = {f.name: f.value for f in reply.embeds[0].fields}
    assert values["Questions"] == "3"
    assert values["Refusal rate"] == "67% (2)"
    assert values["Feedback"] == "👍 1 · 👎 1"
    assert "2× What is the capital of Peru?" in values["Most frequent unanswered questions"]
    assert "`2026-" in values["Questions per day"]


async def test_stats_is_for_moderators_only(world):
    result = await world.user.slash(world.channel, "stats")
    simcord.assert_error(world.env, discord.app_commands.CheckFailure)
    assert result.ephemeral and "Only moderators" in result.response.content
    assert (await world.rows("denied"))[-1].input.startswith("stats")


async def test_sync_is_hidden_from_members_and_refused_without_administrator(world):
    assert "sync" not in world.user.available_commands(world.channel)
    assert "sync" in world.admin.available_commands(world.channel)
    # Manage Server sees it only if an override allows it; the bot still checks Administrator itself.
    with pytest.raises(simcord.SetupError):
        await world.manager.slash(world.channel, "sync", scope="global")


async def test_global_sync_publishes_commands_everywhere(world):
    result = await world.admin.slash(world.channel, "sync", scope="global")
    assert "Synced" in reply_of(result).content and reply_of(result).ephemeral
    global_puts = [
        r
        for r in world.env.http_requests
        if r.method == "PUT" and r.path.endswith("/commands") and "/guilds/" not in r.path
    ]
    assert len(global_puts) == 1
    assert (await world.rows("sync"))[-1].input == "global"
