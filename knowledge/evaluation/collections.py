"""``newsdesk eval collections DIR [--sizes 1,3,10] [--trials N]``: answers and refusals in the small
collections a team starts with, asked on the question's date and again on the day of the run.

For each size k, ``trials`` collections are built from DIR (a BEIR-layout folder). Collection i holds
the gold documents of one *answerable* question (``qa.answer_in``: a gold answer occurs in one of its
gold documents), the questions drawn without replacement, plus k minus that many other documents of
DIR drawn at random from those not gold for it. A question with more gold documents than k is not
used at that size. The same seeded order of questions is used at every size, so the sizes are
compared on the same questions as far as they fit. Each collection is a fresh knowledge base (a
temporary SQLite file, filled through the ingest path of ``eval qa``), never a restriction on one
big index: the point is that the collection really is that small, so that every statistic relative
to the collection is what a new team's would be.

In each collection the bot is asked:

- the question itself;
- ``ABSENT`` answerable questions of DIR whose gold documents are all absent from the collection. A
  candidate whose gold answer occurs (case-insensitively, as in the answerable rule) in a document
  of the collection is skipped: the collection may then truly answer it, and refusing would be wrong;
- ``OFF_TOPIC_ASKED`` lines of ``OFF_TOPIC``, written here, never taken from DIR.

Each is asked twice: on its date (the collection question's date for the question and the off-topic
lines, the absent question's own date for it; the end of that day, UTC, as in ``eval qa``; undated:
the time of the run) and on the day of the run. The question itself is asked on the day of the run
only when it has no time words (``dates.parse_date_intent`` finds no window and no recency): "this
week" meant the week of its date, and asked later it is another question.

Per size and time of asking: ``answer_hit`` (the question answered, and the answer holds a gold
answer), ``false_abstain`` (the question refused), ``unanswerable_refused`` (absent questions
refused), ``off_topic_refused`` (off-topic lines refused; a reply that cites no passage, such as
the one to small talk, counts as a refusal: nothing from the documents is given as the answer), and how many of each were asked. The
last line printed with ``--json`` is one JSON object: each of the four, its *worst* value over sizes
and both times (lowest for the rates of answers and refusals, highest for ``false_abstain``), then
``by_size``, ``collections`` (how many were built per size), ``sizes``, ``trials`` and ``seconds``.

Every draw is seeded: the same folder gives the same collections and, asked at the same time, the
same numbers. Each distinct passage and question is embedded once for the whole run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..answer import read_question
from ..dates import parse_date_intent
from ..embed import Embedder
from ..errors import InvalidInput
from .beir import BeirSet, Query, corpus_knowledge_base, read_beir
from .qa import answer_contains, answer_in, asked_at, gold_documents
from .refusals import (
    OTHER_SET,
    SMALL,
    SMALL_ABSENT,
    CachingEmbedder,
    Sample,
    default_embedder,
    fold_group,
    sample_of,
)

DEFAULT_SIZES = (1, 3, 10)
# 200 collections per size: about 3 minutes for realtimeqa-dev on 2 CPU cores (100 took 87 s). A
# rate over ~140 questions (the timeless ones asked today) has a standard error of about 0.02 near
# 0.9; over 100 collections it was about 0.03.
DEFAULT_TRIALS = 200
ABSENT = 2  # questions about documents the collection lacks, per collection
OFF_TOPIC_ASKED = 2  # off-topic lines per collection
OTHER_SET_PER_SIZE = 400  # training collections per size asked a question of another set
SEED = 16
WHEN = ("question_date", "today")
KINDS = ("question", "absent", "off_topic")

# General knowledge, chit-chat and nonsense in every shape a user types: who / what / when / where /
# how many / how-to / yes-no / commands / keyboard mash. None of it is news a team would index.
OFF_TOPIC = (
    "What is the boiling point of water at sea level?",
    "Who painted the Mona Lisa?",
    "How do I bake sourdough bread?",
    "What is the weather like in Paris tomorrow?",
    "asdf qwerty blorp zxcv",
    "How many legs does a spider have?",
    "When did the Roman Empire fall?",
    "Who wrote Pride and Prejudice?",
    "What is the capital of Australia?",
    "How do I reset my router password?",
    "hello there, how are you today?",
    "Can you tell me a joke?",
    "What is the square root of 144?",
    "How many bones are in the adult human body?",
    "Who discovered penicillin?",
    "What time is it in Tokyo right now?",
    "How do I tie a bowline knot?",
    "lkjh poiu mnbv zzzz",
    "What does a photosynthesis reaction produce?",
    "When was the printing press invented?",
    "Which planet is closest to the sun?",
    "How long should I boil an egg for a soft yolk?",
    "thanks, that's all for now",
    "What is the chemical symbol for gold?",
    "Who composed the Four Seasons?",
    "How many minutes are in a day?",
    "Is it going to rain this weekend?",
    "Recommend a good book to read on holiday.",
    "What is the tallest mountain in the world?",
    "How do I convert Celsius to Fahrenheit?",
    "banana keyboard purple seventeen",
    "Why is the sky blue?",
    "Who was the first person to walk on the moon?",
    "What is the plural of octopus?",
    "How many players are on a football team?",
    "Write me a poem about cats.",
    "Where is the Great Barrier Reef?",
    "What rhymes with orange?",
    "How do I remove a red wine stain from a carpet?",
    "qqq www eee rrr ttt yyy",
    "What's your favourite colour?",
    "How far is the moon from the earth?",
)


@dataclass(frozen=True)
class Collection:
    size: int
    question: Query
    documents: tuple[str, ...]  # corpus ids, the question's gold documents first
    absent: tuple[Query, ...]  # answerable questions whose gold documents are all left out
    off_topic: tuple[str, ...]


@dataclass(frozen=True)
class Ask:
    kind: str  # one of KINDS
    when: str  # one of WHEN
    text: str
    at: dt.datetime
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    size: int
    kind: str
    when: str
    refused: bool
    hit: bool  # answered, and the answer holds a gold answer (questions only)


def has_time_words(text: str, *, now: dt.datetime) -> bool:
    """Whether the question's own words set a publication window or ask for the latest news: the
    answer's own reading of date words (``dates.parse_date_intent``), not a list kept here."""
    intent = parse_date_intent(text, now=now)
    return intent.window or intent.recency


