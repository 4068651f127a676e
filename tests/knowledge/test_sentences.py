"""Choosing the answer's sentences (``knowledge.sentences``) and the words' weights they rest on
(``knowledge.termweights``): pure functions, hand-checked numbers."""

from __future__ import annotations

import math

import pytest

from knowledge import termweights
from knowledge.measures import duration_asked, has_duration
from knowledge.retrieval import query_terms
from knowledge.sentences import (
    Candidate,
    SentenceWeights,
    after_said,
    by_meaning,
    candidates,
    local_weights,
    question_parts,
    select,
    wants_explanation,
    with_parts,
)
from knowledge.termweights import acronyms, coverage, match_stem, respelled, stem_weights, text_stems, word_weight
from knowledge.text import NUMBERED, content_words, is_heading

# ---------------------------------------------------------------------------- word weights


def test_rare_words_weigh_more_than_common_ones_whatever_is_indexed():
    assert word_weight("the") < 0.5
    assert word_weight("said") < word_weight("president") < word_weight("kazakhstan") < word_weight("tokayev")
    assert word_weight("Tokayev") == word_weight("tokayev") == termweights.CEILING  # unknown to the list
    assert word_weight("2,500") == word_weight("2018") == termweights.NUMBER_WEIGHT


def test_nothing_to_match_is_a_line_of_unknown_words_found_nowhere():
    read = ["President Kassym-Jomart Tokayev said the mission was completed.", "Some 2,500 troops were sent."]
    assert termweights.nothing_to_match("qwertyuiop", read)
    assert termweights.nothing_to_match("zxcvbnm hjkl!", read)
    # A misspelt name of a passage read, an English word, a number: something to match.
    assert not termweights.nothing_to_match("tokaev", read)
    assert not termweights.nothing_to_match("qwertyuiop troops", read)
    assert not termweights.nothing_to_match("qwertyuiop 2500", read)
    assert not termweights.nothing_to_match("", read)
    # A question about a word nobody knows is still a question (xquad-en misspells "cydippids").
    assert not termweights.nothing_to_match("Cypiddids are not what?", read)


def test_stem_weights_key_by_stem_in_sorted_order_and_keep_the_heaviest():
    weights = stem_weights(["troops", "troop", "kazakhstan", "arrived"])
    assert list(weights) == sorted(weights)
    assert weights["troop"] == max(word_weight("troops"), word_weight("troop"))


def test_coverage_is_a_weighted_share():
    weights = {"troop": 1.0, "kazakhstan": 3.0}
    assert coverage(weights, {"kazakhstan"}) == pytest.approx(0.75)
    assert coverage(weights, set()) == 0.0
    assert coverage({}, {"kazakhstan"}) == 0.0


def test_coverage_does_not_depend_on_the_order_of_the_weights():
    weights = {f"w{i}": 0.1 * (i % 7) + 1e-9 * i for i in range(40)}
    reordered = dict(reversed(list(weights.items())))
    have = {f"w{i}" for i in range(0, 40, 3)}
    assert coverage(weights, have) == coverage(reordered, have)  # exactly, not approximately


def test_a_word_no_text_holds_and_english_does_not_know_is_read_as_the_one_it_misspells():
    texts = ["Helvia Foods posts record profit", "ECB President Christine Lagarde said the bank was in a good place."]
    assert respelled("Who is the CEO of Helvai?", texts) == ("Who is the CEO of Helvia?", [("Helvai", "Helvia")])
    assert respelled("what did lagard say", texts) == ("what did Lagarde say", [("lagard", "Lagarde")])
    # English words, numbers, short words and names found as typed stay as they are.
    for line in ("What did the bank say?", "Who is Lagarde?", "What is 2025?", "Is Tokayev there?"):
        assert respelled(line, texts) == (line, [])
    # A possessive is no misspelling: "(I read “Helvia's” as “Helvia”.)" opened the answer.
    assert respelled("What is Helvia's profit?", texts) == ("What is Helvia's profit?", [])
    assert respelled("What is Helvai’s profit?", texts) == ("What is Helvia’s profit?", [("Helvai’s", "Helvia’s")])


@pytest.mark.parametrize(
    ("asked", "written"),
    [
        ("keep", "kept"),
        ("win", "won"),
        ("die", "died"),
        ("send", "sent"),
        ("child", "children"),
        ("say", "said"),
        ("fall", "fell"),
    ],
)
def test_an_irregular_form_meets_its_base(asked, written):
    # Porter leaves each pair apart ("kept" / "keep", "died" -> "di" / "die").
    assert match_stem(asked) == match_stem(written)
    assert coverage(stem_weights([asked]), text_stems(f"The council {written} it.")) == 1.0


