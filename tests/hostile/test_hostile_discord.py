"""Hostile input on the Discord paths, through simcord (the real discord.py against a simulated
Discord) and through the pure renderer: formatting and mention injection from documents and
questions, odd option values, non-moderators, other servers and DMs, failing buttons, bad
attachments, and a database fault while a scheduled briefing is recorded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import sqlite3

import discord
import pytest
import simcord
import simcord.interactions
from simcord.backend.errors import OptionError

from bot import render
from bot.app import create_bot
from bot.checks import Busy
from bot.cogs.briefings import BUSY_MESSAGE
from bot.tree import BadInput
from knowledge.errors import DocumentNotFound, KnowledgeError
from knowledge.models import Answer, Briefing, Citation, Document, Passage, SearchHit, Story

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOUR = 3600
QUESTION = "When did the council approve the tram line?"

# ---------------------------------------------------------------------------- helpers


def reply_of(result):
    """After ``defer(thinking=True)`` the first followup replaces the thinking message."""
    return result.response if result.response is not None else result.followups[0]


def _doc_id(content: str) -> int:
    """The ``#id`` that ``/doc add`` reports."""
    found = re.search(r"#(\d+)", content)
    assert found is not None, content
    return int(found.group(1))


def shown(message) -> str:
    """Everything Discord would render of a message: content, then every embed string."""
    parts = [message.content or ""]
    for e in message.embeds:
        e = e if isinstance(e, dict) else e.to_dict()
        parts += [e.get("title") or "", e.get("description") or "", (e.get("footer") or {}).get("text") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in e.get("fields") or []]
    return "\n".join(parts)


def bot_messages(env) -> list:
    bot_id = env.bot.user.id
    return [m for ch in env.backend.messages.values() for m in ch.values() if m.author_id == bot_id]


def assert_no_ping(env) -> None:
    """No message the bot sent pinged anyone, and none could have: allowed_mentions is empty."""
    for m in bot_messages(env):
        assert not m.mention_everyone and not m.ping_user_ids and not m.ping_role_ids, m
    sent = [
        r.json
        for r in env.http_requests
        if r.method in ("POST", "PATCH")
        and isinstance(r.json, dict)
        and ("content" in r.json or "embeds" in r.json or "data" in r.json)
    ]
    for body in sent:
        body = body.get("data", body) if "data" in body and isinstance(body["data"], dict) else body
        if "content" in body or "embeds" in body:
            assert body.get("allowed_mentions", {}).get("parse", []) == [], body