def plan_collections(data: BeirSet, sizes: Sequence[int], trials: int, *, seed: int = SEED) -> list[Collection]:
    """The collections of every size, in order of size: a pure function of DIR and the seed."""
    texts = {str(row["_id"]): row.get("text") or "" for row in data.corpus}
    corpus_ids = list(texts)
    gold = {q.id: gold_documents(data.qrels, q.id) for q in data.queries}
    answerable = [
        q
        for q in data.queries
        if gold[q.id] and all(c in texts for c in gold[q.id]) and answer_in(q.answers, (texts[c] for c in gold[q.id]))
    ]
    order = random.Random(seed).sample(answerable, len(answerable))
    out: list[Collection] = []
    for size in sizes:
        if size > len(corpus_ids):
            raise InvalidInput(f"a collection of {size} documents is more than the folder's {len(corpus_ids)}")
        rng = random.Random(seed * 1_000_003 + size)
        for q in [q for q in order if len(gold[q.id]) <= size][:trials]:
            own = set(gold[q.id])
            need = size - len(own)
            # A sample a little larger than needed, with the gold documents filtered out: no list of
            # all the other documents is built per collection.
            drawn = rng.sample(corpus_ids, min(len(corpus_ids), need + len(own)))
            documents = tuple(gold[q.id]) + tuple([c for c in drawn if c not in own][:need])
            held = set(documents)
            held_texts = [texts[c] for c in documents]
            absent: list[Query] = []
            for i in rng.sample(range(len(answerable)), len(answerable)):
                candidate = answerable[i]
                if held.isdisjoint(gold[candidate.id]) and not answer_in(candidate.answers, held_texts):
                    absent.append(candidate)
                    if len(absent) == ABSENT:
                        break
            off_topic = tuple(rng.sample(OFF_TOPIC, OFF_TOPIC_ASKED))
            out.append(Collection(size, q, documents, tuple(absent), off_topic))
    return out