@pytest.mark.parametrize(
    ("asked", "written"),
    [
        ("killed", "deaths"),
        ("died", "dead"),
        ("killed", "fatalities"),
        ("injured", "injuries"),
        ("injured", "wounded"),
        ("won", "beat"),
        ("win", "defeated"),
        ("won", "victory"),
        ("cost", "price"),
        ("costs", "priced"),
    ],
)
def test_words_news_uses_for_one_toll_or_one_result_meet_as_one(asked, written):
    # "Was anyone killed in the storm?" quoted the landfall, not "No deaths have been reported";
    # Porter even leaves "injured" ("injur") and "injuries" ("injuri") apart. "Who won the match
    # between Rovers and Castlefield?" quoted the next fixtures, which name both, not "Rovers beat".
    assert match_stem(asked) == match_stem(written)
    assert coverage(stem_weights([asked]), text_stems(f"Officials reported {written}.")) == 1.0
    assert match_stem("killed") != match_stem("injured") and match_stem("dead") != match_stem("deadline")


def test_a_past_with_another_reading_is_read_as_the_past_and_other_words_stay():
    # "fell" is also a hill, "found" also to found a company: in news they are fall and find.
    assert match_stem("fell") == match_stem("fall") and match_stem("found") == match_stem("find")
    assert match_stem("founded") == "found" != match_stem("found")
    assert match_stem("data") == "data"  # datum or data: not a past, so as it is


def test_acronyms_are_the_initials_of_every_run_of_capitalised_names():
    text = "FRANKFURT - The European Central Bank kept its rate, as the Bank of England did."
    assert {"ecb", "boe"} <= acronyms(text)
    assert acronyms("the troops arrived last week") == set()


def test_a_question_by_acronym_meets_the_name_in_full():
    # The lead sentence names the bank in full and says "kept": it held none of "ECB", "keep".
    weights = stem_weights(["rate", "ecb", "keep"])
    lead = "The European Central Bank kept its deposit rate at 2.25% on Thursday."
    quote = 'ECB President Christine Lagarde said the bank was "in a good place".'
    assert coverage(weights, text_stems(lead)) == 1.0
    ranked = candidates("What rate did the ECB keep?", weights, [(1, 1.0)], {1: f"{quote} {lead}"}, {})
    assert "2.25%" in ranked[0].text


def test_a_name_typed_without_its_accents_meets_it():
    # "Will jobs be lost at the port of Gdansk?" did not meet the interview's "Gdańsk" (the index
    # had found it: FTS5 drops accents), and "Who is Ivana Peric?" lost confidence.
    assert match_stem("Gdansk") == match_stem("Gdańsk") and match_stem("Peric") == match_stem("Perić")
    assert coverage(stem_weights(["Gdansk"]), text_stems("The port of Gdańsk")) == 1.0


@pytest.mark.parametrize(
    ("asked", "written"),
    [
        ("CEO", "Chief executive Anna Keller said the company would raise its dividend."),
        ("chief executive", "Helvia's CEO, Anna Keller, said the company would raise its dividend."),
        ("GDP", "Gross domestic product grew 1.1% in the third quarter."),
        ("EV", "Demand for electric-vehicle batteries rose 24%."),
    ],
)
def test_initials_news_writes_for_lowercase_words_meet_the_words(asked, written):
    # "Who is the CEO of Helvia?" found no CEO: the article says "Chief executive Anna Keller".
    weights = stem_weights(asked.split())
    assert coverage(weights, text_stems(written)) == 1.0
    assert coverage(weights, text_stems("Helvia shares rose 3.2% in early trading in Zurich.")) == 0.0


# ---------------------------------------------------------------------------- scoring


QUESTION = "Who is the president of Kazakhstan?"
PASSAGES = {
    1: "Experts said Russia's role had grown in the region. Kazakhstan asked for help last week.",
    2: "The president of Kazakhstan, Kassym-Jomart Tokayev, said the mission was complete.",
}
TITLES = {1: "Experts on the region", 2: "Troops to leave"}


def _ranked(top=((1, 2.0), (2, 1.0))):
    return candidates(QUESTION, stem_weights(["president", "kazakhstan"]), list(top), PASSAGES, TITLES)


def test_the_sentence_that_holds_the_answer_comes_first_from_any_passage():
    ranked = _ranked()
    # Passage 1 ranks first, but only passage 2 names a president of Kazakhstan.
    assert ranked[0].passage_id == 2 and "Tokayev" in ranked[0].text
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)


def test_a_sentence_score_is_the_weighted_sum_of_its_signals():
    s = SentenceWeights()
    ranked = _ranked()
    tokayev = next(c for c in ranked if "Tokayev" in c.text)
    # Passage 2 (score 1.0 against the best 2.0), not the best passage, its opening sentence, both
    # question words (so all of their weight among the sentences read too), a name the question
    # lacks next to the role it asks for ("Who is the president ...?"); "who" asks no quantity, so
    # that signal holds.
    expected = s.passage * (1.0 - 2.0) + s.opening + s.terms + s.terms_local + s.terms_titled + s.quantity + s.role
    assert tokayev.coverage == 1.0
    assert tokayev.score == pytest.approx(expected)