MASKED_LINK = re.compile(r"\[[^\]]*\]\(")
LIVE = re.compile(r"@everyone|@here|<@[!&]?\d|<#\d|<t:|</\w|<a?:\w|[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def assert_inert(text: str) -> None:
    """No masked link, no live mention or angle-bracket syntax, no bidi control."""
    assert "](" not in text and not MASKED_LINK.search(text), text
    assert not LIVE.search(text), (LIVE.search(text), text)


# ---------------------------------------------------------------------------- the renderer

# (payload, what must not appear anywhere in the rendered text)
PAYLOADS = {
    "masked link": ("[click me](https://evil.example/x)", [r"\]\("]),
    "nested masked link": ("[[a](https://evil.example/y)", [r"\]\("]),
    "angle masked link": ("[a](<https://evil.example>)", [r"\]\("]),
    "url swallowing a link": ("[click](https://ok.example/x](https://evil.example))", [r"\]\("]),
    "angle url swallowing a link": ("[click](<https://ok.example/x](https://evil.example)>)", [r"\]\("]),
    "link hiding bold": ("[**x**](https://evil.example) and **y**", [r"\]\(", r"(?<!\\)\*\*[xy]"]),
    "bold": ("**loud** words", [r"(?<![\\*])\*\*loud"]),
    "underline": ("__under__ line", [r"(?<!\\)__under"]),
    "spoiler": ("||hidden|| text", [r"(?<!\\)\|\|hidden"]),
    "strike": ("~~gone~~ text", [r"(?<!\\)~~gone"]),
    "code": ("`code` span", [r"(?<!\\)`code"]),
    "heading": ("# Big heading\nbody", [r"(?m)^#{1,3} Big"]),
    "subtext": ("-# small print\nbody", [r"(?m)^-# small"]),
    "block quote": ("> fake quote\nbody", [r"(?m)^> fake", r"(?m)^> > fake"]),
    "timestamp": ("due <t:1767225600:R> now", ["<t:"]),
    "channel link": ("see <#123456789012345678>", ["<#1"]),
    "role mention": ("hi <@&123456789012345678>", ["<@&1"]),
    "user mention": ("hi <@123456789012345678>", ["<@1"]),
    "everyone": ("attention @everyone", ["@everyone"]),
    "here": ("attention @here", ["@here"]),
    "command mention": ("run </ask:123456789012345678>", ["</ask"]),
    "right-to-left override": ("invoice\u202efdp.exe", ["\u202e"]),
    "isolates and marks": ("a\u2066b\u2069c\u200ed\u200fe\u061cf", ["[\u2066\u2069\u200e\u200f\u061c]"]),
}


def _doc(payload: str, **kw) -> Document:
    return Document(
        id=kw.get("id", 7),
        title=payload,
        source=payload,
        published=dt.date(2024, 1, 2),
        author=payload,
        guild_id=None,
        origin=f"attachment {payload}",
        content_hash="h",
        added_at=dt.datetime(2024, 1, 3, tzinfo=dt.UTC),
    )


def _citation(payload: str, n: int = 1) -> Citation:
    return Citation(
        number=n,
        document_id=n,
        title=payload,
        source=payload,
        published=None,
        passage_id=n,
        quote=f"Before {payload} after",
        paragraph_index=0,
        char_start=0,
        char_end=10,
        score=0.5,
    )


def _rendered_everywhere(payload: str) -> str:
    """The payload pushed through every renderer that shows document or user text."""
    texts = []
    answer = Answer(question=payload, text=f"{payload}\nTroops arrived [1].", citations=[_citation(payload)])
    refusal = Answer(question=payload, text="", citations=[], abstained=True, related=[_citation(payload)])
    for a in (answer, refusal):
        for embeds in render.answer_messages(a):
            texts += [shown(_Msg(embeds))]
    doc = _doc(payload)
    hit = SearchHit(
        passage=Passage(id=1, document_id=7, ordinal=0, paragraph_index=0, char_start=0, char_end=9, text=payload),
        document=doc,
        score=1.0,
    )
    texts.append(shown(_Msg([render.sources_page([hit], 0, question=payload)[0]])))
    texts.append(shown(_Msg([render.document_list_page([doc], page=0, pages=1, total=1)])))
    texts.append(shown(_Msg([render.document_embed(doc, f"{payload}\n\n{payload}")])))
    story = Story(
        headline=payload, summary=f"{payload} [1].", citations=[_citation(payload)], document_ids=[1], sources=1
    )
    briefing = Briefing(
        since=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        until=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        stories=[story],
        documents=1,
    )
    for embeds in render.briefing_messages(briefing):
        texts.append(shown(_Msg(embeds)))
    texts.append(render.document_added(doc))
    texts.append(render.document_removed(doc))
    stats = render.Stats(
        questions_per_day=[], questions=1, refusals=1, thumbs_up=0, thumbs_down=0, unanswered=[(payload, 3)]
    )
    texts.append(shown(_Msg([render.stats_embed(stats)])))
    return "\n".join(texts)


class _Msg:
    def __init__(self, embeds, content: str = "") -> None:
        self.embeds, self.content = embeds, content


@pytest.mark.parametrize("name", list(PAYLOADS))
async def test_document_text_renders_inert_everywhere(name):
    payload, forbidden = PAYLOADS[name]
    text = _rendered_everywhere(payload)
    for pattern in forbidden:
        assert not re.search(pattern, text), (pattern, text)
    assert "](" not in text
    # Still readable: the words survive escaping.
    visible = re.sub(r"[\\\u200b]", "", text)
    for word in re.findall(r"[A-Za-z]{4,}", payload):
        assert word in visible


@pytest.mark.parametrize("limit", [2, 3, 17, 100, 255])
async def test_trimming_never_cuts_an_escape_in_half(limit):
    text = render.escape("*_`|~" * 100)
    out = render.trim(text, limit)
    body = out.rstrip(render.ELLIPSIS)
    run = len(body) - len(body.rstrip("\\"))
    assert run % 2 == 0, out
    for piece in render.split_text(text, limit):
        run = len(piece) - len(piece.rstrip("\\"))
        assert run % 2 == 0 and len(piece) <= limit


async def test_long_escaped_document_text_stays_within_discord_limits():
    payload = "[x](https://evil.example) **b** " * 600
    messages = render.answer_messages(
        Answer(question=payload, text=payload, citations=[_citation(payload, n) for n in range(1, 30)])
    )
    for embeds in messages:
        assert sum(len(e) for e in embeds) <= render.MESSAGE_EMBED_TOTAL
        for e in embeds:
            assert len(e.title or "") <= render.TITLE_LIMIT and len(e.description or "") <= render.DESCRIPTION_LIMIT
            assert all(
                f.name is not None
                and len(f.name) <= render.FIELD_NAME_LIMIT
                and f.value is not None
                and len(f.value) <= render.FIELD_VALUE_LIMIT
                for f in e.fields
            )
        assert_inert(shown(_Msg(embeds)))


# ---------------------------------------------------------------------------- pings and injection, end to end

PING_PAYLOADS = ["@everyone look", "@here look", "<@{user}> look", "<@&{role}> look"]


@pytest.fixture
async def pingable(world):
    role = world.guild.create_role("Readers", mentionable=True)
    return {"user": world.mod.id, "role": role.id}


@pytest.mark.parametrize("payload", PING_PAYLOADS)
async def test_mentions_in_a_question_never_ping(world, pingable, payload):
    question = f"{payload.format(**pingable)} when did the council approve the tram line?"
    result = await world.user.slash(world.channel, "ask", question=question)
    assert reply_of(result).embeds
    assert_no_ping(world.env)
    assert_inert(shown(reply_of(result)))


@pytest.mark.parametrize("payload", PING_PAYLOADS)
async def test_mentions_in_a_document_title_and_body_never_ping(world, pingable, payload):
    text = payload.format(**pingable)
    body = f"{text} The harbour of Antwerp reopened on Tuesday. {text} Ships queued for a week."
    result = await world.mod.slash(
        world.channel, "doc add", file=("harbour.txt", body.encode()), title=f"{text} Harbour"
    )
    added = reply_of(result)
    doc_id = _doc_id(added.content)
    asked = await world.user.slash(world.channel, "ask", question="When did the harbour of Antwerp reopen?")
    listed = await world.user.slash(world.channel, "doc list")
    shown_doc = await world.user.slash(world.channel, "doc show", document=doc_id)
    briefed = await world.user.slash(world.channel, "brief")
    for r in (added, reply_of(asked), listed.response, shown_doc.response, reply_of(briefed)):
        assert_inert(shown(r))
    assert_no_ping(world.env)


LINK = "[click me](https://evil.example/login)"


async def test_markdown_link_in_a_document_is_never_clickable(world):
    body = (
        f"# Harbour {LINK}\n\nThe harbour of Antwerp reopened on Tuesday {LINK} after a **storm** surge.\n\n"
        f"> Shipping companies said the backlog would take a week ||to clear|| {LINK}."
    )
    result = await world.mod.slash(
        world.channel, "doc add", file=("harbour.md", body.encode()), title=f"Harbour {LINK}"
    )
    doc_id = _doc_id(reply_of(result).content)
    asked = await world.user.slash(world.channel, "ask", question="When did the harbour of Antwerp reopen?")
    listed = await world.user.slash(world.channel, "doc list")
    shown_doc = await world.user.slash(world.channel, "doc show", document=doc_id)
    briefed = await world.user.slash(world.channel, "brief")
    more = await world.user.click(reply_of(asked).message, label="More sources")
    texts = [
        shown(m)
        for m in (
            reply_of(result),
            reply_of(asked),
            listed.response,
            shown_doc.response,
            reply_of(briefed),
            reply_of(more),
        )
    ]
    assert any("click me" in t for t in texts[1:])  # the text is there, as plain text
    for t in texts:
        assert_inert(t)
        assert not re.search(r"(?<!\\)\*\*storm|(?<!\\)\|\|to clear", t)


@pytest.mark.parametrize(
    "question",
    [
        'tram" OR "council',
        "tram AND NOT council",
        "NEAR(tram council, 2)",
        "title:tram*",
        "^tram -council",
        '"unbalanced quote',
        "(((",
        "*",
        "council) OR (1=1",
        "'; DROP TABLE documents; --",
    ],
)
async def test_search_syntax_in_a_question_is_just_text(world, question):
    result = await world.user.slash(world.channel, "ask", question=question)
    embed = reply_of(result).embeds[0]
    assert embed.title  # an answer or a refusal, never an error
    [row] = await world.rows("ask")
    assert row.outcome in ("answered", "abstained")
    assert await world.kb.count_documents(scope=world.guild.id) == 3


async def test_a_10000_character_question_is_refused_by_the_declared_limit(world):
    with pytest.raises(OptionError):
        await world.user.slash(world.channel, "ask", question="x" * 10_000)
    longest = await world.user.slash(world.channel, "ask", question=("tram council " * 100)[:1000])
    assert reply_of(longest).embeds[0].title


@pytest.mark.parametrize(
    "question",
    [
        "tram \ud800 council?",
        "\udfff",
        "tram\x00line\x07\x1b[31m?",
        "\u202etram line?",
        "\ufeff\u200b\u2028",
    ],
)
async def test_lone_surrogates_and_control_characters_in_a_question(world, question):
    result = await world.user.slash(world.channel, "ask", question=question)
    assert reply_of(result).embeds[0].title
    [row] = await world.rows("ask")
    row.input.encode("utf-8")  # stored as valid UTF-8
    assert not re.search(r"[\x00-\x08\x0b-\x1f]", row.input)
    assert_inert(shown(reply_of(result)))


async def test_a_question_with_bidi_controls_names_its_thread_without_them(world):
    me = world.bot.user.id
    await world.user.send(world.channel, f"<@{me}> tram\u202e enil when?")
    [thread] = world.channel.threads
    assert thread.name == "tram enil when?"


# ---------------------------------------------------------------------------- who may do what

MODERATOR_COMMANDS = {
    "doc add": {"file": ("x.txt", b"Some words about a port strike in Rotterdam.")},
    "doc remove": {"document": 1},
    "stats": {},
    "sync": {"scope": "guild"},
}


async def _let_everyone_see(world, name: str) -> None:
    """A server admin may grant any command to @everyone in the integration settings: the bot's
    own check is what stops a reader, not Discord hiding the command."""
    [command] = [c for c in await world.bot.tree.fetch_commands(guild=world.guild) if c.name == name]
    world.guild.set_command_permissions(command, {world.guild.default_role: True})


@pytest.mark.parametrize("command", list(MODERATOR_COMMANDS))
async def test_a_reader_cannot_run_moderator_commands(world, command):
    before = await world.kb.count_documents(scope=world.guild.id)
    if command == "sync":
        await _let_everyone_see(world, "sync")
    result = await world.user.slash(world.channel, command, **MODERATOR_COMMANDS[command])
    if command != "sync":
        simcord.assert_error(world.env, discord.app_commands.CheckFailure)
    assert result.ephemeral
    assert re.search(r"Only (moderators|administrators)", reply_of(result).content)
    assert await world.kb.count_documents(scope=world.guild.id) == before
    assert [r.outcome for r in await world.rows("denied")] == ["denied"]


# ---------------------------------------------------------------------------- other servers and DMs

PRIVATE = b"Secret merger\n\nThe board of Acme agreed a secret merger with Globex on Friday night."


@pytest.fixture
async def private_doc(synced_world):
    result = await synced_world.mod.slash(synced_world.channel, "doc add", file=("merger.txt", PRIVATE))
    return _doc_id(reply_of(result).content)


async def test_another_server_cannot_list_show_or_find_a_document(synced_world, private_doc):
    w = synced_world
    listed = await w.stranger.slash(w.other_channel, "doc list")
    assert "globex" not in shown(listed.response).lower()
    shown_doc = await w.stranger.slash(w.other_channel, "doc show", document=private_doc)
    simcord.assert_error(w.env, DocumentNotFound)
    assert shown_doc.ephemeral and "no document" in shown_doc.response.content
    choices = await w.stranger.autocomplete(w.other_channel, "doc show", "document", "merger")
    assert choices == []
    asked = await w.stranger.slash(w.other_channel, "ask", question="What merger did the board of Acme agree?")
    assert "globex" not in shown(reply_of(asked)).lower()
    more = await w.stranger.click(reply_of(asked).message, label="More sources")
    assert "globex" not in shown(reply_of(more)).lower()


async def test_a_dm_cannot_list_show_or_find_a_server_document(synced_world, private_doc):
    w = synced_world
    listed = await w.loner.slash("doc list")
    assert "globex" not in shown(listed.response).lower()
    await w.loner.slash("doc show", document=private_doc)
    simcord.assert_error(w.env, DocumentNotFound)
    asked = await w.loner.slash("ask", question="What merger did the board of Acme agree?")
    assert "globex" not in shown(reply_of(asked)).lower()
    more = await w.loner.click(reply_of(asked).message, label="More sources")
    assert "globex" not in shown(reply_of(more)).lower()


async def test_another_server_cannot_remove_a_document(synced_world, private_doc):
    w = synced_world
    boss = w.other_guild.add_member(
        w.env.create_user("boss"),
        roles=[w.other_guild.create_role("Editors", permissions=discord.Permissions(manage_guild=True))],
    )
    result = await boss.slash(w.other_channel, "doc remove", document=private_doc)
    simcord.assert_error(w.env, DocumentNotFound)
    assert "no document" in reply_of(result).content
    assert (await w.kb.get_document(private_doc, scope=w.guild.id)).id == private_doc


# ---------------------------------------------------------------------------- odd option values


@pytest.fixture
def huge_integers(monkeypatch):
    """A forged client (or a future Discord) sending integers past 2**53: simcord checks Discord's
    limit on the client side, the bot must not rely on it."""
    monkeypatch.setattr(simcord.interactions, "_INTEGER_LIMIT", 10**30)


@pytest.mark.parametrize("command", ["doc show", "doc remove"])
@pytest.mark.parametrize("value", [10**20, -(10**20), 2**63, 0, -1, 2**53 - 1])
async def test_out_of_range_document_ids_are_a_clean_not_found(world, huge_integers, command, value):
    result = await world.mod.slash(world.channel, command, document=value)
    simcord.assert_error(world.env, DocumentNotFound)
    reply = reply_of(result)
    assert reply.ephemeral and "no document" in reply.content
    assert "Something went wrong" not in reply.content


@pytest.mark.parametrize("typed", ["9" * 20, "%", "_", "\\", "' OR 1=1 --", "\ud800", "x" * 6000, "\u202e", "\x00"])
@pytest.mark.parametrize("command", ["doc show", "doc remove"])
async def test_odd_autocomplete_text_gives_choices_not_errors(world, command, typed):
    choices = await world.mod.autocomplete(world.channel, command, "document", typed)
    assert isinstance(choices, list)
    assert all("\u202e" not in c["name"] and len(c["name"]) <= 100 for c in choices)


async def test_a_huge_since_is_a_clear_error(world):
    result = await world.user.slash(world.channel, "brief", since="99999999999d")
    simcord.assert_error(world.env, BadInput)
    reply = reply_of(result)
    assert reply.ephemeral and "one year at most" in reply.content


async def test_a_since_with_markdown_is_echoed_inert(world):
    result = await world.user.slash(world.channel, "brief", since=LINK)
    simcord.assert_error(world.env, BadInput)
    assert "12h, 3d, 1w" in reply_of(result).content
    assert_inert(reply_of(result).content)


# ---------------------------------------------------------------------------- failing buttons


async def test_a_failing_more_sources_answers_with_an_error_and_a_log_row(world, monkeypatch, caplog):
    result = await world.user.slash(world.channel, "ask", question=QUESTION)

    async def broken_search(*args, **kwargs):
        raise RuntimeError("index exploded")

    monkeypatch.setattr(world.kb, "search", broken_search)
    more = await world.user.click(reply_of(result).message, label="More sources")
    simcord.assert_error(world.env, RuntimeError)
    reply = reply_of(more)
    assert reply.ephemeral and "Something went wrong" in reply.content  # replaces "thinking"
    assert "index exploded" not in reply.content
    assert "index exploded" in caplog.text  # the traceback is logged
    [row] = await world.rows("more_sources")
    assert row.outcome.startswith("error") and row.user_id == world.user.id


async def test_a_failing_feedback_button_answers_with_an_error(world):
    result = await world.user.slash(world.channel, "ask", question=QUESTION)
    world.env.inject_error("POST", "/interactions/*/callback", status=500)
    clicked = await world.user.click(reply_of(result).message, label="👍")
    simcord.assert_error(world.env, discord.HTTPException)
    assert clicked.ephemeral and "Something went wrong" in clicked.response.content
    assert [r.outcome for r in await world.rows("feedback")][-1].startswith("error")


async def test_a_failing_page_turn_answers_with_an_error(world, monkeypatch):
    for i in range(12):
        await world.kb.add_text(
            f"Filler report {i} about nothing in particular, number {i}.", guild_id=world.guild.id, title=f"Filler {i}"
        )
    listed = await world.user.slash(world.channel, "doc list")

    async def broken_count(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(world.kb, "count_documents", broken_count)
    turned = await world.user.click(listed.response.message, label="Next")
    simcord.assert_error(world.env, sqlite3.OperationalError)
    assert turned.ephemeral and "Something went wrong" in reply_of(turned).content
    assert (await world.rows("component"))[-1].outcome.startswith("error")


# ---------------------------------------------------------------------------- attachments


@pytest.mark.parametrize(
    "filename,data",
    [
        ("virus.exe", b"MZ\x90\x00"),
        ("noextension", b"hello there"),
        ("empty.txt", b""),
        ("blank.txt", b"   \n\n\t  "),
        ("huge.txt", b"word " * 20_000),
        ("latin1.txt", "Caf\xe9 cr\xe8me on the harbour of Antwerp, reopened on Tuesday.".encode("latin-1")),
        ("garbage.txt", bytes(range(256)) * 8),
        ("fake.md", b"\xff\xfe\x00\x00" + b"\x00" * 64),
        (f"{LINK}.txt", b"A perfectly ordinary article about trams in Ghent."),
    ],
)
async def test_bad_attachments_get_a_clean_answer(world, filename, data):
    result = await world.mod.slash(world.channel, "doc add", file=(filename, data))
    reply = reply_of(result)
    assert reply.ephemeral
    assert "Something went wrong" not in reply.content
    assert_inert(reply.content)
    if "Added" not in reply.content:
        simcord.assert_error(world.env, KnowledgeError)
        assert (await world.rows("doc_add"))[-1].outcome.startswith("error: ")


async def test_a_duplicate_document_is_refused_cleanly(world):
    body = b"Port strike\n\nDock workers in Rotterdam stopped work on Monday over pay."
    await world.mod.slash(world.channel, "doc add", file=("a.txt", body))
    again = await world.mod.slash(world.channel, "doc add", file=("b.txt", body))
    simcord.assert_error(world.env, KnowledgeError)
    assert "already" in reply_of(again).content and reply_of(again).ephemeral


# ---------------------------------------------------------------------------- briefings


def briefings_in(channel, bot_id):
    return [
        m
        for m in channel.history()
        if m.author.id == bot_id and m.embeds and (m.embeds[0].title or "").startswith("Briefing")
    ]


async def test_a_failed_write_while_recording_a_briefing_never_posts_it_twice(world, settings, caplog):
    configured = dataclasses.replace(settings, briefing_channel_id=world.channel.id)
    await world.env.restart_bot(create_bot(configured))
    store = world.kb.store
    real = store.record_briefing_post
    calls = []

    async def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return await real(**kwargs)

    store.record_briefing_post = flaky
    await world.env.advance_time(8 * HOUR + 5)
    await world.env.advance_time(10 * 60)  # past every retry
    assert len(briefings_in(world.channel, world.bot.user.id)) == 1
    assert "retrying" in caplog.text
    assert await store.briefing_posted(world.channel.id, dt.date(2026, 1, 1))
    await world.env.advance_time(24 * HOUR)
    assert len(briefings_in(world.channel, world.bot.user.id)) == 2


async def test_a_second_brief_while_one_is_prepared_is_refused(world):
    cog = world.bot.get_cog("Briefings")
    async with cog.in_flight.hold(world.guild.id):
        result = await world.user.slash(world.channel, "brief")
        simcord.assert_error(world.env, Busy)
        assert result.ephemeral and result.response.content == render.error_message(BUSY_MESSAGE)
        # Another server is not held up by this one.
        other = await world.mod.slash(world.channel, "doc list")
        assert other.response is not None
    done = await world.user.slash(world.channel, "brief")
    assert reply_of(done).embeds[0].title.startswith("Briefing")
    assert [r.outcome for r in await world.rows("brief")] == ["busy", "posted"]


async def test_the_brief_guard_is_released_when_a_briefing_fails(world, monkeypatch):
    async def broken_brief(**kwargs):
        raise RuntimeError("model fell over")

    real = world.kb.brief
    monkeypatch.setattr(world.kb, "brief", broken_brief)
    await world.user.slash(world.channel, "brief")
    simcord.assert_error(world.env, RuntimeError)
    monkeypatch.setattr(world.kb, "brief", real)
    done = await world.user.slash(world.channel, "brief")
    assert reply_of(done).embeds[0].title.startswith("Briefing")


async def test_brief_is_rate_limited(world, settings):
    await world.env.restart_bot(create_bot(dataclasses.replace(settings, rate_limit_per_minute=2)))
    for _ in range(2):
        await world.user.slash(world.channel, "brief")
    third = await world.user.slash(world.channel, "brief")
    simcord.assert_error(world.env, discord.app_commands.CheckFailure)
    assert third.ephemeral and "Please wait" in third.response.content
