"""Reports as teams keep them: a PDF with a table under a heading, read as a reader reads it (the
paragraph, the heading, the table's header row and its rows of figures), and its rows answering
questions about them."""

from __future__ import annotations

import datetime as dt

from knowledge import ingest
from knowledge.retrieval import query_terms
from knowledge.sentences import candidates
from knowledge.termweights import stem_weights
from knowledge.text import headings, is_data_row, is_heading

ROWS = [("Norway", "91%", "88%"), ("Sweden", "38%", "33%"), ("Denmark", "46%", "39%"), ("Finland", "27%", "21%")]


def _report_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.cell(0, 10, "Nordic EV market report Q3 2026", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(
        0,
        6,
        "Electric cars took 34% of new car sales in the Nordic countries in the third quarter of 2026, up "
        "from 29% a year earlier. Norway remains the leader, where nine in ten new cars are electric.",
    )
    pdf.cell(0, 8, "Market share by country", new_x="LMARGIN", new_y="NEXT")
    with pdf.table() as table:
        for cells in [("Country", "EV share Q3 2026", "EV share Q3 2025"), *ROWS]:
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.cell(0, 8, "Outlook", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "We expect the Nordic share to pass 40% in 2027 as cheaper models arrive.")
    return bytes(pdf.output())


def test_a_pdf_table_under_its_heading_loses_no_line():
    # The heading was joined to the paragraph above it (the column's width was read off a page of
    # short lines), and the header row, run into Norway's, was dropped as a related-story teaser.
    doc = ingest.parse_bytes(_report_pdf(), "ev_report.pdf")
    assert doc.paragraphs[0].endswith("nine in ten new cars are electric.")
    assert doc.paragraphs[1:8] == [
        "Market share by country",
        "Country EV share Q3 2026 EV share Q3 2025",
        *(" ".join(row) for row in ROWS),
        "Outlook",
    ]
    assert doc.removed == []


def test_rows_of_figures_are_under_their_header_and_answer_for_their_label():
    lines = ["Market share by country", "Country EV share Q3 2026 EV share Q3 2025", "Norway 91% 88%", "Sweden 38% 33%"]
    # A row of figures is no heading, though short; the line over the rows names their columns.
    assert headings(lines) == [True, True, False, False]
    assert is_data_row("Norway 91% 88%") and is_data_row("Revenue 412 361 14%")
    assert not is_heading("Norway 91% 88%", own_line=True)
    assert not is_data_row("Version 4.2 — November 18, 2026") and not is_data_row("In 2026 sales rose 4%")
    text = "\n\n".join(lines)
    question = "What share of new cars in Sweden are electric?"
    ranked = candidates(question, stem_weights(query_terms(question)), [(1, 1.0)], {1: text}, {1: "EV market report"})
    assert ranked[0].text == "Sweden 38% 33%", [c.text for c in ranked]
    assert not {"Market share by country", "Country EV share Q3 2026 EV share Q3 2025"} & {c.text for c in ranked}


def test_a_dated_version_heading_is_kept_not_read_as_a_dateline():
    # "Version 4.2 — November 18, 2026" opening plain-text release notes was dropped as a
    # dateline ("Reuters — November 18, 2026"): a version is no outlet.
    notes = "Version 4.2 — November 18, 2026\n\nFixed\n\n- Exports no longer fail when an invoice has no customer."
    doc = ingest.parse_text(notes, title="Release notes")
    assert doc.paragraphs[0] == "Version 4.2 — November 18, 2026"
    wire = ingest.parse_text(
        "France 24 — November 18, 2026\n\nThe summit opened in Paris on Monday with a call for calm."
    )
    assert wire.paragraphs[0].startswith("The summit opened") and wire.published is not None


PRESS = """Kestrel Energy opens battery factory in Narvik

NARVIK, Norway, November 12, 2026 -- Kestrel Energy today opened its first battery cell factory in Narvik. The plant will employ 650 people when it reaches full output in 2028.

About Kestrel Energy
Kestrel Energy is an Oslo-based maker of battery cells, founded in 2019. It employs 1,100 people in Norway and Sweden.

Media contact: Jon Eriksen, press@kestrel.example, +47 22 33 44 55
"""


def test_a_press_release_keeps_its_contact_and_its_about_section_is_about_the_company():
    doc = ingest.parse_text(PRESS)
    # The contact line was dropped as a related-story teaser: "Who is the media contact?" refused.
    assert "Media contact: Jon Eriksen, press@kestrel.example, +47 22 33 44 55" in doc.paragraphs
    # "About Kestrel Energy" does not hold the title's "Narvik factory": its staff of 1,100 were
    # quoted for "How many people will the Narvik factory employ?".
    text = "\n\n".join(doc.paragraphs[1:3])
    question = "How many people will the Narvik factory employ?"
    ranked = candidates(question, stem_weights(query_terms(question)), [(1, 1.0)], {1: text}, {1: doc.title})
    about = next(c for c in ranked if c.text.startswith("It employs 1,100"))
    assert not {"narvik", "factori"} & about.stems
    # Under another heading the title's words are the section's.
    other = candidates(
        question, stem_weights(query_terms(question)), [(1, 1.0)], {1: text.replace("About ", "")}, {1: doc.title}
    )
    assert {"narvik", "factori"} <= next(c for c in other if c.text.startswith("It employs 1,100")).stems


def test_a_models_letter_is_a_word_of_the_question():
    # "How much does the Aurora M cost?" quoted the Aurora S: "M" was no word of the question.
    rows = "Model: Aurora S; Price: 4,900 euros.\n\nModel: Aurora M; Price: 7,900 euros."
    question = "How much does the Aurora M cost?"
    assert query_terms(question) == ["aurora", "m", "cost"]
    assert query_terms("Is that A or B, as I thought?") == ["thought"]
    ranked = candidates(question, stem_weights(query_terms(question)), [(1, 1.0)], {1: rows}, {})
    assert ranked[0].text.startswith("Model: Aurora M"), [c.text for c in ranked]


ROADMAP = """# Mobile app roadmap 2027

## Q1 2027
- Offline mode for the shopping list
- Apple Pay and Google Pay at checkout

## Q2 2027
- Loyalty points, replacing the paper stamp card
- Dark mode

## Later
- Voice search (depends on the new search engine)
"""


def test_a_list_item_keeps_its_bullet_and_a_two_word_item_is_an_answer():
    # "What is planned for Q2 2027?" quoted the loyalty points alone: "Dark mode", its bullet
    # dropped by the reader, was skipped as a fragment and read as a heading over "Later".
    doc = ingest.parse_bytes(ROADMAP.encode(), "roadmap.md")
    assert "• Dark mode" in doc.paragraphs and "Q2 2027" in doc.paragraphs
    text = "\n\n".join(doc.paragraphs)
    assert headings(doc.paragraphs) == [p in ("Q1 2027", "Q2 2027", "Later") for p in doc.paragraphs]
    question = "What is planned for Q2 2027?"
    ranked = candidates(question, stem_weights(query_terms(question)), [(1, 1.0)], {1: text}, {1: doc.title})
    assert {c.text for c in ranked[:2]} == {"• Loyalty points, replacing the paper stamp card", "• Dark mode"}


def test_a_pdf_research_note_s_header_line_gives_its_date_and_analyst_and_keeps_the_rating():
    # "Equity research | 6 November 2026 | Analyst: Tomas Reinholt" ran into the rating line below
    # it as one wrapped paragraph: neither the date nor the analyst was read, and "What rating
    # does the analyst give?" quoted the whole run.
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=15)
    pdf.cell(0, 9, "Vantor Systems: Q3 2026 results review", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, "Equity research | 6 November 2026 | Analyst: Tomas Reinholt", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, "Rating: Buy | Price target: $86 (from $78)", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(
        0,
        5,
        "Vantor beat expectations in the third quarter. Revenue rose 14% to $412 million, ahead of the consensus "
        "of $398 million, driven by data-centre cooling orders. We raise our price target to $86.",
    )
    doc = ingest.parse_bytes(bytes(pdf.output()), "vantor.pdf")
    assert (doc.author, doc.published) == ("Tomas Reinholt", dt.date(2026, 11, 6))
    assert doc.paragraphs[0] == "Rating: Buy | Price target: $86 (from $78)"
    assert doc.paragraphs[1].startswith("Vantor beat expectations")


def test_a_labelled_person_closing_a_report_is_kept_and_a_labelled_teaser_is_not():
    # "Owner: Daniel Okafor, head of platform engineering" closing an incident report was dropped
    # as a related-story teaser: "Who is the head of platform engineering?" was refused.
    report = (
        "Incident report\n\nA certificate used by the payment gateway expired at 09:00 and payments failed.\n\n"
        "Analysis: Why certificates keep expiring\n\n"
        "The renewal job had been disabled during a migration in August and nobody re-enabled it.\n\n"
        "Owner: Daniel Okafor, head of platform engineering"
    )
    doc = ingest.parse_text(report)
    assert doc.paragraphs[-1] == "Owner: Daniel Okafor, head of platform engineering"
    assert doc.removed == ["Analysis: Why certificates keep expiring"]


def _paged_pdf(header: str) -> bytes:
    from fpdf import FPDF

    class Paged(FPDF):
        def header(self):
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, header, new_x="LMARGIN", new_y="NEXT")

        def footer(self):
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()} of 2")

    pdf = Paged()
    for heading, text in (
        ("Letter from the CEO", "In 2026 we grew revenue by 24% to 310 million kroner and signed 40 new customers."),
        ("Outlook", "For 2027 we expect revenue of 360-380 million kroner, and we plan to enter Poland."),
    ):
        pdf.add_page()
        pdf.set_font("Helvetica", size=14)
        pdf.cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def test_a_reports_running_header_is_its_title_and_no_marking_is():
    doc = ingest.parse_bytes(_paged_pdf("Nordlys Analytics - Annual report 2026"), "annual.pdf")
    # It was titled by its first section's heading, "Letter from the CEO", which stays a heading.
    assert doc.title == "Nordlys Analytics - Annual report 2026"
    assert doc.paragraphs[0] == "Letter from the CEO" and "Page 1 of 2" not in doc.paragraphs
    marked = ingest.parse_bytes(_paged_pdf("Company confidential - do not distribute"), "annual.pdf")
    assert marked.title == "Letter from the CEO"


def test_a_sign_off_with_a_role_answers_who_holds_it_and_nothing_else():
    text = (
        "In 2026 we grew revenue by 24% to 310 million kroner. I thank our 180 employees. - Sara Holt, chief executive"
    )
    question = "Who is the CEO of Nordlys?"
    ranked = candidates(
        question, stem_weights(query_terms(question)), [(1, 1.0)], {1: text}, {1: "Nordlys annual report"}
    )
    assert ranked[0].text == "- Sara Holt, chief executive", [c.text for c in ranked]
    # Who signed is no answer to anything else.
    other = "How many employees does Nordlys have?"
    ranked = candidates(other, stem_weights(query_terms(other)), [(1, 1.0)], {1: text}, {1: "Nordlys annual report"})
    assert "- Sara Holt, chief executive" not in [c.text for c in ranked]