def test_a_word_every_sentence_read_holds_weighs_less_for_choosing_among_them():
    weights = {"lumora": 1.0, "expand": 0.5}
    read = [{"lumora", "found"}, {"lumora", "home"}, {"compani", "expand"}]
    local = local_weights(weights, read)
    # log((3 + 1) / (2 + 0.5)) and 0.5 * log((3 + 1) / (1 + 0.5)), worked by hand.
    assert local["lumora"] == pytest.approx(0.470004, abs=1e-6)
    assert local["expand"] == pytest.approx(0.490415, abs=1e-6)
    # A word every sentence holds tells them apart no more than one none holds.
    assert local_weights({"x": 1.0}, [{"x"}, {"x"}])["x"] == pytest.approx(math.log(3 / 2.5))


def test_a_sentence_with_the_question_s_own_verb_beats_others_that_only_name_the_company():
    # "Where will Lumora expand next?" over Lumora's press release: the name is in most of its
    # sentences and in the title; the answer is the one sentence that says "expand".
    passages = {
        7: "Lumora Health was founded in 2015 by Erik Nygaard. Lumora Health employs 430 people in Oslo. "
        "Lumora Health is listed on the Oslo Stock Exchange. The company plans to expand to Stavanger and "
        "Tromsø in 2028."
    }
    args = ("Where will Lumora expand next?", stem_weights(["lumora", "expand"]), [(7, 1.0)], passages, {7: "Lumora"})
    order = [c.text.split()[-1] for c in candidates(*args)]
    # Only the opening sentence (news puts the answer first) stays ahead of it.
    assert order == ["Nygaard.", "2028.", "Exchange.", "Oslo."]
    # Without the words' rarity among the sentences read, every sentence naming Lumora won.
    plain = candidates(*args, SentenceWeights(terms=3.026, terms_local=0.0, terms_titled=1.055))
    assert plain[-1].text.endswith("2028.")


def test_the_adjective_of_how_long_asks_for_a_kind_of_answer_and_is_not_matched():
    # "How long has the strike lasted?" quoted "a long strike" first.
    passages = {1: "The strike entered its third week on Monday. Analysts expect a long strike, a trader said."}
    question = "How long has the strike lasted?"
    ranked = candidates(question, stem_weights(["long", "strike", "lasted"]), [(1, 1.0)], passages, {1: "Mine"})
    assert ranked[0].text.startswith("The strike entered its third week")
    # The same adjective elsewhere in a question is a word like any other.
    other = candidates(
        "Who expects a long strike?", stem_weights(["expects", "long", "strike"]), [(1, 1.0)], passages, {1: "Mine"}
    )
    assert other[0].text.startswith("Analysts expect a long strike")


def test_who_holds_a_role_is_answered_by_a_name_next_to_it_not_by_any_name():
    # "Who is the CEO of Helvia?" quoted "Helvia shares rose ... in Zurich" (a capitalised word is
    # a name) over "Chief executive Anna Keller said ...".
    passages = {
        3: "Markets were mixed on Monday. Helvia shares rose 3.2% in early trading in Zurich. Chief executive "
        "Anna Keller said the company would raise its dividend."
    }
    question = "Who is the CEO of Helvia?"
    ranked = candidates(question, stem_weights(["ceo", "helvia"]), [(3, 1.0)], passages, {3: "Helvia Foods"})
    order = [c.text.split()[0] for c in ranked]
    assert order.index("Chief") < order.index("Helvia"), order


def test_a_sentence_opening_with_a_pronoun_holds_the_names_of_the_one_before():
    # "She retired in 2001" answers "When did Olsen retire?": its "She" is the Olsen the sentence
    # before named. Without that, the opening sentence (Olsen and a year) came first.
    passages = {
        4: "Born in Tromsø in 1933, Margarethe Olsen joined the Institute of Marine Research in 1961. "
        "She retired in 2001 but kept diving until she was 80."
    }
    question = "When did Olsen retire?"
    weights = stem_weights(["olsen", "retire"])
    ranked = candidates(question, weights, [(4, 1.0)], passages, {4: "Obituary"})
    assert ranked[0].text.startswith("She retired"), [c.text for c in ranked]
    assert ranked[0].coverage == pytest.approx(1.0)
    # Only a pronoun opening takes them: a sentence that names someone else keeps its own words.
    other = {4: passages[4].replace("She retired", "Ivar Dahl retired")}
    assert candidates(question, weights, [(4, 1.0)], other, {4: "Obituary"})[0].text.startswith("Born")


