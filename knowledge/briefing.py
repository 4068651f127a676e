"""The daily briefing: what arrived in a window, grouped into stories, most covered first, each story
a headline taken from its documents and two or three extractive sentences cited like answers.

Grouping uses the passage vectors already stored for search (a document's vector is the mean of its
passages'), so a briefing embeds nothing new. Same-story articles are merged by average-linkage
clustering over cosine similarity; near-duplicates (the same article syndicated or uploaded twice)
always land in one story and are summarised once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .about_documents import document_reply
from .dates import DateIntent, format_date
from .models import Answer, Briefing, Citation, Document, Passage, Story
from .plain import plural
from .retrieval import passage_embedding_text, stored_vectors
from .summarize import SummarySentence, summarize
from .text import words

if TYPE_CHECKING:
    from .corpus import Corpus

log = logging.getLogger(__name__)

# Average cosine between two groups' documents above which they are one story. Measured with
# all-MiniLM-L6-v2 on mixed windows of public multi-document news clusters (15 stories, ~43 articles):
# 0.45 -> pairwise precision 0.92 / recall 0.75, 0.5 -> 0.94 / 0.69, 0.6 -> 0.96 / 0.58. Merging two
# different stories is the worse error in a briefing, so the stricter side of the knee.
STORY_THRESHOLD = 0.5
# Shared word 5-grams (relative to the shorter text) from which two documents are the same article.
NEAR_DUPLICATE_OVERLAP = 0.7
# Per story: two or three sentences, about 75 words; a story needs at least this many words left.
STORY_WORDS = 75
STORY_SENTENCES = 3
MIN_STORY_WORDS = 20
# Documents grouped into stories by clustering; average linkage costs about n^3, so a window holding
# more keeps its newest this many (measured: 500 documents group in ~0.1 s, 5,000 took 230 s) and
# attaches the others to the story whose centroid they are closest to, when close enough.
MAX_GROUPED = 500

PARAGRAPH_SEPARATOR = "\n\n"
# "What's new?" (``overview_answer``): the stories of this many newest documents, in a chat reply's
# length rather than a briefing's.
OVERVIEW_DOCUMENTS = 10
OVERVIEW_MAX_WORDS = 200


# ---------------------------------------------------------------------------- pure parts


def shingles(text: str, n: int = 5) -> frozenset[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) < n:
        return frozenset([tuple(tokens)]) if tokens else frozenset()
    return frozenset(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def near_duplicate(a: frozenset, b: frozenset, *, overlap: float = NEAR_DUPLICATE_OVERLAP) -> bool:
    """Same article: most word 5-grams of the shorter text are in the longer one (syndicated copies
    with a different first line or footer still match)."""
    if not a or not b:
        return False
    return len(a & b) >= overlap * min(len(a), len(b))


def group_stories(similarity: np.ndarray, *, threshold: float = STORY_THRESHOLD) -> list[list[int]]:
    """Groups of row indices whose average pairwise similarity stays at or above ``threshold``
    (average-linkage agglomerative clustering: no chaining of A~B~C into one story when A and C
    differ). Each group is sorted; groups are in order of their first member."""
    n = len(similarity)
    if n == 0:
        return []
    link = np.array(similarity, dtype=np.float64, copy=True)
    np.fill_diagonal(link, -np.inf)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    alive = list(range(n))
    while len(alive) > 1:
        sub = link[np.ix_(alive, alive)]
        flat = int(np.argmax(sub))
        a, b = alive[flat // len(alive)], alive[flat % len(alive)]
        if sub.flat[flat] < threshold:
            break
        na, nb = len(members[a]), len(members[b])
        # average linkage (Lance-Williams): the merged group's mean similarity to every other group
        merged = (na * link[a] + nb * link[b]) / (na + nb)
        link[a], link[:, a] = merged, merged
        link[a, a] = -np.inf
        members[a] += members.pop(b)
        alive.remove(b)
    return sorted((sorted(members[i]) for i in alive), key=lambda g: g[0])


def central_member(similarity: np.ndarray, group: Sequence[int]) -> int:
    """The group's document most similar on average to the others (ties: the first)."""
    if len(group) == 1:
        return group[0]
    sub = similarity[np.ix_(group, group)]
    return group[int(np.argmax(sub.sum(axis=1)))]


