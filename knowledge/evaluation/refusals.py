"""``newsdesk eval refusals DIR``: does the bot refuse *near-miss* questions, news questions on the
corpus's beat whose answer is not in it, while still answering the rest? Cross-validated.

The near misses are built from DIR at run time, from its own answerable questions:

- *leave-gold-out*: a question with its gold documents hidden, so it becomes unanswerable while its
  neighbours (the same week's news, the same story's earlier articles) stay;
- *time split*: a dated question against only the documents of earlier weeks (its gold ones
  hidden too): the question is about news the corpus has not seen yet.

The corpus is indexed once: hiding documents is a per-question restriction on the candidates
(``answer.Restriction``), and each question is embedded once for all its variants. DIR's
``unanswerable.jsonl``, when present, joins the training negatives (it is not a near miss).

The trade-off is cross-validated: questions are split by week into ``folds`` contiguous blocks;
for each block a logistic model over ``answerability.FEATURES`` is fitted on the other blocks, its
threshold set on them to a target false-refusal rate, and it is scored on the held-out block only.
The last line printed is one JSON object (``near_miss``, ``answerable``, ``correct_abstain``,
``false_abstain``, ``folds``, and the ``curve`` over target rates).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..answer import (
    Reading,
    Restriction,
    clean_question,
    parse_date_intent,
    read_question,
    resolve_follow_up,
    weakly_held,
)
from ..answerability import FEATURE_SIGNS, FEATURES
from ..config import KnowledgeConfig
from ..embed import Embedder, SentenceTransformerEmbedder
from ..signals import asked_sentence, name_phrases, text_keys
from .beir import Query, corpus_knowledge_base, read_beir, read_queries
from .qa import answer_in, asked_at, gold_documents

NEAR_MISS = ("leave_gold_out", "time_split")
SWAPPED = "swapped_name"  # an answerable question about a name no document holds (``swapped_name``)
# In a small collection (``collections.training_samples``): the question with its documents and a
# few others, and a question whose documents the collection lacks.
SMALL, SMALL_ABSENT = "small_answerable", "small_absent"
# A question of another set put to a small collection of this one (Wikipedia questions to news,
# news questions to Wikipedia): off the collection's subject, like a general-knowledge line.
OTHER_SET = "other_set"
ANSWERABLE_KINDS = ("answerable", SMALL)
TARGET_FALSE_ABSTAIN = 0.06  # the operating point reported at the top level
CURVE_TARGETS = (0.02, 0.04, 0.06, 0.08, 0.10)
_WEEK = re.compile(r"(?:.*:)?\d{4}-W\d\d")  # a week, maybe after a set's name
TIME_SPLIT_GAP_DAYS = 6  # "earlier weeks": documents at least a week older


@dataclass(frozen=True)
class Sample:
    query_id: str
    kind: str  # "answerable", "unanswerable", a near miss, SWAPPED, SMALL, SMALL_ABSENT or OTHER_SET
    group: str  # fold key: the question's week (or its gold document when undated)
    features: tuple[float, ...] | None  # None: nothing was found, the bot refuses whatever the model
    forced: bool = False  # a quoted phrase was found: the bot answers whatever the model
    refused: bool = False  # held by meaning only, and weakly: the bot refuses whatever the model
    quoted_answer: bool = False  # the sentences the bot would quote hold a gold answer

    @property
    def near_miss(self) -> bool:
        """A near-miss negative whose answer is really gone: another document of the corpus (the
        same story told by another outlet, a later article) may still hold it, and quoting that is
        a right answer, not a near miss."""
        return self.kind in NEAR_MISS and not self.quoted_answer

    @property
    def label(self) -> int:
        return 1 if self.kind in ANSWERABLE_KINDS else 0


class CachingEmbedder:
    """Embeds each query text once: every variant of a question (all documents, gold left out,
    earlier weeks) reads the same query vector. Bulk calls (indexing) pass straight through."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.inner.dim

    def prime(self, texts: Sequence[str]) -> None:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            vectors = self.inner.encode(todo, bulk=True)
            with self._lock:
                self._cache.update(zip(todo, vectors, strict=True))

    def encode(self, texts: list[str], *, bulk: bool = False) -> np.ndarray:
        if bulk or len(texts) != 1:
            return self.inner.encode(texts, bulk=bulk)
        with self._lock:
            hit = self._cache.get(texts[0])
        if hit is None:
            hit = self.inner.encode(texts)[0]
            with self._lock:
                self._cache[texts[0]] = hit
        return hit[None, :]


