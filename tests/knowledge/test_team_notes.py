"""Documents a team writes for itself: meeting minutes in Markdown, a chat channel's export, a
newsletter in plain text. Each read as its writer meant it (fields on their own lines, one message
a line, a title over its date, a contents list that is no text), and the questions people ask of
them answered from the right line."""

from __future__ import annotations

import datetime as dt

from knowledge import ingest
from knowledge.answerability import gather_evidence, weak_match
from knowledge.retrieval import query_terms
from knowledge.sentences import candidates, said_in, select
from knowledge.signals import answer_kind, count_held, has_answer_of_type, has_quantity
from knowledge.termweights import match_stem, stem_weights
from knowledge.text import headings

MINUTES = """# Product council — meeting minutes

**Date:** 12 November 2026
**Attendees:** Priya Nair (chair), Lars Holm, Mei Tanaka
**Apologies:** Fatima Yusuf

## 1. Q4 launch of Harbor 2.0

Lars reported that the beta has 41 customers. The council agreed to move the general release from
1 December to 8 December so the billing migration can finish first.
"""

CHAT = """#ops-incidents export, 3 November 2026

[09:02] anna.k: payments API is returning 502s for about 10% of requests
[09:04] ben: looking. started after the 08:45 deploy of gateway v3.8
[09:11] ben: rolling back gateway to v3.7
[09:25] chen: root cause looks like the new connection pool limit (50, was 200)
"""

NEWSLETTER = """Energy Week — issue 47
14 November 2026

IN THIS ISSUE
Offshore wind auction results
Hydrogen hub delayed
Grid fees to rise

OFFSHORE WIND AUCTION RESULTS
The government awarded 1.5 GW of offshore wind in the Utsira Nord auction. Equinor and RWE won the two largest blocks, with a strike price of 0.82 kroner per kWh.

HYDROGEN HUB DELAYED
The Mongstad hydrogen hub will open in 2029 instead of 2027, its owners said on Tuesday, citing higher electrolyser costs.

GRID FEES TO RISE
Statnett will raise grid fees by 9 percent from January to pay for new transmission lines in the north.

Unsubscribe | Manage preferences
"""


def _ranked(question: str, text: str, title: str) -> list:
    """The candidates of one passage, best first, as the answer reads them."""
    return candidates(question, stem_weights(query_terms(question)), [(1, 1.0)], {1: text}, {1: title})


def test_minutes_fields_in_bold_are_lines_of_their_own_and_the_date_field_dates_them():
    doc = ingest.parse_bytes(MINUTES.encode(), "minutes.md")
    assert doc.title == "Product council — meeting minutes"
    # One paragraph to Markdown ("**Date:** ... **Attendees:** ..."), read as one line before, and
    # the minutes were undated.
    assert doc.published == dt.date(2026, 11, 12)
    assert doc.paragraphs[1:3] == ["Attendees: Priya Nair (chair), Lars Holm, Mei Tanaka", "Apologies: Fatima Yusuf"]
    # A wrapped line of prose is still one line.
    assert any(p.startswith("Lars reported") and p.endswith("can finish first.") for p in doc.paragraphs)


def test_markdown_joins_wrapped_lines_unless_each_gives_a_field():
    doc = ingest.parse_bytes(
        b"# Notes\n\nThe plan is simple:\nwe ship on Friday.\n\nOwner: Lars\nDue: Friday\n", "n.md"
    )
    assert doc.paragraphs == ["The plan is simple: we ship on Friday.", "Owner: Lars", "Due: Friday"]


def test_a_chat_export_is_one_message_a_line():
    doc = ingest.parse_bytes(CHAT.encode(), "chat.txt")
    assert doc.paragraphs[0] == "[09:02] anna.k: payments API is returning 502s for about 10% of requests"
    assert len(doc.paragraphs) == 4 and all(p.startswith("[09:") for p in doc.paragraphs)


