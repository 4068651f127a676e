import pytest
import simcord

from knowledge.errors import DuplicateDocument, FileTooLarge, UnsupportedFileType

from bot_helpers import acknowledged_by_defer, reply_of

pytestmark = pytest.mark.asyncio(loop_scope="session")

ARTICLE = b"Port strike\n\nDock workers in Rotterdam stopped work on Monday over pay.\n\nThe strike closed two terminals."


async def test_moderator_adds_an_attachment(world):
    result = await world.mod.slash(world.channel, "doc add", file=("strike.txt", ARTICLE))
    assert acknowledged_by_defer(world.env)
    reply = reply_of(result)
    assert reply.ephemeral
    assert "Added" in reply.content
    docs = await world.kb.list_documents(scope=world.guild.id)
    added = [d for d in docs if d.guild_id == world.guild.id]
    assert len(added) == 1 and added[0].title == "Port strike"
    rows = await world.rows("doc_add")
    assert rows[-1]["outcome"] == "added" and rows[-1]["user_id"] == world.mod.id
    assert rows[-1]["ref_id"] == added[0].id