def lead_member(similarity: np.ndarray, group: Sequence[int], published: Sequence[dt.date | None]) -> int:
    """The document a story opens with, and whose title heads it: the newest when its documents
    were published on different days (a story that developed is told from its latest news: "strike
    ends" before "strike begins"), otherwise the most central (``central_member``); of several
    newest, the most central of them."""
    days = publication_days(group, published)
    if len(days) < 2:
        return central_member(similarity, group)
    newest = [i for i in group if published[i] == max(days)]
    return max(newest, key=lambda i: (float(similarity[i, list(group)].sum()), -i))


def publication_days(group: Sequence[int], published: Sequence[dt.date | None]) -> set[dt.date]:
    """The days a story's documents were published on (undated ones aside)."""
    return {day for i in group if (day := published[i]) is not None}


def order_stories(groups: list[list[int]], latest: Sequence[float]) -> list[list[int]]:
    """Most important first: stories covered by more documents, then the more recent (``latest``:
    a timestamp per document; a story is as recent as its newest document)."""
    return sorted(groups, key=lambda g: (-len(g), -max(latest[i] for i in g)))


def containing_passage(passages: Sequence[Passage], start: int, end: int) -> Passage | None:
    """The passage holding a sentence; if a sentence straddles two, the one holding its start."""
    for p in passages:
        if p.char_start <= start and end <= p.char_end:
            return p
    for p in passages:
        if p.char_start <= start < p.char_end:
            return p
    return None


# ---------------------------------------------------------------------------- the briefing


@dataclass
class _Window:
    docs: list[Document]
    texts: dict[int, str]
    passages: dict[int, list[Passage]]
    vectors: dict[int, np.ndarray]  # one L2-normalised vector per document


async def build_briefing(
    corpus: Corpus, *, since: dt.datetime, until: dt.datetime, scope: int | None, max_words: int, by: str = "added"
) -> Briefing:
    """The briefing of documents that arrived in [since, until) (``by="added"``) or were published
    between since's and until's dates (``by="published"``). ``max_words`` bounds the words of all
    story summaries together; stories that do not fit are counted in the text."""
    if by not in ("added", "published"):
        raise ValueError(f"by must be 'added' or 'published', not {by!r}")
    if by == "added":
        docs = await corpus.store.list_documents(scope=scope, added_since=since, added_until=until)
    else:
        docs = await corpus.store.list_documents(scope=scope, published_from=since.date(), published_to=until.date())
    if not docs:
        return Briefing(
            since=since, until=until, stories=[], documents=0, text=f"Nothing new since {_when(since, by)}."
        )

    ids = [d.id for d in docs]
    texts = await corpus.store.document_texts(ids)
    passages: dict[int, list[Passage]] = {}
    for p in await corpus.store.passages_of_documents(ids):
        passages.setdefault(p.document_id, []).append(p)
    window = _Window(docs, texts, passages, await _document_vectors(corpus, docs, passages))
    # Grouping and summarising are CPU work: off the event loop, in one trip.
    stories, more, ungrouped = await asyncio.to_thread(_compose, window, max_words, by)
    briefing = Briefing(since=since, until=until, stories=stories, documents=len(docs))
    return replace(briefing, text=format_briefing(briefing, more_stories=more, by=by, ungrouped=ungrouped))