def test_a_name_next_to_the_role_asked_beats_the_company_s_name_in_the_opening_line():
    # "Who is Aldwyn's CEO?" over a call's transcript quoted "Welcome to the Aldwyn Pharma call".
    passages = {
        5: "Operator: Welcome to the Aldwyn Pharma third-quarter call. Today's speakers are CEO Rachel Lim "
        "and CFO David Osei. Sales of our heart drug Corvexa rose 22%."
    }
    question = "Who is Aldwyn's CEO?"
    ranked = candidates(question, stem_weights(["aldwyn", "ceo"]), [(5, 1.0)], passages, {5: "Earnings call"})
    assert ranked[0].text.startswith("Today's speakers"), [c.text for c in ranked]
    # At the weight any other kind of answer has, the opening line won.
    plain = candidates(
        question,
        stem_weights(["aldwyn", "ceo"]),
        [(5, 1.0)],
        passages,
        {5: "Earnings call"},
        SentenceWeights(role=1.266),
    )
    assert plain[0].text.startswith("Operator")


def test_a_section_holds_its_heading_and_title_so_a_name_alone_does_not_outweigh_them():
    # "What are the risks for Vantor?" over an analyst's note quoted its revenue line, which names
    # Vantor, before the sentences under "Risks", which name neither (the title does).
    passages = {
        1: "Vantor Systems reported third-quarter revenue of $412 million, up 14% from a year earlier.",
        2: "Risks\n\nCustomer concentration remains high: three clients account for 41% of sales. "
        "A slowdown in hyperscaler spending would hit orders within two quarters.",
    }
    titles = {1: "Vantor Systems: Q3 review", 2: "Vantor Systems: Q3 review"}
    question = "What are the risks for Vantor?"
    weights = stem_weights(["risks", "vantor"])
    for top in ([(1, 1.0), (2, 0.9)], [(2, 1.0), (1, 0.9)]):
        ranked = candidates(question, weights, top, passages, titles)
        assert ranked[0].passage_id == 2 and ranked[1].passage_id == 2, [c.text for c in ranked]
    # Without the heading the revenue line, which names Vantor, still comes first.
    plain = {**passages, 2: passages[2].removeprefix("Risks\n\n")}
    assert candidates(question, weights, [(1, 1.0), (2, 0.9)], plain, titles)[0].passage_id == 1


def test_under_one_heading_the_sentence_that_writes_the_words_comes_first():
    # "How many days of annual leave do employees get?": both lines under "3.1 Annual leave" hold
    # a number of days and, through the heading and the title, "annual leave" and "employee".
    passage = (
        "3.1 Annual leave\n\nFull-time employees receive 27 days of paid annual leave per calendar year. "
        "Up to 5 unused days may be carried over to the next year; the rest expire on 31 March."
    )
    question = "How many days of annual leave do employees get?"
    weights = stem_weights(["days", "annual", "leave", "employees", "get"])
    ranked = candidates(question, weights, [(1, 1.0)], {1: passage}, {1: "Employee handbook"})
    assert ranked[0].text.startswith("Full-time employees receive 27 days")
    # Without the heading's discount the later line won, on its place alone.
    even = candidates(
        question, weights, [(1, 1.0)], {1: passage}, {1: "Employee handbook"}, SentenceWeights(section_only=0)
    )
    assert even[0].text.startswith("Up to 5 unused days")


def test_a_sign_off_is_no_answer():
    # "Analyst: Tomas Reinholt" closing a note opened the answer to "What rating does the analyst give?".
    passage = "We keep our Buy rating with a price target of $86.\n\nAnalyst: Tomas Reinholt"
    ranked = candidates(
        "What rating does the analyst give?", stem_weights(["rating", "analyst", "give"]), [(1, 1.0)], {1: passage}, {}
    )
    assert [c.text for c in ranked] == ["We keep our Buy rating with a price target of $86."]


def test_a_heading_is_context_for_the_sentences_under_it_as_a_title_is():
    # "What are the main risks?" quoted "the main driver" from another report: the risk sentences
    # of the outlook sit under a "Risks" heading and name no risk.
    weights = stem_weights(["risks"])
    ask = lambda passage: candidates("What are the risks?", weights, [(1, 1.0)], {1: passage}, {})  # noqa: E731
    under = ask("Risks\n\nLower gas prices could cut margins.")
    other = ask("Prices\n\nLower gas prices could cut margins.")
    assert under[0].text == other[0].text == "Lower gas prices could cut margins."
    # Under a heading its words are the sentence's own, and its document's title's with them,
    # a little less than words it writes itself.
    w = SentenceWeights()
    assert under[0].score - other[0].score == pytest.approx(w.terms + w.terms_local + w.terms_titled - w.section_only)
    # A sentence that ends as one is no heading: "Risks." says nothing of what follows.
    assert ask("Risks.\n\nLower gas prices could cut margins.")[0].score == pytest.approx(other[0].score)
    # "Who to ask" has words enough for a sentence, and was quoted as one.
    guide = candidates(
        "Who to ask about editing?",
        stem_weights(["ask", "editing"]),
        [(1, 1.0)],
        {1: "Who to ask\n\nEditing questions: Priya Nair, night editor."},
        {},
    )
    assert [c.text for c in guide] == ["Editing questions: Priya Nair, night editor."]


