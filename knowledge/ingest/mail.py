"""E-mails saved or pasted as text: the header fields they open with (``read_plain`` takes the
subject as the title, the sender as the author, the day sent as the date), and the header lines
of the messages a reply quotes."""

from __future__ import annotations

import re

# The header fields of an e-mail as a mail program saves or copies them.
_MAIL_FIELD = re.compile(
    r"^(?P<field>from|sent|date|to|cc|bcc|subject|reply-to|importance|attachments?)[ \t]*:[ \t]*(?P<value>.*)$", re.I
)
REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fwd?|aw|sv|vs|tr)\s*:)+", re.I)
_SENDER_ADDRESS = re.compile(r"<[^<>]*>|\[mailto:[^\]]*\]|\S+@\S+")


def sender(value: str) -> str:
    """The sender's name of a From field, without the address ("Sofia Marchetti <sofia@...>")."""
    return _SENDER_ADDRESS.sub("", value).strip(" \"'")


# What a reply quotes the earlier message under: "-----Original Message-----", "---------- Forwarded
# message ---------".
_QUOTE_SEPARATOR = re.compile(r"^-{2,}\s*(?:original|forwarded)\s+message\s*-{2,}$", re.I)


def mail_header(text: str) -> tuple[dict[str, str], str]:
    """The header fields an e-mail opens with (a sender and a subject at least) and the rest of
    the text; no fields when the text is no e-mail."""
    lines = text.lstrip("\n").split("\n")
    fields: dict[str, str] = {}
    end = 0
    while end < len(lines) and (match := _MAIL_FIELD.match(lines[end])):
        fields.setdefault(match["field"].lower(), match["value"].strip())
        end += 1
    if "from" not in fields or "subject" not in fields:
        return {}, text
    return fields, "\n".join(lines[end:])


_QUOTE_MARKS = re.compile(r"^(?:>[ \t]?)+")


def drop_quoted_headers(body: str) -> str:
    """A reply's body with the header lines of the messages it quotes read as a reader reads them:
    "From: Jonas Weber" as "Jonas Weber wrote:", over what he wrote, and the rest dropped (the
    separator, Sent, To, Subject: "When will the furniture be delivered?" quoted "Subject: RE:
    Office furniture tender", and the sender's line was quoted as a sentence). Quoted lines lose
    their "> " marks."""
    kept = []
    for line in body.split("\n"):
        line = _QUOTE_MARKS.sub("", line)  # "> Sofia, the committee scored ...": a quoted line
        match = _MAIL_FIELD.match(line)
        if match and match["field"].lower() == "from":
            name = sender(match["value"])
            kept.extend([f"{name} wrote:"] if name else [])
        elif not (match or _QUOTE_SEPARATOR.match(line)):
            kept.append(line)
    return "\n".join(kept)
