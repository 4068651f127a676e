"""A tiny BEIR-layout folder for the evaluation tests: generated news with known answers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

TOPICS = [
    (
        "Rotterdam dock workers ended a strike after a pay rise of {n} percent.",
        "What pay rise ended the Rotterdam strike?",
    ),
    ("The Mekong dam opened after {n} years of construction.", "How many years did the Mekong dam take?"),
    ("Voters in Chile elected Gabriel Boric, aged {n}, as president.", "Who did voters in Chile elect?"),
    ("A storm named Ida flooded {n} homes in Louisiana.", "How many homes did storm Ida flood in Louisiana?"),
]


def write_beir(folder: Path, weeks: int = 8) -> None:
    """One document and one question per topic per week; each question's gold is its own week's."""
    folder.mkdir()
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    start = dt.date(2022, 1, 7)
    for w in range(weeks):
        day = (start + dt.timedelta(weeks=w)).isoformat().replace("-", "/")
        for t, (text, question) in enumerate(TOPICS):
            n = str(10 + 7 * w + t)
            cid, qid = f"p{w}-{t}", f"q{w}-{t}"
            corpus.append({"_id": cid, "title": "", "text": text.format(n=n), "metadata": {"date": day}})
            queries.append({"_id": qid, "text": question, "metadata": {"date": day, "answers": [n]}})
            qrels.append(f"{qid}\t{cid}\t1")
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries) + "\n", encoding="utf-8")
    (folder / "qrels.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")


def append_query(
    folder: Path, qid: str, text: str, answers: list[str], gold: list[str], date: str | None = None
) -> None:
    """One more question of the folder, with its gold documents."""
    meta: dict = {"answers": answers} | ({"date": date} if date else {})
    with open(folder / "queries.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"_id": qid, "text": text, "metadata": meta}) + "\n")
    with open(folder / "qrels.tsv", "a", encoding="utf-8") as f:
        f.writelines(f"{qid}\t{cid}\t1\n" for cid in gold)