def test_a_line_of_a_few_words_a_numbered_one_or_a_label_is_a_heading():
    # Minutes: "1. Aurora launch review" was quoted as an answer sentence, and the action items
    # under "Actions:" sat in the section of the agenda item before them.
    minutes = (
        "1. Aurora launch review\n\nMarcus reported 1,850 pre-registrations in the first week.\n\n"
        "2. Warranty claims\n\nClaims on the Boreal model rose to 3.1% of units sold.\n\n"
        "Actions:\n\n- Aiko Tanaka: cost of the warranty extension, by 11 December."
    )
    ranked = candidates(
        "What are Aiko's action items?", stem_weights(["aiko", "action", "items"]), [(1, 1.0)], {1: minutes}, {}
    )
    assert "Aurora launch review" not in [c.text for c in ranked]
    assert ranked[0].text.startswith("- Aiko Tanaka"), [c.text for c in ranked]
    # Each sentence holds its own section's heading: the claims are not under the launch review.
    launch = stem_weights(["aurora", "launch"])
    under = candidates("What about the Aurora launch?", launch, [(1, 1.0)], {1: minutes}, {})
    held = {c.text: c.coverage for c in under}
    assert held["Marcus reported 1,850 pre-registrations in the first week."] == 1.0
    assert held["Claims on the Boreal model rose to 3.1% of units sold."] == 0.0
    # Within a line a heading's shape is stricter: a short sentence run on with others is none, and
    # a line that sets a label off with a colon says something.
    assert is_heading("Pricing and availability", own_line=True)
    assert is_heading("2. Warranty claims", own_line=True)
    assert not is_heading("Pricing and availability")
    assert not is_heading("Media contact: press@example.com", own_line=True)
    assert not is_heading("The council agreed to extend the warranty from five to eight years", own_line=True)
    assert not is_heading("Prices rose.", own_line=True)
    # A line of a list of short lines is none, though it has the shape: it is quoted.
    slides = "Aurora launch\n\nDeliveries begin in February 2027\n\nGermany follows in July\n\nPre-orders open now"
    ranked = candidates("When do deliveries begin?", stem_weights(["deliveries", "begin"]), [(1, 1.0)], {1: slides}, {})
    assert ranked[0].text == "Deliveries begin in February 2027"


RELEASE_NOTES = (
    "Version 4.2 — November 18, 2026\n\nNew\n\n- Bank feeds now sync every 15 minutes instead of hourly.\n\n"
    "Fixed\n\n- Exporting a VAT return no longer fails when an invoice has no customer.\n\n"
    "Version 4.1 — October 2, 2026\n\nNew\n\n- Two-factor authentication with hardware keys.\n\n"
    "Fixed\n\n- Duplicate payments were shown twice in the reconciliation view."
)


def test_a_heading_under_another_holds_both_and_a_section_after_text_its_parent():
    # Release notes: "Fixed" under "Version 4.2" is about version 4.2's fixes. "What was fixed in
    # version 4.2?" quoted what was new in 4.1; "When did version 4.2 come out?" the 4.1 heading,
    # whose "October 2" met the "2" of "4.2".
    def ask(question: str) -> list[str]:
        weights = stem_weights(query_terms(question))
        return [c.text for c in candidates(question, weights, [(1, 1.0)], {1: RELEASE_NOTES}, {1: "Release notes"})]

    assert ask("What was fixed in version 4.2?")[0].startswith("- Exporting a VAT return")
    assert ask("What was fixed in version 4.1?")[0].startswith("- Duplicate payments")
    assert ask("What is new in version 4.1?")[0].startswith("- Two-factor")
    # A heading is no answer, unless it gives the date asked for.
    assert ask("When did version 4.2 come out?")[0] == "Version 4.2 — November 18, 2026"
    assert "Version 4.2 — November 18, 2026" not in ask("What is new in version 4.2?")
    assert query_terms("version 4.2 for 7,000 users") == ["version", "4.2", "7,000", "users"]
    assert {"4.2", "7,000"} <= text_stems("Version 4.2 reached 7,000 users") and "2" not in text_stems("Version 4.2")


def test_numbered_headings_hold_those_of_lower_numbers_above_them():
    handbook = (
        "3. Leave\n\n3.1 Annual leave\n\nFull-time staff receive 27 days a year.\n\n"
        "3.2 Sick leave\n\nA doctor's note is needed from the fourth day.\n\n"
        "4. Expenses\n\nHotels may cost up to 180 euros a night."
    )
    ranked = candidates("leave", {"leav": 1.0}, [(1, 1.0)], {1: handbook}, {})
    held = {c.text: c.coverage for c in ranked}
    assert held["Full-time staff receive 27 days a year."] == 1.0
    assert held["A doctor's note is needed from the fourth day."] == 1.0  # under 3.2, under 3.
    assert held["Hotels may cost up to 180 euros a night."] == 0.0  # under 4., no longer 3.
    assert is_heading("3.1 Annual leave", own_line=True) and NUMBERED.match("3.1.2 Carry-over ")
    assert not NUMBERED.match("12 people attended")


