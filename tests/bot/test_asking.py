"""/ask, the answer buttons, @mentions answered in a thread, follow-ups with the thread's history,
mentions that cannot ping, and the per-user rate limit."""

import datetime as dt

import discord
import pytest
import simcord
from bot_helpers import ANSWER_SENTENCE, QUESTION, acknowledged_by_defer, reply_of

from bot.app import create_bot
from bot.render import MESSAGE_EMBED_TOTAL, embed_total
from knowledge.errors import DatabaseError
from knowledge.question import Reply

pytestmark = pytest.mark.asyncio(loop_scope="session")


def button_labels(message) -> list[str]:
    return [c.label for row in message.components for c in row.children]


async def test_ask_answers_with_cited_sources_and_buttons(world):
    result = await world.user.slash(world.channel, "ask", question=QUESTION)
    assert acknowledged_by_defer(world.env)
    reply = reply_of(result)
    assert not reply.ephemeral
    embed = reply.embeds[0]
    assert embed.title == QUESTION
    assert ANSWER_SENTENCE in embed.description and "[1]" in embed.description
    assert embed.fields[0].name.startswith("[1] ") and "> " in embed.fields[0].value
    assert "paragraph" in embed.fields[0].value
    assert button_labels(reply.message) == ["👍", "👎", "More sources"]
    [row] = await world.rows("ask")
    assert (row.input, row.outcome, row.user_id, row.guild_id) == (QUESTION, "answered", world.user.id, world.guild.id)
    assert row.passage_ids and row.latency_ms is not None and row.answer == embed.description


async def test_whats_new_gets_the_newest_stories_within_discords_limits(world):
    for i in range(6):
        await world.kb.add_text(
            f"Report {i}: the harbour board met on day {i} and agreed a budget of {i + 2} million euros. "
            f"Dockers in berth {i} said the night shifts would end. The mayor welcomed decision {i}.",
            guild_id=world.guild.id,
            title=f"Harbour report {i}",
        )
    result = await world.user.slash(world.channel, "ask", question="What's new?")
    reply = reply_of(result)
    assert reply.embeds[0].description.startswith("The newest")
    assert sum(embed_total(e) for e in reply.embeds) <= MESSAGE_EMBED_TOTAL
    [row] = await world.rows("ask")
    assert row.outcome == "answered" and row.passage_ids


async def test_feedback_buttons_are_recorded_against_the_answer(world):
    result = await world.user.slash(world.channel, "ask", question=QUESTION)
    message = reply_of(result).message
    up = await world.user.click(message, label="👍")
    assert up.ephemeral and "feedback" in up.response.content
    await world.mod.click(message, label="👎")
    [ask] = await world.rows("ask")
    votes = await world.rows("feedback")
    assert [(v.outcome, v.user_id, v.ref_id) for v in votes] == [
        ("up", world.user.id, ask.id),
        ("down", world.mod.id, ask.id),
    ]


async def test_buttons_still_work_after_a_restart(world, settings):
    result = await world.user.slash(world.channel, "ask", question=QUESTION)
    message = reply_of(result).message
    await world.env.restart_bot(create_bot(settings, embedder=world.kb.embedder))
    clicked = await world.user.click(message, label="👍")
    assert "feedback" in clicked.response.content
    assert [v.outcome for v in await world.rows("feedback")] == ["up"]


