"""Fit the refusal model ("do the documents answer this?") on the public dev sets, report its
cross-validated trade-off, and (with ``--write``) put the coefficients and threshold into
``knowledge/answerability.py``.

    .venv/bin/python bench/train_refusal.py [--eval-dir ../shared/eval] [--cache FILE] [--write]

Positives: the answerable questions of realtimeqa-dev and xquad-en, each against its own corpus.
Negatives, all weighted alike: realtimeqa-dev's ``unanswerable.jsonl`` (Wikipedia questions put to
news), and the near misses ``newsdesk eval refusals`` builds (leave-gold-out on both sets, time
splits on realtimeqa-dev). Nothing from the sets is written into the repository; ``--cache`` keeps
the computed features (a pickle outside the repository) so refitting takes seconds. Minutes on
this CPU without it: each corpus is embedded once.
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
from knowledge.evaluation import refusals  # noqa: E402
from knowledge.evaluation.refusals import Sample  # noqa: E402

SOURCES = {
    "realtimeqa-dev": ("answerable", "unanswerable", "leave_gold_out", "time_split"),
    "xquad-en": ("answerable", "leave_gold_out"),
}
TARGET = 0.05   # false refusals the threshold allows on the training questions (both sets)


async def gather(eval_dir: Path) -> tuple[list[Sample], list[str]]:
    """Samples of every set and, alongside, the set each comes from."""
    samples: list[Sample] = []
    sources: list[str] = []
    for name, kinds in SOURCES.items():
        print(f"features: {name}", file=sys.stderr)
        got = await refusals.collect(eval_dir / name, kinds=kinds)
        samples += [replace(s, group=f"{name}:{s.group}") for s in got]
        sources += [name] * len(got)
    return samples, sources


def weights(samples: list[Sample], sources: list[str]) -> np.ndarray:
    """Each class weighs the same; within it each (set, kind) the same."""
    keys = [(s.label, src, s.kind) for s, src in zip(samples, sources)]
    out = np.zeros(len(samples))
    for label in (0, 1):
        groups = {k for k in keys if k[0] == label}
        for g in groups:
            idx = [i for i, k in enumerate(keys) if k == g]
            out[idx] = 1.0 / (len(groups) * len(idx))
    return out * len(samples) / out.sum()


def report(samples: list[Sample], sources: list[str], refused: np.ndarray) -> dict:
    out = {}
    for src in SOURCES:
        for kind in SOURCES[src]:
            mask = np.array([s.kind == kind and x == src for s, x in zip(samples, sources)])
            if mask.any():
                out[f"{src}:{kind}"] = round(float(refused[mask].mean()), 4)
    return out


def cross_validated(samples: list[Sample], sources: list[str], *, k: int, targets: list[float], l2: float) -> list[dict]:
    fold = np.array(refusals.folds_of(samples, k))
    refused = {t: np.zeros(len(samples), dtype=bool) for t in targets}
    for f in range(k):
        train = [i for i in range(len(samples)) if fold[i] != f and samples[i].features is not None]
        test = np.flatnonzero(fold == f)
        tr = [samples[i] for i in train]
        coef, bias = refusals.fit_logistic(np.array([s.features for s in tr]), np.array([s.label for s in tr]),
                                           weights(tr, [sources[i] for i in train]), l2=l2)
        p_train = refusals.probabilities(tr, coef, bias)
        p_test = refusals.probabilities([samples[i] for i in test], coef, bias)
        for t in targets:
            threshold = _threshold(p_train, tr, [sources[i] for i in train], t)
            refused[t][test] = p_test < threshold
    return [{"target": t, **report(samples, sources, refused[t])} for t in targets]


def _threshold(p: np.ndarray, samples: list[Sample], sources: list[str], target: float) -> float:
    """The highest threshold that refuses at most ``target`` of the answerable questions of *each*
    set (the stricter of the two)."""
    out = 1.0
    for src in SOURCES:
        pos = p[[s.label == 1 and x == src for s, x in zip(samples, sources)]]
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
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--eval-dir", type=Path, default=Path(os.environ.get("NEWSDESK_EVAL_DIR", ROOT.parent / "shared" / "eval")))
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
        samples = [replace(s, features=tuple(0.0 if i in drop else x for i, x in enumerate(s.features)))
                   if s.features is not None else s for s in samples]

    targets = sorted({0.02, 0.03, 0.04, 0.05, 0.06, 0.08, args.target})
    curve = cross_validated(samples, sources, k=args.folds, targets=targets, l2=args.l2)
    fit = [i for i, s in enumerate(samples) if s.features is not None]
    tr = [samples[i] for i in fit]
    coef, bias = refusals.fit_logistic(np.array([s.features for s in tr]), np.array([s.label for s in tr]),
                                       weights(tr, [sources[i] for i in fit]), l2=args.l2)
    threshold = _threshold(refusals.probabilities(tr, coef, bias), tr, [sources[i] for i in fit], args.target)
    in_sample = report(samples, sources, refusals.probabilities(samples, coef, bias) < threshold)
    for row in curve:
        print(json.dumps(row), file=sys.stderr)
    print(json.dumps({"features": list(FEATURES), "coef": [round(float(c), 4) for c in coef], "bias": round(bias, 4),
                      "threshold": round(threshold, 4), "target": args.target, "in_sample": in_sample,
                      "cross_validated": curve}))
    if args.write:
        write(coef, bias, threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