def test_a_newsletter_title_over_its_date_and_without_its_contents_list():
    doc = ingest.parse_bytes(NEWSLETTER.encode(), "energy-week.txt")
    # "Energy Week — issue 47 14 November 2026" was the title: the lines were read as one wrapped.
    assert doc.title == "Energy Week — issue 47"
    assert doc.published == dt.date(2026, 11, 14)
    # The contents list is gone, its label too; each heading stays over its story, the last one
    # too ("GRID FEES TO RISE", in capitals, is no related story's headline).
    assert "Offshore wind auction results" not in doc.paragraphs and "IN THIS ISSUE" not in doc.paragraphs
    assert doc.paragraphs[::2] == ["OFFSHORE WIND AUCTION RESULTS", "HYDROGEN HUB DELAYED", "GRID FEES TO RISE"]
    assert "Unsubscribe | Manage preferences" not in doc.paragraphs


def test_headings_that_come_back_one_at_a_time_are_no_contents_list():
    # Release notes say "New" and "Fixed" under every version: the first ones stay.
    text = "Release notes\n\nVersion 4.2\n\nNew\n\n- Dark mode\n\nFixed\n\n- Crash on start\n\nVersion 4.1\n\nNew\n\n- Export\n\nFixed\n\n- Typos\n"
    doc = ingest.parse_bytes(text.encode(), "notes.md")
    assert doc.paragraphs.count("New") == 2 and doc.paragraphs.count("Fixed") == 2


def test_lines_a_log_or_a_chat_repeats_are_no_contents_list():
    log = "Deploy log\n\n" + "\n\n".join(f"step {i % 5} ok" for i in range(40))
    assert len(ingest.parse_text(log).paragraphs) == 40
    chat = "Chat\n\nok\n\nthanks\n\nok\n\nthanks\n\nWe ship on Friday."
    assert ingest.parse_text(chat).paragraphs == ["ok", "thanks", "ok", "thanks", "We ship on Friday."]


def test_the_story_under_its_heading_answers_and_not_the_contents_lists_first_entry():
    doc = ingest.parse_bytes(NEWSLETTER.encode(), "energy-week.txt")
    text = "\n\n".join(doc.paragraphs)
    question = "How much will grid fees rise?"
    ranked = _ranked(question, text, doc.title)
    assert ranked[0].text.startswith("Statnett will raise grid fees by 9 percent"), [c.text for c in ranked]


def test_how_much_a_sum_changes_is_answered_by_a_share_too():
    rise = "Statnett will raise grid fees by 9 percent from January."
    assert has_answer_of_type("money", [rise], "How much will grid fees rise?")
    assert has_answer_of_type("money", ["Fees rose 4% in 2025."], "How much did fees go up?")
    # A price is a sum of money, not a share.
    assert not has_answer_of_type("money", [rise], "How much is the grid fee?")
    assert has_answer_of_type("money", ["The grid fee is 40 kroner a month."], "How much is the grid fee?")


def test_the_count_asked_for_is_held_though_the_questions_verb_is_not():
    sentence = "Rosenborg won 3-1 over Molde at Lerkendal in front of 19,400 fans."
    assert count_held("How many fans attended?", [sentence])
    assert not count_held("How many fans attended?", ["Rosenborg won 3-1 over Molde."])
    assert not count_held("When did the fans arrive?", [sentence])
    question = "How many fans attended?"
    evidence = gather_evidence(
        question,
        stem_weights(query_terms(question)),
        answer_sentences=[sentence],
        cited_title="Rosenborg beat Molde 3-1 to go top",
        cited_passage=sentence,
        cited_cosine=0.16,
    )
    # It holds one of the question's two words, not the rarer ("attended"), at a low cosine: the
    # rule for a passage sharing one word refused it, though the count was there.
    assert evidence.rarest_missing == 1.0 and not evidence.one_word
    assert not weak_match(evidence, meaning_alone=False)


