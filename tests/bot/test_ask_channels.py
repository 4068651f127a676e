"""Ask channels (/setup ask-channel) and the "Ask newsdesk" message menu: a plain message is
answered in a thread started from it; a bot's message and other channels are ignored."""

import discord
import pytest
import simcord
from bot_helpers import ANSWER_SENTENCE, QUESTION

from bot.tree import BadInput

pytestmark = pytest.mark.asyncio(loop_scope="session")


def answers_in(channel, bot_id):
    return [m for m in channel.history() if m.author.id == bot_id and m.embeds]


async def test_a_plain_message_in_an_ask_channel_is_answered_in_a_thread(world):
    ask = world.guild.create_text_channel("ask-ai")
    await world.manager.slash(world.channel, "setup ask-channel", channel=ask)
    message = await world.user.send(ask, QUESTION)
    await world.env.settle()
    [thread] = ask.threads
    [answer] = answers_in(thread, world.bot.user.id)
    assert ANSWER_SENTENCE in answer.embeds[0].description and answer.embeds[0].fields
    assert thread.id == message.id  # started from the question
    [row] = await world.rows("ask_channel")
    assert row.outcome == "answered" and row.input == QUESTION
    # A message in that thread is a follow-up, as in any answer thread.
    await world.user.send(thread, "How much will it cost?")
    await world.env.settle()
    assert len(answers_in(thread, world.bot.user.id)) == 2
    assert [r.kind for r in await world.rows("followup")] == ["followup"]


async def test_a_bots_message_and_other_channels_are_ignored(world):
    ask = world.guild.create_text_channel("ask-ai")
    await world.manager.slash(world.channel, "setup ask-channel", channel=ask)
    other_bot = world.guild.add_member(world.env.create_user("otherbot", bot=True))
    await other_bot.send(ask, QUESTION)
    await world.user.send(world.channel, QUESTION)  # not an ask channel, no mention
    await world.env.settle()
    assert ask.threads == [] and world.channel.threads == []
    assert answers_in(ask, world.bot.user.id) == [] and answers_in(world.channel, world.bot.user.id) == []
    assert await world.rows("ask_channel") == []


async def test_ask_channels_survive_a_restart(world, settings):
    from bot.app import create_bot

    ask = world.guild.create_text_channel("ask-ai")
    await world.manager.slash(world.channel, "setup ask-channel", channel=ask)
    await world.env.restart_bot(create_bot(settings, embedder=world.kb.embedder))
    await world.user.send(ask, QUESTION)
    await world.env.settle()
    [thread] = ask.threads
    assert answers_in(thread, world.bot.user.id)


async def test_ask_newsdesk_answers_a_message_in_a_thread_from_it(world):
    message = await world.user.send(world.channel, QUESTION)
    result = await world.user.context_menu(world.channel, "Ask newsdesk", message)
    await world.env.settle()
    [thread] = world.channel.threads
    assert thread.id == message.id
    [answer] = answers_in(thread, world.bot.user.id)
    assert ANSWER_SENTENCE in answer.embeds[0].description
    reply = result.response if result.response is not None else result.followups[0]
    assert reply.ephemeral and f"<#{thread.id}>" in reply.content


async def test_ask_newsdesk_on_a_message_without_text_is_a_clear_error(world):
    message = await world.user.send(world.channel, "", attachments=[("chart.png", b"\x89PNG fake")])
    result = await world.user.context_menu(world.channel, "Ask newsdesk", message)
    simcord.assert_error(world.env, BadInput)
    assert result.ephemeral and "no text" in result.response.content
    assert world.channel.threads == []


async def test_a_flood_in_an_ask_channel_gets_one_notice_per_window(world):
    ask = world.guild.create_text_channel("ask-ai")
    await world.manager.slash(world.channel, "setup ask-channel", channel=ask)
    limit = world.bot.settings.rate_limit_per_minute
    assert 0 < limit < 100

    def notices():
        return [m for m in ask.history() if m.author.id == world.bot.user.id and "asking a lot" in m.content]

    for i in range(100):
        await world.user.send(ask, f"{QUESTION} ({i})")
    await world.env.settle()
    assert len(notices()) == 1
    assert len(ask.threads) == limit  # the allowed questions were answered
    rows = await world.rows("ask_channel")
    assert [r.outcome for r in rows].count("rate_limited") == 100 - limit  # every refusal is still logged
    # Another member is told on their own account; the next window gets its own notice.
    await world.mod.send(ask, QUESTION)
    await world.env.advance_time(61)
    for i in range(limit + 5):
        await world.user.send(ask, f"{QUESTION} (again {i})")
    await world.env.settle()
    assert len(notices()) == 2


async def test_ask_newsdesk_logs_one_kind_with_the_message_answered_or_refused(world):
    message = await world.user.send(world.channel, QUESTION)
    await world.user.context_menu(world.channel, "Ask newsdesk", message)
    await world.env.settle()
    empty = await world.user.send(world.channel, "", attachments=[("chart.png", b"\x89PNG fake")])
    await world.user.context_menu(world.channel, "Ask newsdesk", empty)
    simcord.assert_error(world.env, BadInput)
    for _ in range(world.bot.settings.rate_limit_per_minute):
        await world.user.context_menu(world.channel, "Ask newsdesk", message)
    await world.env.settle()
    simcord.assert_error(world.env, discord.app_commands.CheckFailure)
    rows = await world.rows("ask_menu")
    assert await world.rows("Ask_newsdesk") == []
    outcomes = [r.outcome for r in rows]
    assert outcomes[0] == "answered" and "bad_input" in outcomes and "rate_limited" in outcomes
    expected = {"answered": QUESTION, "bad_input": "ask_menu message=", "rate_limited": f"ask_menu message={QUESTION}"}
    for row in rows:
        assert row.input == expected[row.outcome], row
