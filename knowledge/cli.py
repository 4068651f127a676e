"""``newsdesk``: everything the bot can do, from a terminal.

    newsdesk index [PATH ...]            index files/folders (default: the seeds folder)
    newsdesk search "question" [-k N]    ranked passages
    newsdesk ask "question"              a cited answer
    newsdesk brief [--since 24h|DATE]    the briefing of what arrived
    newsdesk docs list | docs remove ID
    newsdesk eval retrieval|qa|refusals|summaries ...
    newsdesk log export [--format csv|jsonl] [--since ...]
    newsdesk run                         the Discord bot (or the console without a token)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import logging
import os
import re
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from .config import KnowledgeConfig
from .errors import KnowledgeError
from .plain import format_answer, format_date, indent

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    from dotenv import load_dotenv

    load_dotenv()
    args = _parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    _quiet_libraries()
    if args.command == "run":
        from bot.__main__ import main as run_bot

        return run_bot() or 0
    config = KnowledgeConfig.from_env()
    if getattr(args, "db", None):
        config = KnowledgeConfig(**{**config.__dict__, "db_path": Path(args.db)})
    try:
        return asyncio.run(args.handler(args, config)) or 0
    except KnowledgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsdesk", description="Cited answers and briefings from your documents.")
    p.add_argument("--db", help="SQLite file (default: $NEWSDESK_DB or data/newsdesk.db)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="index files or folders (default: the seeds folder)")
    s.add_argument("paths", nargs="*")
    s.set_defaults(handler=cmd_index)

    s = sub.add_parser("search", help="ranked passages for a question")
    s.add_argument("question")
    s.add_argument("-k", type=int, default=5)
    s.set_defaults(handler=cmd_search)

    s = sub.add_parser("ask", help="a cited answer")
    s.add_argument("question")
    s.set_defaults(handler=cmd_ask)

    s = sub.add_parser("brief", help="a briefing of what arrived")
    s.add_argument("--since", default="24h", help="24h, 7d, 90m or YYYY-MM-DD (default 24h)")
    s.add_argument("--words", type=int, default=350)
    s.add_argument("--published", action="store_true", help="window on published date instead of added date")
    s.set_defaults(handler=cmd_brief)

    docs = sub.add_parser("docs", help="list or remove documents").add_subparsers(dest="docs_command", required=True)
    s = docs.add_parser("list")
    s.set_defaults(handler=cmd_docs_list)
    s = docs.add_parser("remove")
    s.add_argument("id", type=int)
    s.set_defaults(handler=cmd_docs_remove)

    ev = sub.add_parser("eval", help="measure quality on evaluation sets").add_subparsers(dest="eval_command", required=True)
    s = ev.add_parser("retrieval", help="nDCG@10 etc. on a BEIR-layout folder")
    s.add_argument("dir", type=Path)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_eval_retrieval)
    s = ev.add_parser("qa", help="answer quality on a BEIR-layout folder")
    s.add_argument("dir", type=Path)
    s.add_argument("--unanswerable", type=Path)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_eval_qa)
    s = ev.add_parser("refusals", help="refusals of near-miss questions built from a BEIR-layout folder, cross-validated")
    s.add_argument("dir", type=Path)
    s.add_argument("--folds", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_eval_refusals)
    s = ev.add_parser("summaries", help="ROUGE on a JSONL file of document clusters")
    s.add_argument("file", type=Path)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_eval_summaries)

    lg = sub.add_parser("log", help="the interaction log").add_subparsers(dest="log_command", required=True)
    s = lg.add_parser("export")
    s.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    s.add_argument("--since", help="24h, 7d or YYYY-MM-DD")
    s.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    s.set_defaults(handler=cmd_log_export)

    sub.add_parser("run", help="start the Discord bot (the console when DISCORD_TOKEN is not set)")
    return p


def _quiet_libraries() -> None:
    for name in ("sentence_transformers", "transformers", "httpx", "urllib3", "trafilatura", "htmldate"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


async def _open(config: KnowledgeConfig):
    from .service import KnowledgeBase

    return await KnowledgeBase.open(config)


@asynccontextmanager
async def _knowledge(config: KnowledgeConfig):
    kb = await _open(config)
    try:
        yield kb
    finally:
        await kb.close()


def parse_since(value: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """``24h``, ``90m``, ``7d``, ``2w`` or an ISO date/time; a KnowledgeError otherwise."""
    now = now or dt.datetime.now(dt.timezone.utc)
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", value or "")
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - {"m": dt.timedelta(minutes=n), "h": dt.timedelta(hours=n), "d": dt.timedelta(days=n),
                      "w": dt.timedelta(weeks=n)}[unit]
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise KnowledgeError(f"cannot read the time {value!r}: use 24h, 7d or YYYY-MM-DD") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------------------- commands


async def cmd_index(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from tqdm import tqdm

    from .service import expand_paths

    paths = args.paths or [os.environ.get("NEWSDESK_SEEDS", "seeds")]
    files = expand_paths(paths)
    async with _knowledge(config) as kb:
        with tqdm(total=len(files), unit="file", file=sys.stderr, disable=not files) as bar:
            def progress(path: Path, status: str) -> None:
                bar.set_postfix_str(f"{status}: {path.name}"[:60])
                bar.update(1)
            report = await kb.index_paths(files, progress=progress)
        passages = await kb.store.count_passages()
    print(f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
          f"failed {len(report.errors)}; {passages} passages in {config.db_path}")
    for e in report.errors:
        print(f"  error: {e}", file=sys.stderr)
    return 1 if report.errors and not (report.added or report.updated or report.unchanged) else 0


async def cmd_search(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    async with _knowledge(config) as kb:
        hits = await kb.search(args.question, k=args.k)
    if not hits:
        print("No matching passages.")
    for i, h in enumerate(hits, 1):
        d = h.document
        print(f"{i}. {d.title} — {format_date(d.published, d.published_precision)}"
              f"{' · ' + d.source if d.source else ''}  (score {h.score:.3f}, #{d.id} ¶{h.passage.paragraph_index + 1})")
        print(indent(h.passage.text))
        print()
    return 0


async def cmd_ask(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    async with _knowledge(config) as kb:
        answer = await kb.ask(args.question)
    print(format_answer(answer))
    return 0


async def cmd_brief(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    since = parse_since(args.since)
    async with _knowledge(config) as kb:
        briefing = await kb.brief(since=since, max_words=args.words, by="published" if args.published else "added")
    print(briefing.text)
    return 0


async def cmd_docs_list(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    async with _knowledge(config) as kb:
        docs = await kb.list_documents()
    if not docs:
        print("No documents. Add some with: newsdesk index PATH")
    for d in docs:
        scope = "global" if d.guild_id is None else f"guild {d.guild_id}"
        print(f"#{d.id:<5} {d.title[:70]:<70}  {format_date(d.published, d.published_precision):<10}  "
              f"{d.passages:>4} passages  {scope}")
    return 0


async def cmd_docs_remove(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    async with _knowledge(config) as kb:
        doc = await kb.remove_document(args.id)
    print(f"removed #{doc.id} “{doc.title}”")
    return 0


async def cmd_eval_retrieval(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.retrieval import evaluate_retrieval

    result = await evaluate_retrieval(args.dir, progress=_progress_bar("queries"))
    _print_result(result, args.json)
    return 0


async def cmd_eval_qa(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.qa import evaluate_qa

    result = await evaluate_qa(args.dir, unanswerable=args.unanswerable, progress=_progress_bar("questions"))
    _print_result(result, args.json)
    return 0


async def cmd_eval_refusals(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.refusals import evaluate_refusals

    result = await evaluate_refusals(args.dir, k=args.folds, progress=_progress_bar("questions"))
    _print_result(result, args.json)
    return 0


async def cmd_eval_summaries(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.summaries import evaluate_summaries

    result = await asyncio.to_thread(evaluate_summaries, args.file)
    _print_result(result, args.json)
    return 0


async def cmd_log_export(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .store import Store

    store = await Store.open(config.db_path)
    try:
        rows = await store.interactions(since=parse_since(args.since) if args.since else None)
    finally:
        await store.close()
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        if args.format == "jsonl":
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            fields = ["id", "at", "guild_id", "channel_id", "user_id", "kind", "input", "outcome", "answer",
                      "passage_ids", "scores", "latency_ms", "ref_id"]
            writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "passage_ids": json.dumps(row["passage_ids"]),
                                 "scores": json.dumps(row["scores"])})
    finally:
        if args.output:
            out.close()
            print(f"wrote {len(rows)} interactions to {args.output}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------- output


def _print_result(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")


def _progress_bar(unit: str):
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit=unit, file=sys.stderr)
        bar["bar"].n = done
        bar["bar"].refresh()
        if done >= total:
            bar["bar"].close()

    return update


if __name__ == "__main__":
    raise SystemExit(main())