async def overview_answer(
    corpus: Corpus, question: str, *, scope: int | None, now: dt.datetime, intent: DateIntent | None = None
) -> Answer | None:
    """ "What's new?", "what are the documents about?": the stories of the ``OVERVIEW_DOCUMENTS``
    newest documents added, as a cited reply in fewer words than a briefing; "What happened this
    week?" (``intent`` with a window): those of the documents published in it. None when there
    are none. A search would find nothing to match: such a line names no topic."""
    if intent is not None and intent.window:
        since = dt.datetime.combine(intent.date_from or dt.date.min, dt.time(), dt.UTC)
        until = dt.datetime.combine(intent.date_to or now.date(), dt.time(), dt.UTC)
        b = await build_briefing(
            corpus, since=since, until=until, scope=scope, max_words=OVERVIEW_MAX_WORDS, by="published"
        )
        opening = f"{plural(b.documents, 'document')} dated {intent.describe()}, story by story:"
    else:
        newest = await corpus.store.list_documents(scope=scope, limit=OVERVIEW_DOCUMENTS)
        if not newest:
            return None
        since = min(d.added_at for d in newest)
        until = max(max(d.added_at for d in newest) + dt.timedelta(seconds=1), now)
        b = await build_briefing(corpus, since=since, until=until, scope=scope, max_words=OVERVIEW_MAX_WORDS)
        total = await corpus.store.count_documents(scope=scope)
        some = f"{plural(total, 'document')} in all; the newest {b.documents}" if total > b.documents else None
        opening = f"{some or 'The newest ' + plural(b.documents, 'document')}, story by story:"
    if not b.stories:
        return None
    text = PARAGRAPH_SEPARATOR.join([opening] + [f"{s.headline}: {s.summary}" for s in b.stories])
    window = intent if intent is not None else DateIntent()
    return Answer(question, text, b.citations, confidence=1.0, date_from=window.date_from, date_to=window.date_to)


# "Summarize the freight outlook": a document's lead, in about as many words as a story of a briefing.
DOCUMENT_SUMMARY_WORDS = 90


async def about_document(corpus: Corpus, question: str, doc: Document | None, field: str) -> Answer:
    """The reply to a question about one document (``about_documents.asks_about_document``): its metadata,
    or its summary (its lead, cited, as a briefing's story); a refusal when the question names no
    document here."""
    if doc is None:
        return Answer(question, "I couldn't find a document on this.", [], abstained=True)
    if field != "summary":
        return Answer(question, document_reply(doc, field), [])
    text = await corpus.store.document_text(doc.id) or ""
    passages = await corpus.store.passages_of_documents([doc.id])
    picked = await asyncio.to_thread(
        summarize, [text], DOCUMENT_SUMMARY_WORDS, max_sentences=STORY_SENTENCES + 1, strict=True
    )
    citations = [c for c in (_citation(i + 1, doc, passages, s) for i, s in enumerate(picked)) if c is not None]
    when = f" ({format_date(doc.published, doc.published_precision)})" if doc.published else ""
    body = " ".join(f"{c.quote} [{c.number}]" for c in citations) or "It has no text to summarise."
    return Answer(question, f"“{doc.title}”{when}, in brief: {body}", citations, confidence=1.0)