def default_embedder() -> Embedder:
    config = KnowledgeConfig.from_env()
    return SentenceTransformerEmbedder(
        config.model,
        query_threads=config.query_threads,
        index_threads=config.index_threads,
        batch_size=config.embed_batch_size,
    )


def fold_group(q: Query, gold: Sequence[str]) -> str:
    """The fold a question's samples fall in: its week (or its gold document when undated)."""
    if q.date is not None:
        year, week, _ = q.date.isocalendar()
        return f"{year}-W{week:02d}"
    return min(gold) if gold else q.id


def _retrieval_text(q: Query) -> str:
    """The text ``read_question`` embeds for ``q`` (its date words taken out)."""
    text, _ = clean_question(q.text)
    now = asked_at(q) or dt.datetime.now(dt.UTC)
    return parse_date_intent(resolve_follow_up(text, ()), now=now).query


async def collect(
    folder: Path,
    *,
    embedder: Embedder | None = None,
    unanswerable: Path | None = None,
    kinds: Sequence[str] = ("answerable", "unanswerable", SWAPPED) + NEAR_MISS,
    progress: Callable[[int, int], None] | None = None,
) -> list[Sample]:
    """Refusal features of every question of ``folder`` in each of its variants (``kinds``)."""
    data = read_beir(folder)
    if unanswerable is None and (Path(folder) / "unanswerable.jsonl").exists():
        unanswerable = Path(folder) / "unanswerable.jsonl"
    extra = read_queries(unanswerable) if unanswerable and "unanswerable" in kinds else []
    texts = {str(row["_id"]): (row.get("text") or "") for row in data.corpus}
    questions = [q for q in data.queries if q.id in data.qrels]
    cache = CachingEmbedder(embedder or default_embedder())
    samples: list[Sample] = []
    async with corpus_knowledge_base(data.corpus, embedder=cache) as (kb, doc_to_corpus, _):
        corpus_to_doc = {c: d for d, c in doc_to_corpus.items()}
        cache.prime([_retrieval_text(q) for q in questions + extra])
        todo: list[tuple[Query, str, Restriction | None, Sequence[str]]] = []
        if SWAPPED in kinds:
            pool = sorted({n for q in questions for n in name_phrases(asked_sentence(q.text))})
            corpus_keys = set().union(
                *(
                    text_keys(f"{row.get('title') or ''} {t}")
                    for row, t in zip(data.corpus, texts.values(), strict=True)
                )
            )
        for q in questions:
            gold = gold_documents(data.qrels, q.id)
            answerable = answer_in(q.answers, (texts.get(c, "") for c in gold))
            hide = frozenset(corpus_to_doc[c] for c in gold if c in corpus_to_doc)
            if answerable and "answerable" in kinds:
                todo.append((q, "answerable", None, gold))
            if hide and "leave_gold_out" in kinds:
                todo.append((q, "leave_gold_out", Restriction(exclude_documents=hide), gold))
            if hide and q.date is not None and "time_split" in kinds:
                before = q.date - dt.timedelta(days=TIME_SPLIT_GAP_DAYS)
                todo.append((q, "time_split", Restriction(exclude_documents=hide, before=before), gold))
            if answerable and SWAPPED in kinds and (other := swapped_name(q, pool, absent_from=corpus_keys)):
                todo.append((other, SWAPPED, None, gold))
        todo += [(q, "unanswerable", None, ()) for q in extra]
        for i, (q, kind, restrict, gold) in enumerate(todo):
            reading = await read_question(kb, q.text, now=asked_at(q), restrict=restrict)
            samples.append(sample_of(reading, q, kind, fold_group(q, gold)))
            if progress:
                progress(i + 1, len(todo))
    return samples


