"""A team's own kinds of documents with the real model, asked alone and in a conversation: a
news story with a toll, release notes in sections, and an e-mail thread."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge import KnowledgeBase, KnowledgeConfig
from knowledge.question import Reply

LATER = dt.datetime(2027, 6, 1, 9, 0, tzinfo=dt.UTC)

TUNNEL = (
    "BERGEN — The new harbour tunnel opened to traffic on Saturday, two years behind schedule and 40% over "
    "budget.\n\nThe 3.2-kilometre tunnel cost 6.1 billion kroner, against a budget of 4.3 billion.\n\n"
    "Tolls\n\nCars will pay a toll of 45 kroner each way; electric cars pay half. The toll will be collected "
    "for 15 years to repay the loans.\n\nCriticism\n\nThe Green Party said the tunnel would bring more "
    'traffic, not less, and called the project "a motorway under the sea". Cycling groups criticised the '
    "lack of a bike lane."
)
NOTES = (
    "Version 4.2 — November 18, 2026\n\nNew\n\n- Bank feeds now sync every 15 minutes instead of hourly.\n\n"
    "- Invoices can be sent in Norwegian, Swedish and Danish.\n\nFixed\n\n"
    "- Exporting a VAT return no longer fails when an invoice has no customer.\n\n"
    "Version 4.1 — October 2, 2026\n\nNew\n\n- Two-factor authentication with hardware keys.\n\nFixed\n\n"
    "- Duplicate payments were shown twice in the bank reconciliation view."
)
ROADMAP = (
    "Q1 2027\n\n• Offline mode for the shopping list\n\n• Apple Pay and Google Pay at checkout\n\n"
    "Q2 2027\n\n• Loyalty points, replacing the paper stamp card\n\n• Dark mode"
)
EV_MARKET = (
    "Electric cars took 34% of new car sales in the Nordic countries in the third quarter, up from 29% a "
    "year earlier. Norway remains the leader, where nine in ten new cars are electric."
)


@pytest.fixture(scope="module")
async def kb(tmp_path_factory, real_embedder):
    kb = await KnowledgeBase.open(KnowledgeConfig(db=tmp_path_factory.mktemp("team") / "kb.db"), embedder=real_embedder)
    await kb.add_text(TUNNEL, title="Harbour tunnel opens two years late", published=dt.date(2026, 10, 5))
    await kb.add_text(NOTES, title="Ledgerly release notes")
    await kb.add_text(ROADMAP, title="Mobile app roadmap 2027")
    await kb.add_text(EV_MARKET, title="Nordic EV market report", published=dt.date(2026, 11, 2))
    yield kb
    await kb.close()


async def _conversation(kb: KnowledgeBase, *questions: str) -> list[str]:
    history: list = []
    out = []
    for question in questions:
        answer = await kb.ask(question, history=history[-6:], now=LATER)
        history += [question, Reply(answer.text)]
        out.append(answer.text)
    return out


@pytest.mark.model
async def test_how_much_a_toll_is_asks_for_a_sum_of_money(kb):
    # "The toll will be collected for 15 years" came first: a number, and no sum of money.
    [toll] = await _conversation(kb, "How much is the toll?")
    assert toll.startswith("Cars will pay a toll of 45 kroner"), toll


@pytest.mark.model
async def test_a_follow_up_answered_in_passing_by_the_last_answer_quotes_that_sentence_again(kb):
    # "and for electric cars?" after the toll's answer got the EV market report: the sentence that
    # answers it had been said, in passing. Quoted again alone, never the whole answer again.
    toll, electric = await _conversation(kb, "How much is the toll?", "and for electric cars?")
    assert "electric cars pay half" in toll and "15 years" in toll, toll
    assert electric.split(" [1]")[0] == "Cars will pay a toll of 45 kroner each way; electric cars pay half.", electric
    critics, called = await _conversation(kb, "Who criticised the tunnel?", "what did they call it?")
    assert "motorway under the sea" in critics and "Cycling groups" in critics, critics
    assert called.startswith("The Green Party said") and "Cycling" not in called, called


@pytest.mark.model
async def test_a_follow_up_whose_words_only_a_heading_holds_is_answered_from_that_section(kb):
    # "and in 4.1?" after the fixes of version 4.2: only the headings say "4.1", and the sentence
    # was chosen by meaning alone among all the release notes ("Support for Internet Explorer").
    fixed, earlier = await _conversation(kb, "What was fixed in version 4.2?", "and in 4.1?")
    assert fixed.startswith("- Exporting a VAT return"), fixed
    assert earlier.startswith("- Duplicate payments were shown twice"), earlier


@pytest.mark.model
async def test_the_holder_of_a_role_is_named_next_to_it_or_refused(kb):
    # "Who is the CEO of Ledgerly?" was answered with its release notes, which name nobody.
    ceo = await kb.ask("Who is the CEO of Ledgerly?", now=LATER)
    assert ceo.abstained, ceo.text


@pytest.mark.model
async def test_a_when_answer_whose_date_is_its_sections_heading_says_the_heading(kb):
    # "When is Apple Pay coming?" got "• Apple Pay and Google Pay at checkout": its "Q1 2027" only
    # in the heading above it, which the quote leaves out.
    [apple] = await _conversation(kb, "When is Apple Pay coming?")
    assert apple.startswith("• Apple Pay and Google Pay at checkout [1]"), apple
    assert apple.endswith("\n(Under “Q1 2027”.)"), apple
    [fix] = await _conversation(kb, "When did version 4.2 come out?")  # the date in the answer: no note
    assert "Under" not in fix, fix
