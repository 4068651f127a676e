"""E-mails saved or pasted as text: the subject is the title, the sender the author, the day sent
the date, and the header lines of what a reply quotes say nothing of their own."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge import ingest
from knowledge.errors import EmptyDocument, UndecodableText

REPLY = """From: Sofia Marchetti <sofia.marchetti@brightline.example>
Sent: Tuesday, 24 November 2026 16:02
To: Procurement team
Subject: RE: Office furniture tender

Hi all,

We have decided to award the furniture contract to Nordform. Their bid was 184,000 euros, and
they can deliver by 15 January.

Best,
Sofia

-----Original Message-----
From: Jonas Weber [mailto:jonas.weber@brightline.example]
Sent: Monday, 23 November 2026 10:15
To: Sofia Marchetti
Subject: Office furniture tender

> Sofia, the evaluation committee scored the three bids: Nordform 82 points, Hallberg 79,
> Kontorhuset 61.
"""


def test_an_email_is_titled_by_its_subject_signed_by_its_sender_and_dated_the_day_it_was_sent():
    # Its header lines were read as its title: "From: Sofia Marchetti <sofia...> Sent: Tuesday ...".
    for doc in (ingest.parse_bytes(REPLY.encode(), "tender.txt"), ingest.parse_text(REPLY)):
        assert doc.title == "Office furniture tender"
        assert doc.author == "Sofia Marchetti"
        assert doc.published == dt.date(2026, 11, 24)
        text = doc.text
        assert not any(line.startswith(("From:", "Sent:", "To:", "Subject:")) for line in text.split("\n"))
        assert "Original Message" not in text and ">" not in text
        # Who wrote the quoted message stays, as a reader reads it, over what he wrote.
        assert "Jonas Weber wrote:\n\nSofia, the evaluation committee scored the three bids" in text
        assert "mailto" not in text and "@" not in text


def test_a_text_that_only_opens_with_a_label_is_no_email():
    # "From:" alone (a quotation's source), or fields without a subject, leave the text as it is.
    minutes = "From: the council's minutes\nTo: be confirmed\n\nThe council met on Monday and agreed the budget."
    doc = ingest.parse_text(minutes)
    assert doc.title.startswith("From: the council's minutes")  # its first lines, as any text's
    assert doc.author is None and doc.published is None


def _eml(body: str, *, subtype: str = "plain", attach: bool = False) -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Sofia Marchetti <sofia.marchetti@brightline.example>"
    message["To"] = "Procurement <procurement@brightline.example>"
    message["Subject"] = "RE: Office furniture tender"
    message["Date"] = "Tue, 24 Nov 2026 16:02:00 +0100"
    message.set_content(body, subtype=subtype)
    if attach:
        message.add_attachment(b"%PDF-1.4 scores", maintype="application", subtype="pdf", filename="scores.pdf")
    return bytes(message)


def test_an_eml_file_is_read_as_the_mail_program_shows_it():
    # A mail saved from Outlook or Thunderbird was refused as an unsupported type.
    body = REPLY.split("\n\n", 1)[1]  # the reply's body, with the message it quotes
    for data in (_eml(body), _eml(body, attach=True)):
        doc = ingest.parse_bytes(data, "tender.eml")
        assert (doc.title, doc.author, doc.published) == (
            "Office furniture tender",
            "Sofia Marchetti",
            dt.date(2026, 11, 24),
        )
        assert "Jonas Weber wrote:" in doc.paragraphs and "scores.pdf" not in doc.text and "PDF-1.4" not in doc.text
    html = _eml(
        "<html><body><p>We award the furniture contract to Nordform for 184,000 euros.</p></body></html>",
        subtype="html",
    )
    doc = ingest.parse_bytes(html, "tender.eml")
    assert doc.paragraphs == ["We award the furniture contract to Nordform for 184,000 euros."]
    assert doc.title == "Office furniture tender"


def test_a_binary_file_named_eml_is_refused_with_a_clear_error():
    with pytest.raises(UndecodableText, match="binary data"):
        ingest.parse_bytes(b"\x00\x01\x02\x03garbage" * 20, "x.eml")
    with pytest.raises(EmptyDocument):
        ingest.parse_bytes(_eml(""), "empty.eml")