def test_the_date_field_of_minutes_stays_in_their_text_and_answers_when_they_met():
    doc = ingest.parse_bytes(MINUTES.encode(), "minutes.md")
    assert doc.paragraphs[0] == "Date: 12 November 2026" and doc.published == dt.date(2026, 11, 12)
    # A news page's dateline is still metadata only.
    news = ingest.parse_text(
        "Storm hits coast\n\nPublished: 12 November 2026\n\nThe storm hit the coast on Monday night."
    )
    assert news.paragraphs == ["The storm hit the coast on Monday night."]
    text = "\n\n".join(doc.paragraphs) + "\n\nNext meeting: 10 December 2026, 14:00, room Fjord."
    question = "When was the product council meeting?"
    ranked = _ranked(question, text, doc.title)
    assert ranked[0].text == "Date: 12 November 2026", [c.text for c in ranked]


def test_how_often_is_answered_by_a_frequency_not_by_any_date():
    text = (
        "Owner: Platform team · Last reviewed: 2 October 2026\n\n"
        "Rotate the credentials every 90 days, or at once if a secret may have leaked.\n\n"
        "Before you start\n\n• You need the db-admin role in Vault."
    )
    question = "How often should the database credentials be rotated?"
    ranked = candidates(
        question,
        stem_weights(query_terms(question)),
        [(1, 1.0)],
        {1: text},
        {1: "Runbook: rotating the database credentials"},
    )
    assert ranked[0].text.startswith("Rotate the credentials every 90 days"), [c.text for c in ranked]
    assert answer_kind(question) == answer_kind("How frequently are backups taken?") == "frequency"
    for said in (
        "Backups run nightly.",
        "We meet twice a year.",
        "Trains leave every 15 minutes.",
        "Three times a week.",
    ):
        assert has_answer_of_type("frequency", [said], question), said
    assert not has_answer_of_type("frequency", ["Last reviewed: 2 October 2026"], question)


def test_a_table_rows_count_stands_in_another_cell():
    row = "Metric: Customers; Q3 2026: 12,400; Q3 2025: 9,100."
    assert has_quantity("How many customers does Ledgerly have?", [row])
    assert has_quantity("How many customers does Ledgerly have?", ["Customers 12,400 9,100"])
    # In a sentence the number must stand before what it counts.
    assert not has_quantity("How many customers does Ledgerly have?", ["Customers in 2026 paid more."])


def test_a_verb_meets_the_noun_made_from_it():
    # Porter leaves each pair apart; a question's verb missed the minutes' noun, and was refused.
    for verb, noun in (("attended", "Attendees"), ("absent", "absence"), ("employ", "employees")):
        assert match_stem(verb) == match_stem(noun.lower()), (verb, noun)
    assert match_stem("attend") != match_stem("attention")


FAQ = b"""<html><head><title>Helpdesk FAQ</title></head><body><h1>Helpdesk FAQ</h1>
<details><summary>Can I use my own laptop?</summary><p>Yes, if it is enrolled in Intune. Personal laptops cannot reach the finance systems.</p></details>
<details><summary>What are the helpdesk hours?</summary><p>Weekdays 08:00-17:00. Outside those hours, call the duty phone.</p></details>
</body></html>"""


def test_an_faqs_folded_questions_stay_over_their_answers():
    doc = ingest.parse_bytes(FAQ, "faq.html")
    # trafilatura drops <summary>: the answers were left without their questions.
    assert doc.paragraphs[:2] == [
        "Can I use my own laptop?",
        "Yes, if it is enrolled in Intune. Personal laptops cannot reach the finance systems.",
    ]
    text = "\n\n".join(doc.paragraphs)
    question = "When is the helpdesk open?"
    ranked = _ranked(question, text, doc.title)
    assert ranked[0].text == "Weekdays 08:00-17:00.", [c.text for c in ranked]