def test_the_opening_above_a_documents_first_heading_is_about_its_title_too():
    # An incident report: "How long did the outage last?" quoted "every 5 minutes" from the
    # changes under a heading (which held the title's "outage"), not the summary above the first
    # heading, which gives the duration and held no word of the question.
    report = (
        "Summary: For 2 hours and 10 minutes, customers could not complete payments.\n\n"
        "Impact\n\nAbout 4,300 orders failed.\n\n"
        "What we will change\n\nAdd a synthetic checkout test that runs every 5 minutes."
    )
    question = "How long did the outage last?"
    weights = stem_weights(query_terms(question))
    ranked = candidates(question, weights, [(1, 1.0)], {1: report}, {1: "Incident report: checkout outage"})
    assert ranked[0].text.startswith("Summary: For 2 hours"), [c.text for c in ranked]
    assert not has_duration("Add a test that runs every 5 minutes.", question)  # how often, not how long


def test_a_later_row_of_a_table_or_item_of_a_list_is_no_likelier_the_answer():
    # "How much does the Aurora battery cost?" quoted the price table's last row, Germany's,
    # first: past a passage's opening, a later sentence scores a little higher, as news tells it.
    table = (
        "Pricing\n\nMarket: Norway; Price: 7,900 euros; Deliveries: February 2027.\n\n"
        "Market: Germany; Price: 8,400 euros; Deliveries: July 2027."
    )
    ranked = candidates("How much does it cost?", stem_weights(["cost"]), [(1, 1.0)], {1: table}, {})
    assert ranked[0].text.startswith("Market: Norway") and ranked[0].score == ranked[1].score
    # A table without a header row, its cells joined by " | ", and a list: the same.
    bare = "Pricing\n\nNorway | 7,900 euros | cost in February\n\nGermany | 8,400 euros | cost in July"
    ranked = candidates("How much does it cost?", stem_weights(["cost"]), [(1, 1.0)], {1: bare}, {})
    assert ranked[0].text.startswith("Norway") and ranked[0].score == ranked[1].score
    listed = "Costs\n\n- Norway: the cost is 7,900 euros.\n\n- Germany: the cost is 8,400 euros."
    ranked = candidates("How much does it cost?", stem_weights(["cost"]), [(1, 1.0)], {1: listed}, {})
    assert ranked[0].text.startswith("- Norway") and ranked[0].score == ranked[1].score
    prose = (
        table.replace("Market: ", "In ")
        .replace("; Price:", ", the price is")
        .replace("; Deliveries:", " with delivery in")
    )
    ranked = candidates("How much does it cost?", stem_weights(["cost"]), [(1, 1.0)], {1: prose}, {})
    assert ranked[0].text.startswith("In Germany") and ranked[0].score > ranked[1].score


def test_how_long_asks_for_a_span_of_time_not_any_number():
    # "How long does installation take?" quoted the launch line ("stores 13.5 kWh and costs 7,900
    # euros before installation") before "it can be installed in under four hours".
    passage = (
        "Kestrel launched Aurora, a battery that stores 13.5 kWh and costs 7,900 euros before installation. "
        "The company says it can be installed in under four hours."
    )
    question = "How long does installation take?"
    ranked = candidates(question, stem_weights(["long", "installation", "take"]), [(1, 1.0)], {1: passage}, {})
    assert ranked[0].text.startswith("The company says"), [c.text for c in ranked]
    assert duration_asked(question) and duration_asked("How long did the strike last?")
    assert not duration_asked("How long is the bridge?")  # a length: any number
    assert has_duration("It carries a 12-year warranty.", question)
    assert has_duration("It has been based in Oslo since 2019.", question)
    assert not has_duration("It has run since then.", question)
    assert has_duration("A day is enough for a refund.", "How long does a refund take?")  # though "a" is asked
    assert not has_duration("The strike lasted 12 days.", "Did the strike last 12 days?")  # the question's own


def test_what_else_after_an_answer_is_what_follows_it_or_holds_a_word_of_the_question():
    # "why?" after the council's decision on the Boreal warranty went on with the website's crash
    # and who attended, from the same minutes (whose title names the council).
    minutes = {
        1: "The council agreed to extend the Boreal warranty from 5 to 8 years. Claims rose to 3.1% of units.",
        2: "The website crashed for 40 minutes on launch day. Present: Lena Dahl, Marcus Berg.",
        3: "Aiko Tanaka will cost the Boreal warranty extension by 11 December.",
    }
    titles = dict.fromkeys(minutes, "Product council minutes")
    weights = stem_weights(["council", "decide", "boreal", "warranty"])
    ranked = candidates("why?", weights, [(1, 1.0), (2, 0.9), (3, 0.8)], minutes, titles)
    said = ["The council agreed to extend the Boreal warranty from 5 to 8 years."]
    later = after_said(ranked, said, 2.0, weights)
    texts = [c.text for c in later if c.text not in said]  # select() skips what was said
    assert texts[:2] == [
        "Claims rose to 3.1% of units.",
        "Aiko Tanaka will cost the Boreal warranty extension by 11 December.",
    ]
    assert not any("website" in t or "Present" in t for t in texts)
    # Without the question's words ("tell me more about ...", whose passages are on the topic) all stay.
    assert len(after_said(ranked, said, 2.0)) == len(ranked)


