"""The single-article measurement: each article summarised alone, scored beside its own lead."""

from __future__ import annotations

import json

from knowledge.evaluation.summaries import evaluate_summaries, lead_sentences

LEAD = "The river flooded the town of Millbrook on Tuesday after two days of heavy rain fell on the valley."
MAYOR = "The mayor declared a state of emergency and opened the school gym as a shelter for families."
ARTICLE = (
    "Photo: residents wade through Main Street.\n\n" + LEAD + "\n\n" + MAYOR + "\n\n"
    "A local artist opened an exhibition of watercolour landscapes at the town library last month.\n\n"
    "Forecasters expect the rain to ease by Thursday, although the river may stay high for days."
)


def test_lead_sentences_follow_the_budget_rule():
    assert lead_sentences(ARTICLE, 5) == ["Photo: residents wade through Main Street."]
    assert len(lead_sentences(ARTICLE, 10)) == 2  # the sentence crossing the budget is kept
    assert len(lead_sentences(ARTICLE, 10, strict=True)) == 1
    assert len(lead_sentences(ARTICLE, 10**9, max_sentences=3)) == 3


def test_single_article_scores_sit_beside_the_lead_and_leave_the_cluster_scores_alone(tmp_path):
    path = tmp_path / "clusters.jsonl"
    line = {"id": "x", "documents": [ARTICLE, "too short to count"], "summary": LEAD + " " + MAYOR}
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    single = evaluate_summaries(path, single=True)
    assert single["articles"] == 1
    for key in ("rouge1", "rouge2", "lead_rouge1", "lead3_rouge2", "story_rouge1", "story_lead_rouge2"):
        assert 0 <= single[key] <= 100, key
    # the caption the plain lead starts with is skipped, so the summary matches the reference better
    assert single["rouge2"] > single["lead_rouge2"]
    assert set(evaluate_summaries(path)) == {"rouge1", "rouge2", "rougeLsum", "clusters", "seconds_per_cluster"}