def test_a_recordings_date_line_dates_it():
    doc = ingest.parse_text(
        "Energy Talk, episode 12\n\nRecorded 20 November 2026\n\nKari Dahl: Welcome back to the show, everyone."
    )
    assert doc.published == dt.date(2026, 11, 20)
    assert doc.paragraphs == ["Kari Dahl: Welcome back to the show, everyone."]


def test_initials_that_are_stopwords_in_lower_case_are_words_in_capitals():
    assert query_terms("How much can I spend on meals in the US?") == ["spend", "meals", "us"]
    assert "it" in query_terms("Who approves IT purchases?") and "who" in query_terms("What did the WHO say?")
    # Not when the whole question is in capitals, nor search syntax typed in capitals.
    assert query_terms("WHAT IS IT?") == [] and query_terms("What is NOT in AND the OR news?") == ["news"]
    rows = "Country: Germany; Meals per day: 45 EUR.\n\nCountry: United States; Meals per day: 75 USD."
    question = "How much can I spend on meals in the US?"
    ranked = _ranked(question, rows, "Travel policy")
    assert ranked[0].text.startswith("Country: United States"), [c.text for c in ranked]


def test_a_tables_next_row_is_no_repeat_of_the_last():
    norway = "Country: Norway; Meals per day: 650 NOK; Hotel cap per night: 1,800 NOK."
    germany = "Country: Germany; Meals per day: 45 EUR; Hotel cap per night: 160 EUR."
    # Most of their words are the same; the figures and the country are not. "and germany?" after
    # Norway's row got "the documents hold nothing more on this than what I said".
    assert not said_in(germany, [norway])
    assert said_in(germany, [germany]) and said_in("Country: Germany; Meals per day: 45 EUR.", [germany])
    # A sentence said again in other words, with nothing new, still repeats it.
    assert said_in(
        "The council agreed to move the release to 8 December.",
        ["The council agreed to move the general release to 8 December."],
    )
    assert not said_in("The storm killed 14 people.", ["The storm killed 12 people."])


def test_a_date_a_sentence_runs_on_into_stays_in_it():
    doc = ingest.parse_text(
        "Notice\n\nThe board will meet in Oslo to approve the budget, as agreed on\n12 November 2026\n\nAll members attend."
    )
    assert "The board will meet in Oslo to approve the budget, as agreed on 12 November 2026" in doc.paragraphs


RUNBOOK = """# Runbook: rotating the database credentials

Owner: Platform team · Last reviewed: 2 October 2026

## Steps

1. Create the new password in Vault.
2. Restart the API pods so they read the new secret.
3. Revoke the old password.
"""


def test_an_ordered_lists_items_keep_their_numbers_and_answer_for_them():
    doc = ingest.parse_bytes(RUNBOOK.encode(), "runbook.md")
    assert "2. Restart the API pods so they read the new secret." in doc.paragraphs
    text = "\n\n".join(doc.paragraphs)
    question = "What is step 2?"
    ranked = _ranked(question, text, doc.title)
    # The item was "• Restart ...", and the review date's "2 October" came first.
    assert ranked[0].text == "Restart the API pods so they read the new secret.", [c.text for c in ranked]


def test_numbered_lists_keep_their_numbers_in_html_and_word():
    import io

    from docx import Document

    page = b"<html><body><article><h1>Printer guide</h1><p>Follow these steps to set up the printer in the office.</p>"
    page += b"<ol><li>Plug it in.</li><li>Press the power button.</li></ol><ul><li>Paper is in the cupboard.</li></ul></article></body></html>"
    assert ingest.parse_bytes(page, "guide.html").paragraphs[1:] == [
        "1. Plug it in.",
        "2. Press the power button.",
        "• Paper is in the cupboard.",
    ]
    word = Document()
    word.add_heading("Printer guide", 0)
    word.add_paragraph("Follow these steps to set up the office printer.")
    for step in ("Plug it in.", "Press the power button."):
        word.add_paragraph(step, style="List Number")
    word.add_paragraph("Paper is in the cupboard.", style="List Bullet")
    data = io.BytesIO()
    word.save(data)
    assert ingest.parse_bytes(data.getvalue(), "guide.docx").paragraphs[1:] == [
        "1. Plug it in.",
        "2. Press the power button.",
        "• Paper is in the cupboard.",
    ]