def test_the_sentences_of_a_speakers_turn_are_the_speakers():
    # An earnings call: "What did Rachel Lim say about Corvexa?" quoted her later turn, which opens
    # with her name, before "Sales of Corvexa rose 22%", said after her "Thank you."
    call = (
        "Rachel Lim: Thank you. Sales of our heart drug Corvexa rose 22% to 310 million dollars.\n\n"
        "David Osei: Corvexa's patent runs until 2031.\n\n"
        "Rachel Lim: We are looking at small biotech companies, but we will not overpay."
    )
    question = "What did Rachel Lim say about Corvexa?"
    ranked = candidates(question, stem_weights(content_words(question)), [(1, 1.0)], {1: call}, {})
    texts = [c.text for c in ranked]
    assert texts[0] == "Sales of our heart drug Corvexa rose 22% to 310 million dollars.", texts
    assert "Rachel Lim: Thank you." not in texts  # a courtesy is no answer
    # A label over a name or a date says something: "Apologies: Petra Novak." is a candidate.
    minutes = {1: "Present: Lena Dahl, Marcus Berg.\n\nApologies: Petra Novak."}
    absent = candidates("Who sent apologies?", stem_weights(["sent", "apologies"]), [(1, 1.0)], minutes, {})
    assert absent[0].text == "Apologies: Petra Novak."
    # The turn ends with its paragraph: David Osei's sentence is not hers.
    osei = next(c for c in ranked if c.text.startswith("David Osei"))
    assert osei.coverage < ranked[0].coverage


def test_who_asked_is_answered_by_the_question_the_text_asks():
    # An earnings call: "Who asked about acquisitions?" quoted the chief executive's answer, since
    # a question in the text is no answer, but here it is the one asked about, with its asker.
    call = (
        "Hannah Cole: Are you looking at acquisitions to fill the gap when Corvexa loses its patent?\n\n"
        "Rachel Lim: We are looking at small biotech companies, but we will not overpay on acquisitions."
    )

    def ask(question: str) -> list[str]:
        return [c.text for c in candidates(question, stem_weights(content_words(question)), [(1, 1.0)], {1: call}, {})]

    assert ask("Who asked about acquisitions?")[0].startswith("Hannah Cole: Are you")
    assert ask("What did Hannah Cole ask?")[0].startswith("Hannah Cole: Are you")
    # Asked whom to ask, or what was said, the question stays out: it is no answer.
    assert ask("Who do I ask about acquisitions?")[0].startswith("Rachel Lim")
    assert ask("What did Rachel Lim say about acquisitions?") == [call.split("\n\n")[1]]


def test_a_question_the_text_asks_is_no_answer_but_is_what_the_next_sentence_answers():
    # An interview: "Will jobs be lost at the port?" quoted "Q: Will jobs be lost?" first, then
    # the cranes; the answer came third.
    interview = (
        "Q: Why is the port investing in automated cranes?\n"
        "A: Ships are getting bigger. The new cranes will cut the time a ship spends in port.\n"
        "Q: Will jobs be lost?\nA: No one will be laid off. Operators will be retrained by 2028."
    )
    weights = stem_weights(["jobs", "lost", "port"])
    ranked = candidates("Will jobs be lost at the port?", weights, [(1, 1.0)], {1: interview}, {})
    assert not any(c.text.endswith("?") for c in ranked)
    assert ranked[0].text == "A: No one will be laid off."
    # The answer holds its question's words as its own; the sentence after it has them as context.
    retrained = next(c for c in ranked if c.text.startswith("Operators"))
    assert ranked[0].coverage == coverage(weights, text_stems("Will jobs be lost?")) > 0
    assert retrained.coverage == 0.0


def test_fragments_are_not_candidates():
    ranked = candidates(
        "What happened?", {"happen": 1.0}, [(1, 1.0)], {1: "Photo: AP. The strike happened on Monday."}, {}
    )
    assert [c.text for c in ranked] == ["The strike happened on Monday."]


def _cand(text: str, score: float, pid: int = 1, index: int = 0) -> Candidate:
    return Candidate(pid, 0, index, 0, len(text), text, 1.0, 0.5, score)


