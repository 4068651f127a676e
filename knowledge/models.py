"""The dataclasses the knowledge service returns. Plain data: the bot and the CLI render them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict


@dataclass(frozen=True)
class Document:
    id: int
    title: str
    source: str | None  # publisher or site ("South China Morning Post")
    published: dt.date | None  # publication date when known
    author: str | None
    guild_id: int | None  # None: global (seeds, CLI; scope.GLOBAL_SCOPE in scopes); else that guild only
    origin: str  # file name, URL or "pasted text"
    content_hash: str
    added_at: dt.datetime  # UTC, when it entered the knowledge base
    passages: int = 0
    words: int = 0
    published_precision: str = "day"  # "day", "month" or "year" (e.g. only a copyright year was found)


@dataclass(frozen=True)
class Passage:
    id: int
    document_id: int
    ordinal: int  # position of the passage in its document
    paragraph_index: int  # index of the first paragraph it covers
    char_start: int  # offsets into the document's clean text
    char_end: int
    text: str


@dataclass(frozen=True)
class SearchHit:
    passage: Passage
    document: Document
    score: float  # fused score, higher is better (not comparable across queries)
    bm25_rank: int | None = None
    dense_rank: int | None = None
    dense_score: float | None = None


@dataclass(frozen=True)
class Citation:
    number: int  # the n of "[n]"
    document_id: int
    title: str
    source: str | None
    published: dt.date | None
    passage_id: int
    quote: str  # verbatim substring of the document's stored text
    paragraph_index: int
    char_start: int  # offsets of the quote in the document's clean text
    char_end: int
    score: float
    origin: str = ""
    published_precision: str = "day"  # "year" when only a copyright year dates the document

    @classmethod
    def of(
        cls,
        number: int,
        doc: Document,
        passage: Passage,
        quote: str,
        paragraph: int,
        span: tuple[int, int],
        score: float,
    ) -> Citation:
        """A citation of ``quote`` (at ``span``, offsets in the document's text) in ``passage`` of ``doc``:
        the document's fields are copied in one place for answers, briefings and the bot."""
        shown = {name: getattr(doc, name) for name in ("title", "source", "published", "origin", "published_precision")}
        start, end = span
        return cls(
            number,
            doc.id,
            passage_id=passage.id,
            quote=quote,
            paragraph_index=paragraph,
            char_start=start,
            char_end=end,
            score=score,
            **shown,
        )


@dataclass(frozen=True)
class Answer:
    question: str
    text: str  # sentences ending with their "[n]" markers
    citations: list[Citation]
    abstained: bool = False
    related: list[Citation] = field(default_factory=list)  # closest passages offered on refusal
    resolved_question: str = ""  # question after follow-up / date-word resolution
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    confidence: float = 0.0
    latency_ms: float = 0.0

    @property
    def shown(self) -> list[Citation]:
        """The passages the reader is shown: the citations, or on a refusal the closest passages."""
        return self.related if self.abstained else self.citations


@dataclass(frozen=True)
class Story:
    headline: str  # a document title or sentence, never invented
    summary: str  # sentences ending with their "[n]" markers
    citations: list[Citation]
    document_ids: list[int]
    sources: int  # how many documents cover the story


@dataclass(frozen=True)
class Briefing:
    since: dt.datetime
    until: dt.datetime
    stories: list[Story]
    documents: int  # documents in the window
    text: str = ""  # the whole briefing rendered as plain text ("nothing new since ...")

    @property
    def empty(self) -> bool:
        return not self.stories

    @property
    def citations(self) -> list[Citation]:
        return [c for story in self.stories for c in story.citations]


@dataclass(frozen=True)
class IndexReport:
    added: list[Document] = field(default_factory=list)
    updated: list[Document] = field(default_factory=list)
    unchanged: list[Document] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)  # KnowledgeError per failed file
    removed: list[Path] = field(default_factory=list)  # left out: a moderator removed them (seeding)


class CitedPassages(TypedDict):
    passage_ids: list[int]
    scores: list[float]


def cited_passages(citations: Sequence[Citation]) -> CitedPassages:
    """The interaction log's ``passage_ids`` and ``scores`` for what a reader was shown, built in
    one place: callers that passed the ids alone left every exported row's scores empty."""
    return {"passage_ids": [c.passage_id for c in citations], "scores": [c.score for c in citations]}


@dataclass(frozen=True)
class Interaction:
    """One row of the interaction log: what was asked or done, by whom, and how it ended."""

    id: int
    at: dt.datetime  # UTC
    guild_id: int | None
    channel_id: int | None
    user_id: int | None
    kind: str  # ask, mention, followup, brief, doc_add, doc_remove, feedback, denied, ...
    input: str | None
    outcome: str | None  # answered, abstained, denied, error: ..., up, down, ...
    answer: str | None
    passage_ids: list[int]  # the passages cited (or offered, on a refusal)
    scores: list[float]
    latency_ms: float | None
    ref_id: int | None  # e.g. the interaction a feedback row is about


@dataclass(frozen=True)
class UsageStats:
    """Usage over the last ``days`` days (/stats, the console's ``stats``)."""

    questions_per_day: list[tuple[str, int]]  # (YYYY-MM-DD, questions), oldest first
    questions: int
    refusals: int
    thumbs_up: int
    thumbs_down: int
    unanswered: list[tuple[str, int]]  # (question, times asked), most frequent first
    denied: int = 0  # refused moderator actions
    days: int = 7

    @property
    def refusal_rate(self) -> float:
        return self.refusals / self.questions if self.questions else 0.0


# ---------------------------------------------------------------------------- written by indexing


@dataclass(frozen=True)
class NewPassage:
    """A passage as indexing hands it to the store (the store gives it its id)."""

    ordinal: int
    paragraph_index: int
    char_start: int
    char_end: int
    text: str
    text_hash: str


@dataclass(frozen=True)
class NewDocument:
    """A document as indexing hands it to the store, with its clean text."""

    title: str
    source: str | None
    published: dt.date | None
    author: str | None
    guild_id: int | None
    origin: str
    content_hash: str
    text: str
    words: int
    published_precision: str = "day"


# ---------------------------------------------------------------------------- set up from Discord


@dataclass(frozen=True)
class GuildSettings:
    """One server's settings; a server that never ran /setup has every field empty."""

    guild_id: int
    briefing_channel_id: int | None = None
    briefing_time: dt.time | None = None  # local to briefing_tz
    briefing_tz: str | None = None
    briefing_enabled: bool = False
    moderator_role_id: int | None = None

    @property
    def briefing_configured(self) -> bool:
        """Whether this server ever set its own briefing: from then on it, not ``.env``, decides."""
        return self.briefing_channel_id is not None


@dataclass(frozen=True)
class Feed:
    id: int
    guild_id: int | None
    url: str
    title: str
    added_at: dt.datetime
    etag: str | None = None
    last_modified: str | None = None
    last_success_at: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    failures: int = 0
    next_poll_at: dt.datetime | None = None