def test_a_numbered_lists_short_items_are_no_headings():
    text = "Follow these steps to set up the office printer.\n\n1. Plug it in\n\n2. Press the power button\n\n3. Print a test page\n\nAsk IT if it fails."
    question = "Which button do I press?"
    ranked = _ranked(question, text, "Printer guide")
    # Read as numbered headings ("3. Leave"), the steps were no answers, and gave their words to
    # the line below them.
    assert ranked[0].text == "Press the power button", [c.text for c in ranked]
    assert headings(["1. Plug it in", "2. Press the power button", "Ask IT."]) == [False, False, False]
    assert (
        headings(["3. Leave", "Staff get leave.", "3.1 Annual leave", "You get 27 days.", "4. Expenses", "Claims."])[
            ::2
        ]
        == [True] * 3
    )


def test_an_ordinal_step_asks_for_the_items_number():
    assert query_terms("What is the second step?") == ["second", "step", "2"]
    assert query_terms("Who was the first woman to win?") == ["first", "woman", "win"]  # no list asked
    doc = ingest.parse_bytes(RUNBOOK.encode(), "runbook.md")
    text = "\n\n".join(doc.paragraphs)
    question = "What is the second step?"
    ranked = _ranked(question, text, doc.title)
    assert ranked[0].text == "Restart the API pods so they read the new secret.", [c.text for c in ranked]


def test_a_table_whose_rows_are_headed_is_read_as_fields():
    page = b"<html><head><title>Hammerfest</title></head><body><div id='content'><h1>Hammerfest</h1><table>"
    page += b"<tr><th>Country</th><td>Norway</td></tr><tr><th>Population (2024)</th><td>11,450</td></tr>"
    page += b"<tr><th>Mayor</th><td>Marianne Sivertsen Naess</td></tr></table>"
    page += (
        b"<p>Hammerfest is a town in Finnmark county, Norway, one of the northernmost in the world.</p></body></html>"
    )
    doc = ingest.parse_bytes(page, "hammerfest.html")
    # Read as a header row over the rest, the infobox said "Country: Population (2024); Norway: 11,450."
    assert doc.paragraphs[:3] == ["Country: Norway.", "Population (2024): 11,450.", "Mayor: Marianne Sivertsen Naess."]
    text = "\n\n".join(doc.paragraphs)
    question = "What is the population?"
    ranked = _ranked(question, text, doc.title)
    assert ranked[0].text == "Population (2024): 11,450.", [c.text for c in ranked]
    # With the town named, the opening line that names it comes first, and the row follows it.
    question = "What is the population of Hammerfest?"
    ranked = _ranked(question, text, doc.title)
    assert "Population (2024): 11,450." in [c.text for c in select(question, ranked)]
    # A table headed by its columns is read as before.
    shares = b"<html><body><article><h1>EV share</h1><p>Electric cars took a third of new car sales in the Nordics.</p>"
    shares += b"<table><tr><th>Country</th><th>Share</th></tr><tr><td>Norway</td><td>91%</td></tr></table></article></body></html>"
    assert "Country: Norway; Share: 91%." in ingest.parse_bytes(shares, "shares.html").paragraphs


def test_a_new_figure_is_news_wherever_the_sentence_starts():
    # Only a capitalised first word is passed over; a sentence opening in lower case ("the storm
    # ...", as a list item or a quote's rest may) keeps its first figure or name.
    assert not said_in("the storm killed 14 people in Bergen.", ["the storm killed 12 people in Bergen."])
    assert not said_in("14 people died in the storm in Bergen.", ["12 people died in the storm in Bergen."])
    assert said_in("The storm killed 12 people in Bergen.", ["A storm killed 12 people in Bergen."])