def test_select_stops_at_one_sentence_when_the_next_is_clearly_worse():
    ranked = [_cand("Tokayev is the president.", 3.5), _cand("Experts said many things.", 1.0, index=1)]
    assert [c.text for c in select(QUESTION, ranked)] == ["Tokayev is the president."]


def test_select_adds_close_ones_but_never_a_repeat():
    s = SentenceWeights(margin=0.8)
    ranked = [
        _cand("The union said 4,000 drivers joined the strike.", 3.0),
        _cand("4,000 drivers joined the strike, the union said.", 2.9, pid=2),
        _cand("Commuters were told to work from home.", 2.5, index=1),
        _cand("Services resume on Friday.", 2.4, index=2),
    ]
    chosen = select("How many drivers joined the strike?", ranked, s=s)
    assert [c.text for c in chosen] == [
        "The union said 4,000 drivers joined the strike.",
        "Commuters were told to work from home.",
        "Services resume on Friday.",
    ]
    tight = select("How many drivers joined the strike?", ranked, s=SentenceWeights(margin=0.55))
    assert len(tight) == 2  # 2.4 is more than 0.55 below 3.0


def test_select_gives_explanations_a_fifth_sentence():
    texts = [
        "Pay fell behind prices.",
        "Talks broke down in May.",
        "The union balloted its drivers.",
        "Trains stopped.",
        "Managers offered a bonus.",
        "Passengers complained.",
    ]
    ranked = [_cand(text, 3.0 - 0.1 * i, index=i) for i, text in enumerate(texts)]
    assert len(select("Why did the strike happen?", ranked)) == 5
    assert len(select("What did the strike cost?", ranked)) == 4


def test_select_stops_before_the_word_bound_but_may_pass_the_old_one():
    # 50 + 40 words: past the 70 the answer was once cut at, within 120.
    long = " ".join(["word"] * 49) + " end."
    second = " ".join(["other"] * 39) + " end."
    third = " ".join(["more"] * 39) + " end."
    ranked = [_cand(long, 3.0), _cand(second, 2.9, index=1), _cand(third, 2.8, index=2)]
    assert [c.text for c in select("What did the strike cost?", ranked)] == [long, second]


def test_select_skips_what_was_already_said():
    ranked = [_cand("Tokayev is the president.", 3.0), _cand("He said the troops would leave.", 2.9, index=1)]
    chosen = select(QUESTION, ranked, said=["Tokayev is the president."])
    assert [c.text for c in chosen] == ["He said the troops would leave."]
    assert select(QUESTION, ranked[:1], said=["Tokayev is the president."]) == []


@pytest.mark.parametrize(
    ("question", "explains"),
    [
        ("Why did Russia send troops?", True),
        ("How does the CSTO decide?", True),
        ("Explain the SCO's role", True),
        ("How many troops were sent?", False),
        ("How much did it cost?", False),
        ("Who leads Kazakhstan?", False),
    ],
)
def test_wants_explanation(question, explains):
    assert wants_explanation(question) is explains


def test_by_meaning_orders_by_cosine_and_keeps_the_ranked_order_on_ties():
    ranked = [_cand("Troops arrived last week.", 6.0), _cand("They will withdraw in ten days.", 1.5, index=1)]
    ranked.append(_cand("Experts spoke.", 1.0, index=2))
    order = by_meaning(ranked, [0.20, 0.24, 0.20])
    assert [c.index for c in order] == [1, 0, 2]
    with pytest.raises(ValueError):
        by_meaning(ranked, [0.2])  # one cosine per candidate


@pytest.mark.parametrize(
    ("line", "parts"),
    [
        ("Who won the election and what was the turnout?", ["Who won the election", "what was the turnout?"]),
        (
            "When was the deal signed, and how much was it worth?",
            ["When was the deal signed", "how much was it worth?"],
        ),
        ("Prince Harry and which famous musician are heading to court?", None),  # one question
        ("How and when did the plague enter Europe?", None),  # "How" alone asks nothing of its own
    ],
)
def test_a_second_question_joined_by_and_is_a_part_of_its_own(line, parts):
    assert question_parts(line) == (parts or [line])


def test_the_best_sentence_for_a_second_question_is_added_from_the_passages_quoted():
    # "Who won the Dalmatia election and what was the turnout?" was answered with the winner alone.
    passages = {
        1: "The Green Coast alliance won the regional election with 41% of the vote. Turnout reached 68%, a record.",
        2: "Turnout in the national vote was 55%.",
    }
    line = "Who won the election and what was the turnout?"
    weights = stem_weights(["won", "election", "turnout"])
    top = [(1, 2.0), (2, 1.0)]
    winner = [c for c in candidates(line, weights, top, passages, {}) if c.text.startswith("The Green Coast")]
    answer = with_parts(line, winner, top, passages, {})
    assert [c.text for c in answer] == [winner[0].text, "Turnout reached 68%, a record."]
    # A line asking one thing gets its answer as it is.
    assert with_parts("Who won the election?", winner, top, passages, {}) == winner