async def test_more_sources_is_ephemeral_and_paginated(world):
    for i in range(6):
        await world.kb.add_text(
            f"Tram report {i}: the council debated the tram line again, report number {i}.",
            guild_id=world.guild.id,
            title=f"Report {i}",
        )
    result = await world.user.slash(world.channel, "ask", question=QUESTION)
    more = await world.user.click(reply_of(result).message, label="More sources")
    page = reply_of(more)
    assert page.ephemeral
    embed = page.embeds[0]
    hits = await world.kb.search(QUESTION, k=12, scope=world.guild.id)
    pages = -(-len(hits) // 4)
    assert pages >= 2  # six extra reports plus the seeds
    assert embed.title.startswith("More sources") and embed.footer.text == f"Page 1 of {pages}"
    assert len(embed.fields) == 4
    turned = await world.user.click(page.message, label="Next")
    assert turned.response.embeds[0].footer.text == f"Page 2 of {pages}"
    assert turned.response.embeds[0].fields[0].name.startswith("[5]")
    back = await world.user.click(page.message, label="Previous")
    assert back.response.embeds[0].footer.text == f"Page 1 of {pages}"


async def test_more_sources_are_ranked_as_of_the_question_like_its_answer(world):
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    await world.kb.add_text(
        f"{QUESTION} {ANSWER_SENTENCE}, a later report said.",
        guild_id=world.guild.id,
        title="Dated later",
        published=tomorrow,
    )
    assert (await world.kb.search(QUESTION, k=1, scope=world.guild.id))[0].document.title == "Dated later"
    result = await world.user.slash(world.channel, "ask", question=QUESTION)
    more = await world.user.click(reply_of(result).message, label="More sources")
    names = [f.name for f in reply_of(more).embeds[0].fields]
    assert names and not any("Dated later" in n for n in names)  # not yet published when asked


async def test_refusal_says_so_and_offers_closest_passages(world):
    result = await world.user.slash(world.channel, "ask", question="What is the capital of Peru?")
    embed = reply_of(result).embeds[0]
    assert embed.title.startswith("No answer found")
    assert embed.fields, "the closest passages are shown"
    assert (await world.rows("ask"))[-1].outcome == "abstained"


async def test_quoted_everyone_does_not_ping(world):
    await world.kb.add_text(
        "Notice: @everyone must evacuate the harbour district by noon, the mayor said.",
        guild_id=world.guild.id,
        title="Evacuation @here",
    )
    result = await world.user.slash(world.channel, "ask", question="Who must evacuate the harbour district?")
    message = reply_of(result).message
    assert not message.mention_everyone
    assert message.role_mentions == [] and message.mentions == []
    text = " ".join([message.embeds[0].description or ""] + [f.value for f in message.embeds[0].fields])
    assert "evacuate" in text and "@everyone" not in text


async def test_bot_wide_allowed_mentions_forbid_every_ping(world):
    mentions = world.bot.allowed_mentions
    assert not mentions.everyone and not mentions.users and not mentions.roles


async def test_mention_is_answered_in_a_new_thread(world):
    await world.user.send(world.channel, f"<@{world.bot.user.id}> {QUESTION}")
    [thread] = world.channel.threads
    answer = thread.last_message
    assert answer.author.id == world.bot.user.id
    assert ANSWER_SENTENCE in answer.embeds[0].description
    assert thread.name == QUESTION
    [row] = await world.rows("mention")
    assert (row.input, row.outcome, row.channel_id) == (QUESTION, "answered", world.channel.id)


async def test_follow_up_in_the_thread_uses_earlier_turns(world, monkeypatch):
    await world.user.send(world.channel, f"<@{world.bot.user.id}> {QUESTION}")
    [thread] = world.channel.threads
    seen = {}
    real_ask = world.kb.ask

    async def spy(question, **kw):
        seen["history"] = kw.get("history")
        return await real_ask(question, **kw)

    monkeypatch.setattr(world.kb, "ask", spy)
    await world.user.send(thread, "And how much will it cost?")
    history = seen["history"]
    assert history[0] == QUESTION
    assert ANSWER_SENTENCE in history[1]
    # The bot's own turns are marked as such: a refusal has no [n] marker to tell it by.
    assert isinstance(history[1], Reply) and not isinstance(history[0], Reply)
    assert len(thread.history()) == 3  # answer, follow-up, second answer
    assert thread.last_message.author.id == world.bot.user.id
    [row] = await world.rows("followup")
    assert row.input == "And how much will it cost?" and row.channel_id == thread.id


async def test_messages_in_other_threads_and_without_mention_are_ignored(world):
    await world.user.send(world.channel, "just chatting about the tram line")
    assert len(world.channel.history()) == 1
    assert await world.rows() == []


async def test_mention_where_threads_are_not_allowed_is_answered_inline(world):
    closed = world.guild.create_text_channel(
        "no-threads", overwrites={world.guild.me: discord.PermissionOverwrite(create_public_threads=False)}
    )
    question_message = await world.user.send(closed, f"<@{world.bot.user.id}> {QUESTION}")
    assert closed.threads == []
    reply = closed.last_message
    assert reply.author.id == world.bot.user.id
    assert reply.reference is not None and reply.reference.message_id == question_message.id
    assert ANSWER_SENTENCE in reply.embeds[0].description
    assert not reply.mentions  # the reply does not ping the asker


async def test_direct_message_sees_only_global_documents(world):
    await world.kb.add_text(
        "The harbour master resigned on Friday after the audit.", guild_id=world.guild.id, title="Harbour master"
    )
    await world.admin.slash(world.channel, "sync", scope="global")
    listed = await world.user.user.slash("doc list")
    description = listed.response.embeds[0].description
    assert "Council approves tram line" in description and "Harbour master" not in description


async def test_a_thread_name_neutralises_mentions_and_masked_links(world):
    role = world.guild.create_role("Desk")
    question = (
        f"@everyone @here <@&{role.id}> <@{world.mod.id}> [tram news](https://evil.example/x) "
        "when did the council approve the tram line?"
    )
    await world.user.send(world.channel, f"<@{world.bot.user.id}> {question}")
    [thread] = world.channel.threads
    name = thread.name
    assert "@everyone" not in name and "@here" not in name
    assert f"<@&{role.id}>" not in name and f"<@{world.mod.id}>" not in name
    assert "](" not in name and "evil.example" not in name and "tram news" in name
    assert name.replace("\u200b", "").startswith("@everyone @here <@&")  # looks the same, pings nobody
    [row] = await world.rows("mention")
    assert row.input == question  # the log keeps the question as asked


async def test_a_database_that_went_away_is_a_plain_reply_and_the_bot_goes_on(world, monkeypatch):
    """A DatabaseError names the database and its server (for the operator's log); the member gets a
    plain line, and the next question is answered."""
    real_ask = world.kb.ask

    async def gone(question, **kw):
        raise DatabaseError(
            "the database postgresql://newsdesk:***@db.internal/newsdesk cannot be reached or failed: connection refused"
        )

    monkeypatch.setattr(world.kb, "ask", gone)
    result = await world.user.slash(world.channel, "ask", question=QUESTION)
    simcord.assert_error(world.env, DatabaseError)
    reply = reply_of(result)
    assert reply.content.startswith("The database is unavailable right now")
    assert "db.internal" not in reply.content and "postgresql" not in reply.content
    [row] = await world.rows("ask")
    assert row.outcome == "error: DatabaseError"
    monkeypatch.setattr(world.kb, "ask", real_ask)
    again = await world.user.slash(world.channel, "ask", question=QUESTION)
    assert ANSWER_SENTENCE in reply_of(again).embeds[0].description


async def test_a_bot_started_away_from_its_seeds_warns_in_its_log(settings, embedder, tmp_path, caplog):
    # NEWSDESK_SEEDS is relative to where the bot starts: without a warning, the only sign would
    # be every question refused.
    bot = create_bot(settings, embedder=embedder)
    with caplog.at_level("WARNING", logger="bot.app"):
        await bot.index_seeds([tmp_path / "elsewhere"])
    assert any(
        r.levelname == "WARNING" and "no seed folder found" in r.getMessage() and "elsewhere" in r.getMessage()
        for r in caplog.records
    )


async def test_a_seed_that_cannot_be_indexed_is_named_in_the_bot_log(world, tmp_path, caplog):
    # The library reports a failed file to its caller (and logs it at INFO only, so the console,
    # which prints it, does not show it twice): the bot, whose seeds nobody watches, warns.
    seeds = tmp_path / "own-seeds"
    seeds.mkdir()
    (seeds / "empty.txt").write_text("")
    with caplog.at_level("INFO"):
        await world.bot.index_seeds([seeds])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("seed not indexed" in m and "empty.txt" in m for m in warnings), warnings
    assert not any(m.startswith("not indexed") for m in warnings)