def sample_of(reading: Reading, q: Query, kind: str, group: str, *, query_id: str | None = None) -> Sample:
    """The refusal features of one reading of ``q``, and whether what it would quote holds a gold
    answer."""
    features = tuple(reading.evidence.features()) if reading.evidence is not None else None
    quoted = " ".join(c.text for c in reading.chosen or ())
    return Sample(
        query_id or q.id,
        kind,
        group,
        features,
        reading.phrase_found,
        refused=weakly_held(reading),
        quoted_answer=contains_answer(quoted, q.answers),
    )


def swapped_name(q: Query, pool: Sequence[str], *, absent_from: set[str]) -> Query | None:
    """``q`` asking about someone or something else: the first name of its asked sentence replaced
    by a name, from another question of the set, that no document of the corpus holds ("How many
    troops did Belarus send?" over documents about the CSTO). Its documents are all there, but
    they do not answer it: the near miss a small collection meets most. Drawn by the question's
    id, so the same question always gets the same name. None when the question names nothing."""
    names = name_phrases(asked_sentence(q.text))
    candidates = [n for n in pool if not {_key(w) for w in n.split()} & absent_from]
    if not names or not candidates:
        return None
    pick = candidates[int(hashlib.sha256(q.id.encode()).hexdigest(), 16) % len(candidates)]
    text = re.sub(rf"(?<!\w){re.escape(names[0])}(?!\w)", pick, q.text, count=1)
    return replace(q, id=f"{q.id}:swapped", text=text, answers=[])


def _key(word: str) -> str:
    return next(iter(text_keys(word)), word.lower())


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """A gold answer as a whole word or phrase ("2" is not found in "2023")."""
    return any(a.strip() and re.search(rf"(?<!\w){re.escape(a.strip())}(?!\w)", text, re.I) for a in answers)


# ---------------------------------------------------------------------------- the model


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    l2: float = 1.0,
    signs: Sequence[int] | None = None,
) -> tuple[np.ndarray, float]:
    """``_fit_logistic`` keeping each coefficient to its allowed sign (``signs``: +1, -1 or 0 for
    free, per feature; by default ``answerability.FEATURE_SIGNS`` when ``x`` has those features):
    a feature that takes the wrong sign is left out and the rest refitted, until none does."""
    x = np.asarray(x, dtype=np.float64)
    if signs is None:
        signs = [FEATURE_SIGNS.get(n, 0) for n in FEATURES] if x.shape[1] == len(FEATURES) else [0] * x.shape[1]
    sign = np.asarray(signs)
    active = np.ones(x.shape[1], dtype=bool)
    while True:
        coef = np.zeros(x.shape[1])
        part, bias = _fit_logistic(x[:, active], y, weights, l2=l2)
        coef[active] = part
        wrong = (sign * coef) < 0
        if not wrong.any():
            return coef, bias
        active &= ~wrong


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, *, l2: float = 1.0, iterations: int = 50
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised features; returns
    (coefficients, bias) for the *raw* features. ``l2`` is the ridge strength on the standardised
    coefficients per unit of total sample weight."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.mean()
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std < 1e-9] = 1.0
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    ridge = np.full(z.shape[1], l2 * len(y) / 1000.0)
    ridge[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -60, 60)))
        grad = z.T @ (w * (p - y)) + ridge * beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(ridge) + 1e-9 * np.eye(z.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    coef = beta[:-1] / std
    return coef, float(beta[-1] - (coef * mean).sum())


def balanced_weights(samples: Sequence[Sample], sources: Sequence[str] | None = None) -> np.ndarray:
    """Each class weighs the same in total, and within a class each kind (of each source set) the
    same: the model must not learn one kind of negative only."""
    sources = sources or [""] * len(samples)
    keys = [(s.label, src, s.kind) for s, src in zip(samples, sources, strict=True)]
    out = np.zeros(len(samples))
    for label in (0, 1):
        kinds = {key for key in keys if key[0] == label}
        for kind in kinds:
            idx = [i for i, key in enumerate(keys) if key == kind]
            out[idx] = 1.0 / (len(kinds) * len(idx))
    return out * len(samples) / out.sum()


def trainable(sample: Sample) -> bool:
    """Fitted on: questions with evidence, near misses only when their answer is really gone."""
    return sample.features is not None and (sample.kind not in NEAR_MISS or sample.near_miss)


def probabilities(samples: Sequence[Sample], coef: np.ndarray, bias: float) -> np.ndarray:
    """The model's probability of "answerable"; -1 for a question the bot refuses anyway (nothing
    found, or held by meaning alone and weakly: ``answer.weakly_held``), 2 for one it answers anyway
    (a quoted phrase was found)."""
    out = np.empty(len(samples))
    for i, s in enumerate(samples):
        if s.features is None or s.refused:
            out[i] = -1.0
        elif s.forced:
            out[i] = max(0.9, _sigmoid(bias + float(np.dot(coef, s.features))))
        else:
            out[i] = _sigmoid(bias + float(np.dot(coef, s.features)))
    return out


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-max(-60.0, min(60.0, z))))