def asks_in(collection: Collection, *, now: dt.datetime) -> list[Ask]:
    """What is asked in a collection, and when (``now``: the time of the run)."""
    q = collection.question
    on_its_date = asked_at(q) or now
    out = [Ask("question", "question_date", q.text, on_its_date, tuple(q.answers))]
    if not has_time_words(q.text, now=now):
        out.append(Ask("question", "today", q.text, now, tuple(q.answers)))
    for a in collection.absent:
        out.append(Ask("absent", "question_date", a.text, asked_at(a) or now, tuple(a.answers)))
        out.append(Ask("absent", "today", a.text, now, tuple(a.answers)))
    for line in collection.off_topic:
        out.append(Ask("off_topic", "question_date", line, on_its_date, ()))
        out.append(Ask("off_topic", "today", line, now, ()))
    return out


class PassageCachingEmbedder(CachingEmbedder):
    """``CachingEmbedder`` that also keeps bulk encodes by text: a document drawn into many
    collections has its passages embedded once for the whole run, not once per collection."""

    def encode(self, texts: list[str], *, bulk: bool = False) -> np.ndarray:
        if not bulk and len(texts) == 1:
            return super().encode(texts)
        self.prime(texts)
        with self._lock:
            rows = [self._cache[t] for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)


async def run_collections(
    data: BeirSet,
    collections: Sequence[Collection],
    *,
    embedder: Embedder,
    now: dt.datetime,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    rows = {str(row["_id"]): row for row in data.corpus}
    outcomes: list[Outcome] = []
    for i, collection in enumerate(collections):
        async with corpus_knowledge_base([rows[c] for c in collection.documents], embedder=embedder) as (kb, _, _):
            answers = {}  # an undated question is asked "now" both times: once is enough
            for ask in asks_in(collection, now=now):
                key = (ask.text, ask.at)
                if key not in answers:
                    answers[key] = await kb.ask(ask.text, now=ask.at)
                answer = answers[key]
                # Refused: no passage given as the answer (a refusal, or the reply to small talk,
                # "hello there, how are you today?", which cites nothing).
                refused = answer.abstained or not answer.citations
                hit = not refused and answer_contains(answer.text, list(ask.answers))
                outcomes.append(Outcome(collection.size, ask.kind, ask.when, refused, hit))
        if progress:
            progress(i + 1, len(collections))
    return outcomes


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def cell_metrics(outcomes: Sequence[Outcome]) -> dict:
    """The rates and counts of one size at one time of asking (a rate with nothing asked is None)."""
    by_kind = {kind: [o for o in outcomes if o.kind == kind] for kind in KINDS}
    return {
        "answer_hit": _share([o.hit for o in by_kind["question"]]),
        "false_abstain": _share([o.refused for o in by_kind["question"]]),
        "unanswerable_refused": _share([o.refused for o in by_kind["absent"]]),
        "off_topic_refused": _share([o.refused for o in by_kind["off_topic"]]),
        "questions": len(by_kind["question"]),
        "absent": len(by_kind["absent"]),
        "off_topic": len(by_kind["off_topic"]),
    }


def summarise(outcomes: Sequence[Outcome], sizes: Sequence[int], trials: int, collections: dict[int, int]) -> dict:
    by_size = {
        str(size): {when: cell_metrics([o for o in outcomes if o.size == size and o.when == when]) for when in WHEN}
        for size in sizes
    }
    cells = [cell for entry in by_size.values() for cell in entry.values()]

    def worst(key: str, pick: Callable) -> float | None:
        values = [cell[key] for cell in cells if cell[key] is not None]
        return pick(values) if values else None

    return {
        "answer_hit": worst("answer_hit", min),
        "false_abstain": worst("false_abstain", max),
        "unanswerable_refused": worst("unanswerable_refused", min),
        "off_topic_refused": worst("off_topic_refused", min),
        "by_size": by_size,
        "collections": {str(size): collections.get(size, 0) for size in sizes},
        "sizes": list(sizes),
        "trials": trials,
    }


async def evaluate_collections(
    folder: Path,
    *,
    sizes: Sequence[int] | None = None,
    trials: int | None = None,
    embedder: Embedder | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """``sizes`` (default ``DEFAULT_SIZES``), ``trials`` collections per size (default
    ``DEFAULT_TRIALS``), ``now``: the day of the run (default: the time it starts)."""
    started = time.perf_counter()
    data = read_beir(folder)
    sizes = sorted(set(sizes or DEFAULT_SIZES))
    trials = trials or DEFAULT_TRIALS
    collections = plan_collections(data, sizes, trials)
    outcomes = await run_collections(
        data,
        collections,
        embedder=PassageCachingEmbedder(embedder or default_embedder()),
        now=now or dt.datetime.now(dt.UTC),
        progress=progress,
    )
    built = {size: sum(c.size == size for c in collections) for size in sizes}
    return {**summarise(outcomes, sizes, trials, built), "seconds": round(time.perf_counter() - started, 1)}


async def training_samples(
    folder: Path,
    *,
    embedder: Embedder | None = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    seed: int = SEED + 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[Sample]:
    """Refusal training samples from small collections (``bench/train_refusal.py``): each
    answerable question of DIR once, in a collection of one of ``sizes`` (drawn by its id; the next
    size when its gold documents do not fit), built as above but from another seed than the
    evaluation's, asked on its date (``SMALL``), and the
    collection's absent questions (``SMALL_ABSENT``). Off-topic lines are not trained on: the
    evaluation's list stays unseen. Without these, a model fitted on whole corpora alone refused
    11-15% of the answerable questions in collections of 1-10 documents (the words of a question's
    context that other outlets' articles hold are missing from one article)."""
    data = read_beir(folder)
    by_size = [
        {c.question.id: c for c in plan_collections(data, [size], len(data.queries), seed=seed)} for size in sizes
    ]
    plans: list[Collection] = []
    for qid in sorted(set().union(*by_size)):
        first = int(hashlib.sha256(qid.encode()).hexdigest(), 16) % len(sizes)
        turn = [by_size[(first + j) % len(sizes)] for j in range(len(sizes))]
        plans.append(next(plan[qid] for plan in turn if qid in plan))
    rows = {str(row["_id"]): row for row in data.corpus}
    cache = PassageCachingEmbedder(embedder or default_embedder())
    now = dt.datetime.now(dt.UTC)
    samples: list[Sample] = []
    for i, c in enumerate(plans):
        async with corpus_knowledge_base([rows[d] for d in c.documents], embedder=cache) as (kb, _, _):
            for kind, q in [(SMALL, c.question)] + [(SMALL_ABSENT, a) for a in c.absent]:
                reading = await read_question(kb, q.text, now=asked_at(q) or now)
                group = fold_group(c.question, gold_documents(data.qrels, c.question.id))
                samples.append(sample_of(reading, q, kind, group, query_id=f"{q.id}@{c.size}"))
        if progress:
            progress(i + 1, len(plans))
    return samples


async def other_set_samples(
    folder: Path,
    questions_from: Path,
    *,
    embedder: Embedder | None = None,
    sizes: Sequence[int] = DEFAULT_SIZES,
    per_size: int = OTHER_SET_PER_SIZE,
    seed: int = SEED + 1,
) -> list[Sample]:
    """Refusal training negatives (``bench/train_refusal.py``): ``per_size`` small collections of
    DIR per size, built as above from the training seed, each asked one question of another set
    (``questions_from``: Wikipedia questions put to news, news questions put to Wikipedia) on the
    collection question's date (``OTHER_SET``). Off the collection's subject like the evaluation's
    off-topic lines, but real questions of every shape, and never that list: it stays unseen. With
    them, off-topic lines the model never saw were refused more often in collections of 10 (README,
    "Refusals" and "Small collections")."""
    data = read_beir(folder)
    others = sorted(read_beir(questions_from).queries, key=lambda q: q.id)
    rows = {str(row["_id"]): row for row in data.corpus}
    cache = PassageCachingEmbedder(embedder or default_embedder())
    now = dt.datetime.now(dt.UTC)
    samples: list[Sample] = []
    for c in plan_collections(data, sizes, per_size, seed=seed):
        # Drawn by the collection, so the same folders always give the same samples.
        pick = others[int(hashlib.sha256(f"{c.size}:{c.question.id}".encode()).hexdigest(), 16) % len(others)]
        async with corpus_knowledge_base([rows[d] for d in c.documents], embedder=cache) as (kb, _, _):
            reading = await read_question(kb, pick.text, now=asked_at(c.question) or now)
        group = fold_group(c.question, gold_documents(data.qrels, c.question.id))
        samples.append(sample_of(reading, pick, OTHER_SET, group, query_id=f"{pick.id}@{c.question.id}@{c.size}"))
    return samples
