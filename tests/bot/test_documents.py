"""/doc add, remove, list and show through simcord: permission paths, attachments, the modal, URLs
from a local HTTP server, errors, scopes, and the log rows each writes."""

from dataclasses import replace

import discord
import pytest
import simcord
from aiohttp import web
from bot_helpers import OTHER_GUILD, acknowledged_by_defer, reply_of

from knowledge.errors import (
    DocumentNotFound,
    DuplicateDocument,
    EmptyDocument,
    FetchError,
    FileTooLarge,
    UnsupportedFileType,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

ARTICLE = (
    b"Port strike\n\nDock workers in Rotterdam stopped work on Monday over pay.\n\nThe strike closed two terminals."
)
PAGE = b"""<html><head><title>Harbour reopens</title></head><body><article><h1>Harbour reopens</h1>
<p>The harbour of Antwerp reopened on Tuesday after a three-day closure caused by a storm surge.</p>
<p>Shipping companies said the backlog would take a week to clear.</p></article></body></html>"""


async def own_documents(world, guild_id=None):
    guild_id = guild_id or world.guild.id
    return [d for d in await world.kb.list_documents(scope=guild_id) if d.guild_id == guild_id]


async def test_moderator_adds_an_attachment(world):
    result = await world.mod.slash(world.channel, "doc add", file=("strike.txt", ARTICLE))
    assert acknowledged_by_defer(world.env)
    reply = reply_of(result)
    assert reply.ephemeral
    assert "Added" in reply.content and "Port strike" in reply.content
    [doc] = await own_documents(world)
    assert doc.title == "Port strike"
    row = (await world.rows("doc_add"))[-1]
    assert (row.outcome, row.user_id, row.guild_id, row.ref_id) == ("added", world.mod.id, world.guild.id, doc.id)
    assert row.channel_id == world.channel.id and "strike.txt" in row.input


async def test_manage_server_counts_as_moderator(world):
    result = await world.manager.slash(world.channel, "doc add", file=("strike.txt", ARTICLE), title="Strike")
    assert "Added" in reply_of(result).content
    assert [d.title for d in await own_documents(world)] == ["Strike"]


async def test_member_without_the_role_is_refused_and_logged(world):
    result = await world.user.slash(world.channel, "doc add", file=("strike.txt", ARTICLE))
    simcord.assert_error(world.env, discord.app_commands.CheckFailure)
    assert result.ephemeral and "Only moderators" in result.response.content
    assert await own_documents(world) == []
    [row] = await world.rows("denied")
    assert row.user_id == world.user.id and row.outcome == "denied" and row.input.startswith("doc_add")


async def test_unsupported_file_type_is_a_clear_ephemeral_error(world):
    result = await world.mod.slash(world.channel, "doc add", file=("photo.png", b"\x89PNG...."))
    simcord.assert_error(world.env, UnsupportedFileType)
    reply = reply_of(result)
    assert reply.ephemeral and "unsupported file type .png" in reply.content
    assert (await world.rows("doc_add"))[-1].outcome == "error: UnsupportedFileType"


async def test_too_large_file_is_refused(world):
    big = b"word " * (70 * 1024 // 5)  # over the 64 KB limit of the test settings
    result = await world.mod.slash(world.channel, "doc add", file=("big.txt", big))
    simcord.assert_error(world.env, FileTooLarge)
    assert "over the" in reply_of(result).content and reply_of(result).ephemeral
    assert await own_documents(world) == []


async def test_empty_file_is_refused(world):
    result = await world.mod.slash(world.channel, "doc add", file=("empty.txt", b"   \n"))
    simcord.assert_error(world.env, EmptyDocument)
    assert "empty" in reply_of(result).content


async def test_duplicate_is_refused(world):
    await world.mod.slash(world.channel, "doc add", file=("strike.txt", ARTICLE))
    result = await world.mod.slash(world.channel, "doc add", file=("copy.txt", ARTICLE))
    simcord.assert_error(world.env, DuplicateDocument)
    assert "already indexed" in reply_of(result).content
    assert len(await own_documents(world)) == 1


async def test_two_sources_at_once_are_refused(world):
    result = await world.mod.slash(world.channel, "doc add", file=("strike.txt", ARTICLE), url="http://127.0.0.1:9/x")
    simcord.assert_error(world.env)
    assert "one of" in result.response.content and result.ephemeral


async def test_text_opens_a_modal_and_submitting_adds_the_text(world):
    shown = await world.mod.slash(world.channel, "doc add", text=True, title="Council notes")
    assert shown.modal is not None
    submitted = await world.mod.submit_modal(
        shown, {"doc_title": "Council notes", "body": "The council approved the new tram line on Thursday."}
    )
    assert "Added" in reply_of(submitted).content and reply_of(submitted).ephemeral
    [doc] = await own_documents(world)
    assert doc.title == "Council notes" and doc.origin == "pasted text"
    assert (await world.rows("doc_add"))[-1].outcome == "added"


async def test_no_option_opens_the_modal_too(world):
    shown = await world.mod.slash(world.channel, "doc add")
    assert shown.modal is not None and shown.modal["title"] == "Add a document"


async def test_non_moderator_gets_no_modal(world):
    shown = await world.user.slash(world.channel, "doc add", text=True)
    simcord.assert_error(world.env, discord.app_commands.CheckFailure)
    assert shown.modal is None and "Only moderators" in shown.response.content


@pytest.fixture
def settings(settings):
    """The loopback web server below is opted in, as an intranet would be (loopback is refused by
    default: tests/hostile/test_hostile_fetch.py)."""
    return replace(settings, knowledge=replace(settings.knowledge, fetch_allow=("127.0.0.1",)))


@pytest.fixture
async def web_server(loopback_server):
    async def page(request):
        return web.Response(body=PAGE, content_type="text/html")

    async def missing(request):
        return web.Response(status=404, text="no")

    app = web.Application()
    app.router.add_get("/harbour", page)
    app.router.add_get("/missing", missing)
    async with loopback_server(app) as url:
        yield url


async def test_url_is_fetched_and_added(world, web_server):
    result = await world.mod.slash(world.channel, "doc add", url=f"{web_server}/harbour")
    assert "Added" in reply_of(result).content
    [doc] = await own_documents(world)
    assert doc.title == "Harbour reopens" and doc.origin == f"{web_server}/harbour"


async def test_unfetchable_url_is_a_clear_error(world, web_server):
    result = await world.mod.slash(world.channel, "doc add", url=f"{web_server}/missing")
    simcord.assert_error(world.env, FetchError)
    assert "404" in reply_of(result).content and reply_of(result).ephemeral


async def test_credentials_in_a_url_stay_out_of_the_origin_and_the_log(world, web_server):
    secret = web_server.replace("http://", "http://editor:hunter2@")
    await world.mod.slash(world.channel, "doc add", url=f"{secret}/harbour")
    await world.mod.slash(world.channel, "doc add", url=f"{secret}/missing")
    simcord.assert_error(world.env, FetchError)
    [doc] = await own_documents(world)
    assert doc.origin == f"{web_server}/harbour"
    added, failed = (await world.rows("doc_add"))[-2:]
    assert added.outcome == "added" and failed.outcome == "error: FetchError"
    assert "hunter2" not in added.input and "hunter2" not in failed.input


async def test_remove_with_autocomplete_offers_only_this_servers_documents(world):
    await world.mod.slash(world.channel, "doc add", file=("strike.txt", ARTICLE))
    [doc] = await own_documents(world)
    choices = await world.mod.autocomplete(world.channel, "doc remove", "document", "")
    assert [c["value"] for c in choices] == [doc.id]  # the seed (global) is not offered
    assert "Port strike" in choices[0]["name"]
    assert await world.mod.autocomplete(world.channel, "doc remove", "document", "zzz") == []
    result = await world.mod.slash(world.channel, "doc remove", document=doc.id)
    assert "Removed" in reply_of(result).content
    assert await own_documents(world) == []
    assert (await world.rows("doc_remove"))[-1].ref_id == doc.id


async def test_a_seed_cannot_be_removed_from_a_server(world):
    seed = [d for d in await world.kb.list_documents(scope=world.guild.id) if d.guild_id is None][0]
    result = await world.mod.slash(world.channel, "doc remove", document=seed.id)
    simcord.assert_error(world.env, DocumentNotFound)
    assert reply_of(result).ephemeral
    assert await world.kb.get_document(seed.id)


async def test_member_cannot_remove(world):
    await world.mod.slash(world.channel, "doc add", file=("strike.txt", ARTICLE))
    [doc] = await own_documents(world)
    result = await world.user.slash(world.channel, "doc remove", document=doc.id)
    simcord.assert_error(world.env, discord.app_commands.CheckFailure)
    assert "Only moderators" in result.response.content
    assert len(await own_documents(world)) == 1
    assert (await world.rows("denied"))[-1].user_id == world.user.id


async def test_list_is_paginated_for_everyone(world):
    for i in range(12):
        await world.kb.add_text(
            f"Note number {i} about the harbour budget {i * 7}.", guild_id=world.guild.id, title=f"Note {i}"
        )
    result = await world.user.slash(world.channel, "doc list")
    assert result.ephemeral
    first = result.response.embeds[0]
    assert first.footer.text.startswith("Page 1 of 2 · 15 documents")  # 12 notes + 3 seeds
    assert first.description.count("`#") == 10
    turned = await world.user.click(result.response, label="Next")
    page2 = turned.response.embeds[0]
    assert page2.footer.text.startswith("Page 2 of 2")
    assert page2.description.count("`#") == 5


async def test_show_displays_a_document(world):
    [seed] = await world.kb.list_documents(scope=world.guild.id, title_like="Kazakhstan")
    result = await world.user.slash(world.channel, "doc show", document=seed.id)
    embed = result.response.embeds[0]
    assert result.ephemeral and embed.title == f"#{seed.id} {seed.title}"
    assert "Collective Security Treaty" in embed.description


async def test_a_guilds_document_is_invisible_from_another_guild(world):
    await world.mod.slash(world.channel, "doc add", file=("strike.txt", ARTICLE))
    [doc] = await own_documents(world)
    other = world.env.create_guild("Elsewhere", id=OTHER_GUILD)
    other_channel = other.create_text_channel("general")
    stranger = other.add_member(world.env.create_user("stranger"))
    # Commands reach the other guild through the deliberate global sync.
    await world.admin.slash(world.channel, "sync", scope="global")
    listed = await stranger.slash(other_channel, "doc list")
    assert "Port strike" not in listed.response.embeds[0].description
    assert "Kazakhstan" in listed.response.embeds[0].description  # seeds are everywhere
    shown = await stranger.slash(other_channel, "doc show", document=doc.id)
    simcord.assert_error(world.env, DocumentNotFound)
    assert "no document" in shown.response.content
    asked = await stranger.slash(other_channel, "ask", question="Why did dock workers in Rotterdam strike?")
    embed = reply_of(asked).embeds[0]
    assert all("Port strike" not in f.name for f in embed.fields)


async def test_modal_errors_reach_the_one_error_handler(world):
    await world.kb.add_text(
        "The council approved the new eastern tram line on Thursday after a debate.",
        guild_id=world.guild.id,
        title="Tram",
    )
    shown = await world.mod.slash(world.channel, "doc add", text=True)
    submitted = await world.mod.submit_modal(
        shown, {"body": "The council approved the new eastern tram line on Thursday after a debate."}
    )
    simcord.assert_error(world.env, DuplicateDocument)
    assert "already indexed" in reply_of(submitted).content and reply_of(submitted).ephemeral
    assert (await world.rows("doc_add"))[-1].outcome == "error: DuplicateDocument"