async def _document_vectors(
    corpus: Corpus, docs: list[Document], passages: dict[int, list[Passage]]
) -> dict[int, np.ndarray]:
    """Mean of each document's stored passage vectors; a document without stored vectors (none
    should lack them) is embedded from its title and first passage."""
    stored = await stored_vectors(corpus, [p.id for ps in passages.values() for p in ps])

    def stored_means() -> tuple[dict[int, np.ndarray], list[Document]]:
        out: dict[int, np.ndarray] = {}
        missing: list[Document] = []
        for d in docs:
            rows = [stored[p.id] for p in passages.get(d.id, []) if p.id in stored]
            if rows:
                out[d.id] = _unit(np.mean(rows, axis=0))
            else:
                missing.append(d)
        return out, missing

    out, missing = await asyncio.to_thread(stored_means)
    if missing:
        log.warning("briefing: %d documents without stored vectors, embedding them", len(missing))
        texts = [passage_embedding_text(d.title, passages[d.id][0].text if passages.get(d.id) else "") for d in missing]
        vecs = await asyncio.to_thread(corpus.embedder.encode, texts, bulk=len(texts) > 1)
        out.update({d.id: _unit(v) for d, v in zip(missing, vecs, strict=True)})
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _compose(window: _Window, max_words: int, by: str) -> tuple[list[Story], int, int]:
    """Stories, how many more were not shown, and how many documents joined no story (only in
    windows over ``MAX_GROUPED``)."""
    stamps = [_timestamp(d, by) for d in window.docs]
    window, extra, ungrouped = _cap_window(window, stamps)
    docs = window.docs
    matrix = np.stack([window.vectors[d.id] for d in docs]) if docs else np.zeros((0, 1))
    similarity = matrix @ matrix.T
    grams = [shingles(window.texts.get(d.id, "")) for d in docs]
    duplicate_of = _near_duplicates(similarity, grams)
    for i, j in duplicate_of.items():  # the same article is always the same story
        similarity[i, j] = similarity[j, i] = 1.0
    groups = group_stories(similarity)
    latest = [_timestamp(d, by) for d in docs]
    if extra:
        attached = _attach(matrix, groups, extra, window.vectors)
        ungrouped += len(extra) - sum(len(a) for a in attached.values())
        ordered = sorted(
            groups,
            key=lambda g: (
                -len(g) - len(attached[g[0]]),
                -max([latest[i] for i in g] + [_timestamp(d, by) for d in attached[g[0]]]),
            ),
        )
    else:  # the common case, and the measured one: exactly as before the cap
        attached = {g[0]: [] for g in groups}
        ordered = order_stories(groups, latest)

    stories: list[Story] = []
    number = 1
    left = max_words
    shown = 0
    for group in ordered:
        if left < MIN_STORY_WORDS:
            break
        story = _story(window, similarity, group, duplicate_of, min(STORY_WORDS, left), number)
        if story is None:
            continue
        if attached[group[0]]:
            story = replace(
                story,
                sources=story.sources + len(attached[group[0]]),
                document_ids=story.document_ids + [d.id for d in attached[group[0]]],
            )
        stories.append(story)
        shown += 1
        number += len(story.citations)
        left -= sum(len(c.quote.split()) for c in story.citations)
    return stories, len(ordered) - shown, ungrouped


def _cap_window(window: _Window, stamps: Sequence[float]) -> tuple[_Window, list[Document], int]:
    """The window to cluster (its newest ``MAX_GROUPED`` documents, in their original order), the
    documents left out of clustering (to attach by centroid instead), and how many of those have
    no vector at all (they join no story)."""
    if len(window.docs) <= MAX_GROUPED:
        return window, [], 0
    newest = sorted(range(len(window.docs)), key=lambda i: (-stamps[i], i))
    keep = sorted(newest[:MAX_GROUPED])
    extra = [window.docs[i] for i in newest[MAX_GROUPED:]]
    log.info("briefing: %d documents, clustering the newest %d", len(window.docs), MAX_GROUPED)
    with_vector = [d for d in extra if d.id in window.vectors]
    return replace(window, docs=[window.docs[i] for i in keep]), with_vector, len(extra) - len(with_vector)


def _attach(
    matrix: np.ndarray, groups: list[list[int]], extra: list[Document], vectors: dict[int, np.ndarray]
) -> dict[int, list[Document]]:
    """For each group (keyed by its first member), the left-out documents whose vector is at least
    ``STORY_THRESHOLD`` close to the group's centroid (each joins its closest group only)."""
    attached: dict[int, list[Document]] = {g[0]: [] for g in groups}
    if not extra or not groups:
        return attached
    centroids = np.stack([_unit(matrix[g].mean(axis=0)) for g in groups])
    for start in range(0, len(extra), 1024):  # bounded memory: 1,024 x groups similarities at once
        chunk = extra[start : start + 1024]
        sims = np.stack([vectors[d.id] for d in chunk]) @ centroids.T
        best = sims.argmax(axis=1)
        for d, b, s in zip(chunk, best, sims[np.arange(len(chunk)), best], strict=True):
            if s >= STORY_THRESHOLD:
                attached[groups[int(b)][0]].append(d)
    return attached


