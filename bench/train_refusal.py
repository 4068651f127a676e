"""Fit the refusal model ("do the documents answer this?") on the public dev sets, report its
cross-validated trade-off, and (with ``--write``) put the coefficients and threshold into
``knowledge/answerability.py``.

    .venv/bin/python bench/train_refusal.py [--eval-dir ../shared/eval] [--cache FILE] [--write]

Positives: the answerable questions of realtimeqa-dev and xquad-en, each against its own corpus
and in a small collection (its documents and up to 9 others: ``collections.training_samples``).
Negatives, all weighted alike: realtimeqa-dev's ``unanswerable.jsonl`` (Wikipedia questions put to
news), the near misses ``newsdesk eval refusals`` builds (leave-gold-out on both sets, time splits
on realtimeqa-dev), questions with a name swapped for one no document holds, questions whose
documents a small collection lacks, and the other set's questions put to small collections of this
one (``collections.other_set_samples``). The shipped model: ``--target 0.06`` (README, "Refusals").
Nothing from the sets is written into the repository; ``--cache`` keeps the computed features (a
pickle outside the repository) so refitting takes seconds. Without it, about an hour on this CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.answerability import FEATURES  # noqa: E402
from knowledge.evaluation import collections, refusals  # noqa: E402
from knowledge.evaluation.refusals import Sample  # noqa: E402

SMALL = "small_collections"  # samples from collections of 1, 3 and 10 documents (both kinds)
OTHER = "other_set"  # the other set's questions put to small collections of this one
SOURCES = {
    "realtimeqa-dev": ("answerable", "unanswerable", "leave_gold_out", "time_split", "swapped_name", SMALL, OTHER),
    "xquad-en": ("answerable", "leave_gold_out", "swapped_name", SMALL, OTHER),
}
PARTNER = {"realtimeqa-dev": "xquad-en", "xquad-en": "realtimeqa-dev"}  # whose questions are OTHER
TARGET = 0.06  # false refusals the threshold allows on the training questions (both sets)


async def gather(eval_dir: Path) -> tuple[list[Sample], list[str]]:
    """Samples of every set and, alongside, the set each comes from."""
    samples: list[Sample] = []
    sources: list[str] = []
    for name, kinds in SOURCES.items():
        print(f"features: {name}", file=sys.stderr)
        got = await refusals.collect(eval_dir / name, kinds=[k for k in kinds if k not in (SMALL, OTHER)])
        if SMALL in kinds:
            got += await collections.training_samples(eval_dir / name)
        if OTHER in kinds:
            got += await collections.other_set_samples(eval_dir / name, eval_dir / PARTNER[name])
        samples += [replace(s, group=f"{name}:{s.group}") for s in got]
        sources += [name] * len(got)
    return samples, sources


def threshold(p: np.ndarray, samples: list[Sample], sources: list[str], target: float) -> float:
    """The highest threshold that refuses at most ``target`` of the answerable questions of *each*
    set, asked of its whole corpus and of small collections alike (the strictest of the four), on
    out-of-fold probabilities: the decision must mean the same in 1 document and in thousands."""
    out = 1.0
    for src in SOURCES:
        for kind in refusals.ANSWERABLE_KINDS:
            pos = p[
                [s.kind == kind and x == src and not np.isnan(v) for s, x, v in zip(samples, sources, p, strict=True)]
            ]
            if len(pos):
                out = min(out, refusals.threshold_for(pos, target))
    return out


def write(coef: np.ndarray, bias: float, threshold: float) -> None:
    path = ROOT / "knowledge" / "answerability.py"
    text = path.read_text(encoding="utf-8")
    values = ", ".join(f"{c:.4g}" for c in coef)
    text = re.sub(r"_ANSWERABLE_COEF = \([^)]*\)", f"_ANSWERABLE_COEF = ({values})", text)
    text = re.sub(r"_ANSWERABLE_BIAS = [-0-9.e]+", f"_ANSWERABLE_BIAS = {bias:.4g}", text)
    text = re.sub(r"ABSTAIN_BELOW = [0-9.e-]+", f"ABSTAIN_BELOW = {threshold:.4g}", text)
    path.write_text(text, encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--eval-dir", type=Path, default=Path(os.environ.get("NEWSDESK_EVAL_DIR", ROOT.parent / "shared" / "eval"))
    )
    p.add_argument("--cache", type=Path, help="pickle of the computed features (reused when it exists)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--l2", type=float, default=1.0)
    p.add_argument("--target", type=float, default=TARGET)
    p.add_argument("--drop", default="", help="comma-separated feature names to leave out (ablation)")
    p.add_argument("--write", action="store_true", help="write the fitted model into knowledge/answerability.py")
    args = p.parse_args()

    if args.cache and args.cache.exists():
        samples, sources = pickle.loads(args.cache.read_bytes())
    else:
        samples, sources = asyncio.run(gather(args.eval_dir))
        if args.cache:
            args.cache.write_bytes(pickle.dumps((samples, sources)))
    drop = {FEATURES.index(n) for n in args.drop.split(",") if n}
    if drop:  # an ablation: the left-out features read as zero
        samples = [
            replace(s, features=tuple(0.0 if i in drop else x for i, x in enumerate(s.features)))
            if s.features is not None
            else s
            for s in samples
        ]

    targets = sorted({0.02, 0.04, 0.05, 0.06, 0.08, 0.10, args.target})
    curve = refusals.cross_validate(samples, k=args.folds, targets=targets, sources=sources, l2=args.l2)["curve"]
    # The threshold: from out-of-fold probabilities (a model is too kind to its own training questions).
    oof = refusals.out_of_fold(samples, np.array(refusals.folds_of(samples, args.folds)), sources, l2=args.l2)
    fit = [i for i, s in enumerate(samples) if refusals.trainable(s)]
    tr = [samples[i] for i in fit]
    coef, bias = refusals.fit_logistic(
        np.array([s.features for s in tr]),
        np.array([s.label for s in tr]),
        refusals.balanced_weights(tr, [sources[i] for i in fit]),
        l2=args.l2,
    )
    cut = threshold(oof, samples, sources, args.target)
    in_sample = refusals.rates(samples, refusals.probabilities(samples, coef, bias) < cut, sources)
    for row in curve:
        print(json.dumps(row), file=sys.stderr)
    print(
        json.dumps(
            {
                "features": list(FEATURES),
                "coef": [round(float(c), 4) for c in coef],
                "bias": round(bias, 4),
                "threshold": round(cut, 4),
                "target": args.target,
                "in_sample": in_sample,
                "cross_validated": curve,
            }
        )
    )
    if args.write:
        write(coef, bias, cut)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