def threshold_for(p_answerable: np.ndarray, target: float) -> float:
    """The highest threshold ("refuse below") that refuses at most ``target`` of these answerable
    questions."""
    p = np.sort(p_answerable)
    allowed = int(np.floor(target * len(p)))
    if allowed >= len(p):
        return 1.0
    return float(p[allowed]) if allowed > 0 else float(p[0])


def folds_of(samples: Sequence[Sample], k: int) -> list[int]:
    """Contiguous blocks of groups (weeks in date order): a story that runs for weeks stays on one
    side of the split as far as possible."""
    groups = sorted({s.group for s in samples})
    dated = [g for g in groups if _WEEK.fullmatch(g)]
    block = {g: min(k - 1, i * k // max(1, len(dated))) for i, g in enumerate(dated)}
    block.update({g: i % k for i, g in enumerate(g for g in groups if g not in block)})  # undated: dealt round
    return [block[s.group] for s in samples]


def out_of_fold(
    samples: Sequence[Sample], fold: np.ndarray, sources: Sequence[str] | None = None, *, l2: float = 1.0
) -> np.ndarray:
    """Each sample's probability from a model fitted on the other folds (trainable samples only)."""
    sources = list(sources or [""] * len(samples))
    out = np.full(len(samples), np.nan)
    for f in sorted(set(fold.tolist())):
        train = [i for i in range(len(samples)) if fold[i] != f and trainable(samples[i])]
        test = np.flatnonzero(fold == f)
        if not train or len({samples[i].label for i in train}) < 2:
            continue
        tr = [samples[i] for i in train]
        coef, bias = fit_logistic(
            np.array([s.features for s in tr]),
            np.array([s.label for s in tr]),
            balanced_weights(tr, [sources[i] for i in train]),
            l2=l2,
        )
        out[test] = probabilities([samples[i] for i in test.tolist()], coef, bias)
    return out


def cross_validate(
    samples: Sequence[Sample],
    *,
    k: int = 5,
    targets: Sequence[float] = CURVE_TARGETS,
    sources: Sequence[str] | None = None,
    l2: float = 1.0,
) -> dict:
    """Held-out refusal rates at each target false-refusal rate. For each of ``k`` blocks, a model is
    fitted on the other blocks and its threshold is set there too, on *their* out-of-fold
    probabilities (a model scores its own training questions too kindly), for each source set
    (the stricter wins); the block is scored with both."""
    sources = list(sources or [""] * len(samples))
    fold = np.array(folds_of(samples, k))
    refused = {t: np.zeros(len(samples), dtype=bool) for t in targets}
    for f in range(k):
        inside = np.flatnonzero(fold != f)
        test = np.flatnonzero(fold == f)
        if not len(inside) or not len(test):
            continue
        sub = [samples[i] for i in inside.tolist()]
        inner = out_of_fold(sub, fold[inside], [sources[i] for i in inside], l2=l2)
        outer = out_of_fold(samples, np.where(fold == f, 0, 1), sources, l2=l2)  # fitted on the others
        for t in targets:
            threshold = 1.0
            for src in set(sources):
                pos = inner[
                    [
                        s.label == 1 and sources[i] == src and not np.isnan(inner[j])
                        for j, (i, s) in enumerate(zip(inside, sub, strict=True))
                    ]
                ]
                if len(pos):
                    threshold = min(threshold, threshold_for(pos, t))
            refused[t][test] = outer[test] < threshold
    return {"folds": k, "curve": [{"target": t, **rates(samples, refused[t], sources)} for t in targets]}


def rates(samples: Sequence[Sample], refused: np.ndarray, sources: Sequence[str] | None = None) -> dict:
    """Refusal rates: ``false_abstain`` of answerable questions, ``correct_abstain`` of near misses
    whose answer is really gone (``_all``: of every near miss), and by kind (and source set)."""
    share = lambda mask: round(float(refused[mask].mean()), 4) if mask.any() else 0.0  # noqa: E731
    kinds = np.array([s.kind for s in samples])
    clean = np.array([s.near_miss for s in samples])
    out = {
        "false_abstain": share(kinds == "answerable"),
        "correct_abstain": share(clean),
        "correct_abstain_all": share(np.isin(kinds, NEAR_MISS)),
    }
    srcs = np.array(list(sources or [""] * len(samples)))
    for src in sorted(set(srcs.tolist())):
        prefix = f"{src}:" if src else ""
        for kind in (
            "answerable",
            SMALL,
            "leave_gold_out",
            "time_split",
            "unanswerable",
            SWAPPED,
            SMALL_ABSENT,
            OTHER_SET,
        ):
            mask = (kinds == kind) & (srcs == src) & (clean | ~np.isin(kinds, NEAR_MISS))
            if mask.any():
                name = {"answerable": "false_abstain", SMALL: "false_abstain_small"}.get(
                    kind, f"correct_abstain_{kind}"
                )
                out[f"{prefix}{name}"] = share(mask)
    return out


def summarise(samples: Sequence[Sample], *, k: int = 5, shipped: Callable[[Sample], bool] | None = None) -> dict:
    cv = cross_validate(samples, k=k)
    head = next(c for c in cv["curve"] if c["target"] == TARGET_FALSE_ABSTAIN)
    kinds = [s.kind for s in samples]
    result = {
        "near_miss": sum(s.near_miss for s in samples),
        "near_miss_answered_elsewhere": sum(s.kind in NEAR_MISS and s.quoted_answer for s in samples),
        "answerable": kinds.count("answerable"),
        "correct_abstain": head["correct_abstain"],
        "false_abstain": head["false_abstain"],
        "folds": k,
        "target_false_abstain": TARGET_FALSE_ABSTAIN,
        **{f"{kind}": kinds.count(kind) for kind in ("leave_gold_out", "time_split", "unanswerable", SWAPPED)},
        "curve": cv["curve"],
    }
    if shipped is not None:
        # The model /ask uses, fitted on these questions among others: in-sample, for reference.
        result["shipped_in_sample"] = rates(samples, np.array([shipped(s) for s in samples]))
    return result


def shipped_refuses(sample: Sample) -> bool:
    from ..answer import SETTINGS
    from ..answerability import _ANSWERABLE_BIAS, _ANSWERABLE_COEF

    p = probabilities([sample], np.array(_ANSWERABLE_COEF), _ANSWERABLE_BIAS)[0]
    return bool(p < SETTINGS.abstain_below)


async def evaluate_refusals(
    folder: Path, *, embedder: Embedder | None = None, k: int = 5, progress: Callable[[int, int], None] | None = None
) -> dict:
    samples = await collect(folder, embedder=embedder, progress=progress)
    return summarise(samples, k=k, shipped=shipped_refuses)
