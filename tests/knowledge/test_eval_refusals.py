"""``newsdesk eval refusals``: near-miss negatives built at run time from a tiny generated BEIR
folder (fast fake embedder), and the cross-validation machinery on hand-made samples."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from beir_sets import write_beir

from knowledge import cli
from knowledge.answer import Restriction, read_question
from knowledge.embed import HashingEmbedder
from knowledge.evaluation import refusals
from knowledge.evaluation.beir import corpus_knowledge_base
from knowledge.evaluation.refusals import Sample


async def test_collect_builds_every_kind_of_negative(tmp_path):
    write_beir(tmp_path / "set", weeks=3)
    samples = await refusals.collect(tmp_path / "set", embedder=HashingEmbedder())
    kinds = [s.kind for s in samples]
    assert kinds.count("answerable") == 12
    assert kinds.count("leave_gold_out") == 12
    # the first week's questions have no earlier week: nothing is found, they are refused anyway
    assert kinds.count("time_split") == 12
    first_week = [s for s in samples if s.kind == "time_split" and s.query_id.startswith("q0-")]
    assert all(s.features is None for s in first_week)
    assert all(
        s.features is not None and len(s.features) == len(refusals.FEATURES) for s in samples if s.kind == "answerable"
    )


async def test_a_restriction_hides_documents_without_reindexing():
    corpus = [
        {"_id": "old", "text": "Storm Ida flooded 900 homes in Louisiana.", "metadata": {"date": "2021/08/01"}},
        {"_id": "new", "text": "Storm Ida flooded 12,000 homes in Louisiana.", "metadata": {"date": "2021/09/01"}},
    ]
    now = dt.datetime(2021, 9, 2, tzinfo=dt.UTC)
    question = "How many homes did storm Ida flood in Louisiana?"
    async with corpus_knowledge_base(corpus, embedder=HashingEmbedder()) as (kb, doc_to_corpus, _):
        new = next(d for d, c in doc_to_corpus.items() if c == "new")
        cited = lambda r: {doc_to_corpus[r.rows[pid][1].id] for pid, _ in r.top}  # noqa: E731
        assert cited(await read_question(kb, question, now=now)) == {"old", "new"}
        hidden = await read_question(kb, question, now=now, restrict=Restriction(exclude_documents=frozenset({new})))
        assert cited(hidden) == {"old"}
        earlier = await read_question(kb, question, now=now, restrict=Restriction(before=dt.date(2021, 8, 15)))
        assert cited(earlier) == {"old"}
        too_early = await read_question(kb, question, now=now, restrict=Restriction(before=dt.date(2021, 7, 1)))
        assert too_early.reply is not None and too_early.reply.abstained
        # the index itself is untouched
        assert cited(await read_question(kb, question, now=now)) == {"old", "new"}


def test_contains_answer_matches_whole_words():
    assert refusals.contains_answer("The vote was 2 to 1.", ["2"])
    assert not refusals.contains_answer("In 2023 the vote was held.", ["2"])
    assert refusals.contains_answer("Won by Marine Le Pen's rival.", ["marine le pen"])


def test_cli_eval_refusals_prints_the_json_keys(tmp_path, capsys, monkeypatch):
    write_beir(tmp_path / "set")
    monkeypatch.setattr(refusals, "default_embedder", lambda: HashingEmbedder())
    monkeypatch.chdir(tmp_path)
    code = cli.main(["eval", "refusals", str(tmp_path / "set"), "--folds", "2", "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    result = json.loads(out[-1])
    assert {"near_miss", "answerable", "correct_abstain", "false_abstain", "folds"} <= set(result)
    assert result["folds"] == 2
    assert result["answerable"] == 32
    assert result["near_miss"] + result["near_miss_answered_elsewhere"] == 64  # leave-gold-out and time split
    assert 0.0 <= result["correct_abstain"] <= 1.0 and 0.0 <= result["false_abstain"] <= 1.0
    assert [c["target"] for c in result["curve"]] == list(refusals.CURVE_TARGETS)


# ---------------------------------------------------------------------------- cross-validation


def _samples(n: int, seed: int = 0) -> list[Sample]:
    """Answerable questions have a high first feature, negatives a low one; one week per 4 questions."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = ["answerable", "leave_gold_out", "answerable", "time_split"][i % 4]
        x = rng.normal(1.0 if kind == "answerable" else -1.0, 0.5)
        out.append(Sample(f"q{i}", kind, f"2022-W{i // 4:02d}", (x, rng.normal())))
    return out


def test_fit_logistic_separates_and_keeps_raw_units():
    samples = _samples(400)
    x = np.array([s.features for s in samples])
    y = np.array([s.label for s in samples])
    coef, bias = refusals.fit_logistic(x, y, l2=0.1)
    assert coef[0] > 2.0 and abs(coef[1]) < 0.5
    p = 1 / (1 + np.exp(-(x @ coef + bias)))
    assert ((p > 0.5) == (y == 1)).mean() > 0.95


def test_folds_are_contiguous_blocks_of_weeks():
    samples = _samples(40)  # ten weeks
    folds = refusals.folds_of(samples, 5)
    assert folds == sorted(folds) and set(folds) == {0, 1, 2, 3, 4}
    # both questions of a week are always in the same fold
    by_week: dict[str, set[int]] = {}
    for s, f in zip(samples, folds, strict=True):
        by_week.setdefault(s.group, set()).add(f)
    assert all(len(v) == 1 for v in by_week.values())


def test_cross_validation_reports_held_out_rates_near_the_target():
    result = refusals.cross_validate(_samples(800), k=4, targets=(0.05,))
    point = result["curve"][0]
    assert point["false_abstain"] <= 0.1
    assert point["correct_abstain"] > 0.9


def test_threshold_refuses_at_most_the_target_share():
    p = np.linspace(0.0, 1.0, 101)
    t = refusals.threshold_for(p, 0.1)
    assert (p < t).mean() <= 0.1
    assert (p < t).mean() >= 0.09


def test_a_question_with_nothing_found_is_always_refused():
    samples = [Sample("a", "answerable", "g", None), Sample("b", "answerable", "g", (1.0,), forced=True)]
    p = refusals.probabilities(samples, np.array([-50.0]), 0.0)
    assert p[0] < 0 and p[1] >= 0.9


def test_balanced_weights_give_each_class_and_kind_the_same_total():
    samples = [
        Sample(str(i), k, "g", (0.0,))
        for i, k in enumerate(["answerable"] * 6 + ["leave_gold_out"] * 3 + ["time_split"] * 1)
    ]
    w = refusals.balanced_weights(samples)
    assert w[:6].sum() == pytest.approx(w[6:].sum())
    assert w[6:9].sum() == pytest.approx(w[9])
