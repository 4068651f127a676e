"""What a conversation is about (``knowledge.conversation``): the documents the last answer quoted,
found from the answer as Discord showed it, and ranked first only when they hold the question."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge import KnowledgeBase, KnowledgeConfig
from knowledge.conversation import conversation_first, talked_of
from knowledge.embed import HashingEmbedder
from knowledge.models import Document, Passage
from knowledge.question import earlier_answers

COPPER = (
    "Copper prices hit a record high on Wednesday as a strike at the Escondida mine entered its third week.\n"
    "The union said on Tuesday it would not return to work before Christmas without a better offer."
)
PORT = "Dockworkers at the port of Rotterdam walked off the job on Monday. The FNV union said 800 jobs could go."


async def test_the_documents_talked_of_are_found_from_the_answer_as_discord_showed_it(tmp_path):
    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp_path / "kb.db"), embedder=HashingEmbedder())
    try:
        copper = await kb.add_text(COPPER, title="Copper hits record", published=dt.date(2026, 12, 2))
        await kb.add_text(PORT, title="Rotterdam dockworkers strike", published=dt.date(2026, 11, 30))
        # The embed's text: a note before the first quote, spaces collapsed across the passage's line
        # break, a zero-width space after the "@" the renderer neutralised, escapes.
        shown = (
            "(I read “Escondda” as “Escondida”.) Copper prices hit a record high on Wednesday as a strike at "
            "the Escondida mine entered its third week. The union said on Tuesday it would not return to "
            "work before Christmas without a better offer. [1]"
        ).replace("the Escondida", "the\u200b Escondida")
        found = await talked_of(kb, earlier_answers([shown]), None)
        nothing = await talked_of(kb, earlier_answers(["No quote here."]), None)
    finally:
        await kb.close()
    assert found == {copper.id}
    assert nothing == set()


def _rows(docs: dict[int, tuple[int, str]]) -> dict[int, tuple[Passage, Document]]:
    out = {}
    for pid, (doc_id, text) in docs.items():
        doc = Document(
            id=doc_id,
            title=f"Doc {doc_id}",
            source=None,
            published=None,
            author=None,
            guild_id=None,
            origin="test",
            content_hash="h",
            added_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        )
        out[pid] = (Passage(pid, doc_id, 0, 0, 0, len(text), text), doc)
    return out


def test_the_document_talked_of_comes_first_only_when_it_holds_the_question_as_well():
    rows = _rows({1: (10, "The FNV union said 800 jobs could go."), 2: (20, "The union would not return to work.")})
    scores = {1: 2.0, 2: 0.5}
    # Both hold "union": the conversation's document goes ahead, by 0.5, in its order.
    ahead = conversation_first(scores, rows, {20}, ["union", "want"], 0.5)
    assert ahead == {1: 2.0, 2: pytest.approx(2.5)}
    # A new topic the conversation's document does not hold ("Lagarde") leaves the ranking alone.
    assert conversation_first(scores, rows, {20}, ["lagarde"], 0.5) == scores
    # Holding less of the question than another passage: alone too.
    assert conversation_first(scores, rows, {20}, ["fnv", "union"], 0.5) == scores
