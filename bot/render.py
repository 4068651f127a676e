"""Pure rendering: knowledge dataclasses in, ``discord.Embed`` objects and strings out.

No I/O, no state. Every function here respects Discord's limits by trimming or splitting, never by
failing: the API rejects a whole message when one field is one character too long, and the user
then sees nothing at all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import discord

from knowledge.dates import format_date
from knowledge.models import Answer, Briefing, Citation, Document, SearchHit, Story, UsageStats
from knowledge.plain import plural

from .links import link_target

# Discord's documented limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_PER_EMBED = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
# The 6,000 characters count across *all* embeds of one message, not per embed.
MESSAGE_EMBED_TOTAL = 6000
EMBEDS_PER_MESSAGE = 10

ELLIPSIS = "…"
ZWSP = "\u200b"

ANSWER_COLOUR = discord.Colour.blurple()
REFUSAL_COLOUR = discord.Colour.orange()
BRIEFING_COLOUR = discord.Colour.teal()
ERROR_COLOUR = discord.Colour.red()

# Quotes shown under an answer are short so a typical answer fits one message; the
# "More sources" pages show them longer.
ANSWER_QUOTE_CHARS = 300
SOURCE_PAGE_QUOTE_CHARS = 900
SOURCES_PER_PAGE = 4
DOCUMENTS_PER_PAGE = 10

_MENTION = re.compile(r"@(everyone|here)|<@([!&]?)(\d+)>")
# Other angle-bracket syntax Discord turns into something live: channel links <#id>, timestamps
# <t:…>, slash-command mentions </name:id>, custom emoji <:name:id> and <a:name:id>.
_ANGLE_SYNTAX = re.compile(r"<(?=[#:/]|t:|a:|id:)")
# Bidirectional controls let a title or a name display in a different order than it reads
# (U+202E turns "cod.exe" into "exe.doc"); ingest strips them, render strips them again for old
# rows and for user and guild names.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
# Brackets end a URL here (Discord would take them in): a URL kept whole must never carry "](".
_URL = r"<[^: >\[\]]+:/[^ >\[\]]+>|(?:https?|steam)://[^\s<\[\]]+[^<.,:;\"'\[\]\s]"
# One pass over the text, so an escape is never escaped again:
#   url:   kept whole (a backslash inside would break it), wrapped in <> so it is never previewed;
#   char:  the inline markers * _ ~ | ` and the backslash itself;
#   link:  the "(" right after "]": a masked link [text](url) needs "](" adjacent, whatever
#          precedes it, so this alone defeats every masked link, nested or not, and keeps the
#          answers' [1] markers readable;
#   block: headings, subtext, block quotes and list markers at the start of a line.
_MARKDOWN = re.compile(
    rf"(?P<url>{_URL})"
    r"|(?P<char>[\\*_~|`])"
    r"|(?P<link>(?<=\])\()"
    r"|^(?P<lead>[ \t]*)(?P<block>#{1,3}(?=\s)|-#(?=\s)|>(?:>>)?(?=\s)|[-+](?=\s)|\d{1,9}\.(?=\s))",
    re.MULTILINE,
)


# ---------------------------------------------------------------------------- text helpers


def neutralise_mentions(text: str) -> str:
    """Break ``@everyone``, ``@here``, ``<@id>`` / ``<@&id>`` and the other ``<…>`` syntax (channel
    links, timestamps, command mentions, emoji) with a zero-width space so quoted text can never
    ping or turn live, even if the bot-wide ``allowed_mentions`` were lost. Looks the same."""

    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return f"@{ZWSP}{m.group(1)}"
        return f"<@{ZWSP}{m.group(2)}{m.group(3)}>"

    return _ANGLE_SYNTAX.sub("<" + ZWSP, _MENTION.sub(repl, text))


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_input(text: str | None) -> str:
    """Text typed into Discord, made safe to store and search: a lone surrogate (valid JSON,
    invalid UTF-8) becomes U+FFFD, control characters other than tab and newline go."""
    text = (text or "").encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROL.sub("", text)


def strip_bidi(text: str) -> str:
    """``text`` without bidirectional control characters."""
    return _BIDI.sub("", text)


def escape(text: str | None) -> str:
    """Text from a document, a question or a name, made inert for Discord: no formatting, no
    masked link, no heading or quote, no mention, no bidirectional control; URLs stay readable
    but are never previewed. Escape first, then trim (``trim`` never splits an escape).

    Not ``discord.utils.escape_markdown``: it escapes a whole ``[..](..)`` span as one match, which
    leaves the formatting inside it live and a nested ``[[a](url)`` still a link."""

    def repl(m: re.Match[str]) -> str:
        if m["url"]:
            url = m["url"]
            return url if url.startswith("<") else f"<{url}>"
        if m["char"]:
            return "\\" + m["char"]
        if m["link"]:
            return "\\("
        block = m["block"]
        if block[0].isdigit():
            return m["lead"] + block[:-1] + "\\."
        return m["lead"] + "".join("\\" + c for c in block)

    return neutralise_mentions(_MARKDOWN.sub(repl, strip_bidi(text or "")))


def _unsplit_escape(text: str, cut: int) -> int:
    """Move a cut position left by one when it would separate a backslash from the character it
    escapes (or a zero-width space from the ``@``/``<`` it neutralises)."""
    run = 0
    while run < cut and text[cut - 1 - run] == "\\":
        run += 1
    if run % 2:
        return cut - 1
    if 0 < cut < len(text) and text[cut] == ZWSP:
        return cut - 1
    return cut


def trim(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near, with an
    ellipsis when anything was dropped."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit == 1:
        return ELLIPSIS
    cut = text[: _unsplit_escape(text, limit - 1)]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters, preferring paragraph, then line,
    then sentence, then word boundaries; a single overlong word is cut hard. Never returns an
    empty list for non-empty text."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            at = window.rfind(sep)
            if at >= limit // 3:
                cut = at + (1 if sep == ". " else 0)
                break
        if cut <= 0:
            cut = max(1, _unsplit_escape(rest, limit))
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def one_line(text: str) -> str:
    return " ".join(text.split())


def safe(text: str | None) -> str:
    """Last line of defence on every string sent (formatting is escaped earlier, where the text
    comes from a document or a user): no mention, no bidirectional control."""
    return neutralise_mentions(strip_bidi(text or ""))


# ---------------------------------------------------------------------------- packing


@dataclass(frozen=True)
class Field:
    name: str
    value: str
    inline: bool = False


def embed_total(embed: discord.Embed) -> int:
    """Characters that count towards the 6,000 per message (discord.py's ``len(embed)``)."""
    return len(embed)


def pack_embeds(
    *,
    title: str | None,
    description: str = "",
    fields: Sequence[Field] = (),
    footer: str | None = None,
    colour: discord.Colour = ANSWER_COLOUR,
    url: str | None = None,
) -> list[list[discord.Embed]]:
    """Lay out a title, a description of any length and any number of fields as messages of
    embeds: every string within its limit, at most 25 fields and 10 embeds per message, at most
    6,000 characters per message. Returns one list of embeds per message (usually one)."""
    footer_text = trim(safe(footer), FOOTER_LIMIT) if footer else None
    reserve = len(footer_text) if footer_text else 0
    chunks = split_text(safe(description), DESCRIPTION_LIMIT) if description.strip() else []

    embeds: list[discord.Embed] = []
    first = discord.Embed(title=trim(safe(title), TITLE_LIMIT) if title else None, colour=colour, url=url)
    if chunks:
        first.description = chunks[0]
    embeds.append(first)
    for chunk in chunks[1:]:
        embeds.append(discord.Embed(description=chunk, colour=colour))

    current = embeds[-1]
    for f in fields:
        name = trim(safe(f.name), FIELD_NAME_LIMIT) or ZWSP
        value = trim(safe(f.value), FIELD_VALUE_LIMIT) or ZWSP
        if (
            len(current.fields) >= FIELDS_PER_EMBED
            or embed_total(current) + len(name) + len(value) + reserve > MESSAGE_EMBED_TOTAL
        ):
            current = discord.Embed(colour=colour)
            embeds.append(current)
        current.add_field(name=name, value=value, inline=f.inline)
    if footer_text:
        room = MESSAGE_EMBED_TOTAL - embed_total(embeds[-1])
        embeds[-1].set_footer(text=trim(footer_text, room) or ZWSP)
    return group_into_messages(embeds)


def group_into_messages(embeds: Iterable[discord.Embed]) -> list[list[discord.Embed]]:
    """Greedy grouping: each message holds at most 10 embeds and 6,000 characters."""
    messages: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    total = 0
    for embed in embeds:
        size = embed_total(embed)
        if current and (len(current) >= EMBEDS_PER_MESSAGE or total + size > MESSAGE_EMBED_TOTAL):
            messages.append(current)
            current, total = [], 0
        current.append(embed)
        total += size
    if current:
        messages.append(current)
    return messages


def split_content(text: str) -> list[str]:
    """Plain message content in pieces of at most 2,000 characters, mentions neutralised."""
    return split_text(safe(text), CONTENT_LIMIT) or [ZWSP]


# ---------------------------------------------------------------------------- answers


def linked_title(title: str, origin: str | None) -> str:
    """The title, escaped, as a link to its source when it has a URL (Discord renders masked links
    in embed descriptions and field values, not in field names); the <> keeps it from a preview."""
    text = escape(one_line(title))
    url = link_target(origin)
    return f"[{text.replace('[', '(').replace(']', ')')}](<{url}>)" if url else text


def citation_location(c: Citation) -> str:
    return f"paragraph {c.paragraph_index + 1}, characters {c.char_start}–{c.char_end}"


def citation_field(c: Citation, *, quote_chars: int = ANSWER_QUOTE_CHARS) -> Field:
    link = linked_title(c.title, c.origin) if link_target(c.origin) else ""
    meta = " · ".join(
        x for x in (link, escape(one_line(c.source or "")), format_date(c.published, c.published_precision)) if x
    )
    where = f"*{citation_location(c)}*"
    head = f"{meta}\n" if meta else ""
    room = FIELD_VALUE_LIMIT - len(head) - len(where) - 3
    quote = trim(escape(one_line(c.quote)), max(20, min(quote_chars, room)))
    return Field(name=f"[{c.number}] {escape(one_line(c.title))}", value=f"{head}> {quote}\n{where}")


def answer_messages(answer: Answer, *, quote_chars: int = ANSWER_QUOTE_CHARS) -> list[list[discord.Embed]]:
    """The answer (or the refusal) as embeds: the answer text with its [n] markers, then one field
    per numbered source with title, date, quote and where the quote sits in its document."""
    question = escape(one_line(answer.question))
    footer = f"{plural(len(answer.citations), 'source')} · {answer.latency_ms:.0f} ms" if not answer.abstained else None
    if answer.abstained:
        text = escape(answer.text.strip()) or "I could not find an answer to that in the documents I have."
        if answer.related:
            text += "\n\nThe closest passages I found:"
        fields = [citation_field(c, quote_chars=quote_chars) for c in answer.related]
        return pack_embeds(
            title=f"No answer found: {question}",
            description=text,
            fields=fields,
            colour=REFUSAL_COLOUR,
            footer="Nothing here is claimed as an answer.",
        )
    fields = [citation_field(c, quote_chars=quote_chars) for c in answer.citations]
    return pack_embeds(
        title=question, description=escape(answer.text), fields=fields, footer=footer, colour=ANSWER_COLOUR
    )


def sources_page(
    hits: Sequence[SearchHit], page: int, *, question: str = "", per_page: int = SOURCES_PER_PAGE
) -> tuple[discord.Embed, int]:
    """One page of "More sources" (an ephemeral message holds one embed); returns the embed and
    the page count. ``page`` is clamped into range."""
    pages = max(1, -(-len(hits) // per_page))
    page = min(max(page, 0), pages - 1)
    fields = []
    for i, hit in enumerate(hits[page * per_page : (page + 1) * per_page], start=page * per_page + 1):
        doc, passage = hit.document, hit.passage
        span = (passage.char_start, passage.char_end)
        c = Citation.of(i, doc, passage, passage.text, passage.paragraph_index, span, hit.score)
        fields.append(citation_field(c, quote_chars=SOURCE_PAGE_QUOTE_CHARS))
    if not fields:
        description = "No other passages found."
    else:
        description = ""
    title = f"More sources: {escape(one_line(question))}" if question else "More sources"
    embed = pack_embeds(
        title=title, description=description, fields=fields, footer=f"Page {page + 1} of {pages}", colour=ANSWER_COLOUR
    )[0][0]
    return _fit_single(embed), pages


def _fit_single(embed: discord.Embed) -> discord.Embed:
    """pack_embeds may spill into a second embed only past 6,000 characters; one page never does
    with four 900-character quotes, but keep the guarantee explicit: drop trailing fields."""
    while embed_total(embed) > MESSAGE_EMBED_TOTAL and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    return embed


# ---------------------------------------------------------------------------- briefings


def _story_field(story: Story) -> Field:
    def sources_line(linked: bool) -> str:
        sources = "; ".join(
            f"[{c.number}] {linked_title(c.title, c.origin) if linked else escape(one_line(c.title))}"
            f" ({format_date(c.published, c.published_precision)})"
            for c in story.citations
        )
        return f"\n*{plural(story.sources, 'source')}: {sources}*" if sources else ""

    tail = sources_line(linked=True)
    if len(tail) > FIELD_VALUE_LIMIT // 2:  # cut, a link would show as raw markdown: titles only then
        tail = sources_line(linked=False)
    room = FIELD_VALUE_LIMIT - min(len(tail), FIELD_VALUE_LIMIT // 2)
    return Field(
        name=escape(one_line(story.headline)),
        value=trim(escape(story.summary.strip()), room) + trim(tail, FIELD_VALUE_LIMIT - room),
    )


def briefing_messages(briefing: Briefing, *, tz: dt.tzinfo = dt.UTC) -> list[list[discord.Embed]]:
    since = briefing.since.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    until = briefing.until.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    title = f"Briefing: {since} to {until}"
    if briefing.empty:
        text = escape(briefing.text.strip()) or f"Nothing new since {since}."
        return pack_embeds(title=title, description=text, colour=BRIEFING_COLOUR)
    description = (
        f"{plural(len(briefing.stories), 'story', 'stories')} from {plural(briefing.documents, 'new document')}."
    )
    return pack_embeds(
        title=title, description=description, fields=[_story_field(s) for s in briefing.stories], colour=BRIEFING_COLOUR
    )


# ---------------------------------------------------------------------------- documents


def document_line(doc: Document) -> str:
    scope = "🌐" if doc.guild_id is None else "📌"
    meta = ", ".join(
        x for x in (escape(one_line(doc.source or "")), format_date(doc.published, doc.published_precision)) if x
    )
    return f"{scope} `#{doc.id}` **{trim(escape(one_line(doc.title)), 120)}** ({meta})"


def document_list_page(docs: Sequence[Document], *, page: int, pages: int, total: int) -> discord.Embed:
    if docs:
        description = "\n".join(document_line(d) for d in docs)
    else:
        description = "No documents yet. A moderator can add one with `/doc add`."
    footer = f"Page {page + 1} of {max(pages, 1)} · {plural(total, 'document')} · 🌐 everywhere, 📌 this server only"
    return pack_embeds(title="Documents", description=description, footer=footer, colour=ANSWER_COLOUR)[0][0]


def document_embed(doc: Document, text: str = "", *, excerpt_chars: int = 1500) -> discord.Embed:
    fields = [
        Field("Source", escape(doc.source) or "unknown", inline=True),
        Field("Published", format_date(doc.published, doc.published_precision), inline=True),
        Field("Author", escape(doc.author) or "unknown", inline=True),
        Field("Origin", escape(doc.origin), inline=True),
        Field("Size", f"{plural(doc.passages, 'passage')}, {plural(doc.words, 'word')}", inline=True),
        Field("Added", doc.added_at.strftime("%Y-%m-%d %H:%M UTC"), inline=True),
        Field("Visible", "everywhere" if doc.guild_id is None else "this server only", inline=True),
    ]
    description = trim(escape(text.strip()), excerpt_chars) if text else ""
    return pack_embeds(
        title=f"#{doc.id} {escape(one_line(doc.title))}", description=description, fields=fields, colour=ANSWER_COLOUR
    )[0][0]


def document_added(doc: Document) -> str:
    where = "everywhere" if doc.guild_id is None else "in this server"
    return trim(
        safe(f"Added `#{doc.id}` “{escape(one_line(doc.title))}”: {plural(doc.passages, 'passage')}, visible {where}."),
        CONTENT_LIMIT,
    )


def document_removed(doc: Document) -> str:
    return trim(safe(f"Removed `#{doc.id}` “{escape(one_line(doc.title))}”."), CONTENT_LIMIT)


# ---------------------------------------------------------------------------- stats

Stats = UsageStats  # what Store.interaction_stats returns, rendered as is


def stats_embed(stats: Stats) -> discord.Embed:
    per_day = "\n".join(f"`{day}` {n}" for day, n in stats.questions_per_day) or "no questions"
    unanswered = "\n".join(f"{n}× {trim(escape(one_line(q)), 150)}" for q, n in stats.unanswered) or "none"
    fields = [
        Field("Questions", str(stats.questions), inline=True),
        Field("Refusal rate", f"{stats.refusal_rate:.0%} ({stats.refusals})", inline=True),
        Field("Feedback", f"👍 {stats.thumbs_up} · 👎 {stats.thumbs_down}", inline=True),
        Field("Questions per day", per_day),
        Field("Most frequent unanswered questions", unanswered),
        Field("Refused moderator actions", str(stats.denied), inline=True),
    ]
    return pack_embeds(title=usage_title(stats), fields=fields, colour=ANSWER_COLOUR)[0][0]


def usage_title(stats: Stats) -> str:
    return "Usage, last day" if stats.days == 1 else f"Usage, last {stats.days} days"


def stats_text(stats: Stats) -> str:
    """The same numbers as plain text (the console)."""
    lines = [
        usage_title(stats),
        f"questions: {stats.questions}",
        f"refusal rate: {stats.refusal_rate:.0%} ({stats.refusals})",
        f"feedback: up {stats.thumbs_up}, down {stats.thumbs_down}",
        "questions per day:",
    ]
    lines += [f"  {day}  {n}" for day, n in stats.questions_per_day] or ["  none"]
    lines.append("most frequent unanswered questions:")
    lines += [f"  {n}x {one_line(q)}" for q, n in stats.unanswered] or ["  none"]
    return "\n".join(lines)


def error_message(text: str) -> str:
    """A message the bot wrote (its own formatting kept); text from a document, a file name or a
    user inside it must be passed through :func:`escape` by whoever builds it."""
    return trim(safe(text), CONTENT_LIMIT)


# A masked link ``[label](target)`` (innermost, when nested).
_MASKED_LINK = re.compile(r"\[([^\[\]]*)\]\(([^()]*)\)")


def plain_name(text: str | None, limit: int) -> str:
    """A thread name or an autocomplete choice: no markdown is rendered there, but a thread name is
    posted in the channel ("started a thread: …") and shown to everyone, so ``@everyone``, role and
    user mentions are broken (``neutralise_mentions``), a masked link keeps only its label (what is
    left of nested ones is broken like a mention), and bidirectional controls and line breaks go."""
    text = _MASKED_LINK.sub(lambda m: m[1], one_line(strip_bidi(text or "")))
    return trim(neutralise_mentions(text.replace("](", "]" + ZWSP + "(")), limit)
