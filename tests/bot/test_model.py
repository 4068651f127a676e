"""The bot over the real embedding model (loaded once per session), end to end through /ask."""

import pytest
from bot_helpers import ANSWER_SENTENCE, QUESTION, reply_of

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.model]


@pytest.fixture
def embedder(real_embedder):
    return real_embedder


async def test_ask_with_the_real_model_cites_the_seed(world):
    result = await world.user.slash(world.channel, "ask", question=QUESTION)
    embed = reply_of(result).embeds[0]
    assert not embed.title.startswith("No answer")
    assert ANSWER_SENTENCE in embed.description
    assert embed.fields[0].name.startswith("[1] Council approves tram line")
    [row] = await world.rows("ask")
    assert row.outcome == "answered" and row.passage_ids