def _near_duplicates(similarity: np.ndarray, grams: list[frozenset]) -> dict[int, int]:
    """index -> index of the earlier document it duplicates. Only pairs already close in meaning
    are compared word by word."""
    out: dict[int, int] = {}
    for j in range(len(grams)):
        for i in range(j):
            if i not in out and similarity[i, j] >= 0.8 and near_duplicate(grams[i], grams[j]):
                out[j] = i
                break
    return out


def _story(
    window: _Window,
    similarity: np.ndarray,
    group: list[int],
    duplicate_of: dict[int, int],
    budget: int,
    first_number: int,
) -> Story | None:
    docs = window.docs
    published = [d.published for d in docs]
    centre = lead_member(similarity, group, published)
    developed = len(publication_days(group, published)) > 1
    # The lead document first (summaries read in document order), then the closest to it; copies
    # of an article already in the story are left out of the summary.
    readers = sorted(
        (i for i in group if i not in duplicate_of or duplicate_of[i] not in group),
        key=lambda i: (i != centre, -similarity[centre, i]),
    )
    texts = [window.texts.get(docs[i].id, "") for i in readers]
    # A story that developed opens with its newest document's lead: the latest news first.
    picked = summarize(texts, budget, max_sentences=STORY_SENTENCES, strict=True, opening=developed)
    citations: list[Citation] = []
    parts: list[str] = []
    for s in picked:
        doc = docs[readers[s.document]]
        citation = _citation(first_number + len(citations), doc, window.passages.get(doc.id, []), s)
        if citation is None:
            continue
        citations.append(citation)
        parts.append(f"{s.text} [{citation.number}]")
    if not citations:
        return None
    return Story(
        headline=docs[centre].title,
        summary=" ".join(parts),
        citations=citations,
        document_ids=[docs[i].id for i in sorted(group, key=lambda i: (i != centre, i))],
        sources=len(group),
    )


def _citation(number: int, doc: Document, passages: Sequence[Passage], s: SummarySentence) -> Citation | None:
    passage = containing_passage(passages, s.start, s.end)
    if passage is None:
        log.warning("briefing: no passage of #%d holds chars %d-%d", doc.id, s.start, s.end)
        return None
    paragraph = passage.paragraph_index + passage.text.count(PARAGRAPH_SEPARATOR, 0, s.start - passage.char_start)
    return Citation.of(number, doc, passage, s.text, paragraph, (s.start, s.end), s.score)


def _timestamp(doc: Document, by: str) -> float:
    if by == "published" and doc.published is not None:
        return dt.datetime.combine(doc.published, dt.time(), tzinfo=dt.UTC).timestamp()
    added = doc.added_at if doc.added_at.tzinfo else doc.added_at.replace(tzinfo=dt.UTC)
    return added.timestamp() if by == "added" else -math.inf


# ---------------------------------------------------------------------------- rendering


def _when(ts: dt.datetime, by: str = "added") -> str:
    if by == "published":
        return ts.date().isoformat()
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_briefing(b: Briefing, *, more_stories: int = 0, by: str = "added", ungrouped: int = 0) -> str:
    """Plain text: the window and counts, then per story its headline, sources, cited summary and
    numbered sources; "Nothing new since ..." for an empty window."""
    if b.empty and not b.documents:
        return f"Nothing new since {_when(b.since, by)}."
    lines = [f"Briefing for {_when(b.since, by)} – {_when(b.until, by)}: {plural(b.documents, 'new document')}"]
    for k, story in enumerate(b.stories, start=1):
        lines += ["", f"{k}. {story.headline} ({plural(story.sources, 'source')})", story.summary]
        for c in story.citations:
            when = format_date(c.published, c.published_precision)
            source = f" · {c.source}" if c.source else ""
            lines.append(f"   [{c.number}] {c.title} — {when}{source} (#{c.document_id} ¶{c.paragraph_index + 1})")
    if more_stories:
        lines += ["", f"…and {plural(more_stories, 'more story', 'more stories')} not shown."]
    if ungrouped:
        lines += ["", f"{plural(ungrouped, 'older document')} of this window joined no story shown."]
    return "\n".join(lines)
