"""``newsdesk``: everything the bot can do, from a terminal.

    newsdesk index [PATH ...]            index files/folders (default: the seeds folder)
    newsdesk search "question" [-k N]    ranked passages
    newsdesk ask "question"              a cited answer
    newsdesk brief [--since 24h|DATE]    the briefing of what arrived
    newsdesk docs list | docs show ID | docs remove ID
    newsdesk feed add URL | feed list | feed remove ID | feed poll
    newsdesk eval retrieval|qa|refusals|collections|summaries ...
    newsdesk log export [--format csv|jsonl] [--since ...]

The Discord bot (or its console without a token) is ``newsdesk-bot`` or ``python -m bot``: the
library never imports the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import io
import json
import logging
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from dotenv import load_dotenv
from tqdm import tqdm

from . import backends, cli_feeds
from .clock import iso, utcnow
from .config import KnowledgeConfig, seed_paths
from .dates import MAX_BACK, format_date, parse_since
from .errors import KnowledgeError, SettingsError
from .files import expand_paths
from .models import Interaction
from .plain import csv_cell, format_answer, format_document, indent, plural
from .question import normalise_question
from .service import KnowledgeBase

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    # Undecodable bytes in argv arrive as lone surrogates; printed to a strict UTF-8 stream they raise.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    load_dotenv()
    args = _parser().parse_args(argv)
    if getattr(args, "question", None) is not None:
        args.question = normalise_question(args.question)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    quiet_libraries()
    try:
        config = KnowledgeConfig.from_env()
        if getattr(args, "db", None):
            config = config.with_db(args.db, name="--db")
    except SettingsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        code = asyncio.run(args.handler(args, config)) or 0
        sys.stdout.flush()  # inside the try: a reader gone by now is a broken pipe like any other
        return code
    except KnowledgeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return _reader_gone()
    except OSError as e:
        # A file named on the command line that is missing or unreadable (an evaluation set, an
        # output folder): one line, not a traceback.
        print(f"error: {_os_error(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _reader_gone() -> int:
    """``newsdesk log export | head``: the reader closed the pipe. Exit quietly, as CLI tools do on
    SIGPIPE; stdout goes to /dev/null first, or the interpreter's final flush of the buffered rest
    would fail again and print "Exception ignored ... BrokenPipeError" (the recipe of Python's
    ``signal`` documentation, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13  # what a shell reports for a process ended by SIGPIPE


def _os_error(e: OSError) -> str:
    return f"{e.filename}: {e.strerror or e}" if e.filename is not None else str(e)


# On the eval commands (also accepted there, after the command): where to evaluate. SUPPRESS: when
# absent it leaves the top-level --db as it is.
_EVAL_DB = "evaluate in this empty PostgreSQL database (postgresql:// URL) instead of a temporary SQLite file"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newsdesk", description="Cited answers and briefings from your documents.")
    p.add_argument("--db", help="SQLite file or postgresql:// URL (default: $NEWSDESK_DB or data/newsdesk.db)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="index files or folders (default: the seeds folder)")
    s.add_argument("paths", nargs="*")
    s.set_defaults(handler=cmd_index)

    s = sub.add_parser("search", help="ranked passages for a question")
    s.add_argument("question")
    s.add_argument("-k", type=_count(1, 100), default=5)
    s.set_defaults(handler=cmd_search)

    s = sub.add_parser("ask", help="a cited answer")
    s.add_argument("question")
    s.set_defaults(handler=cmd_ask)

    s = sub.add_parser("brief", help="a briefing of what arrived")
    s.add_argument("--since", default="24h", help="24h, 7d, 90m or YYYY-MM-DD, at most a year back (default 24h)")
    s.add_argument("--words", type=_count(20, 5000), default=350)
    s.add_argument("--published", action="store_true", help="window on published date instead of added date")
    s.set_defaults(handler=cmd_brief)

    docs = sub.add_parser("docs", help="list, show or remove documents").add_subparsers(
        dest="docs_command", required=True
    )
    s = docs.add_parser("list")
    s.set_defaults(handler=cmd_docs_list)
    s = docs.add_parser("show", help="a document's details and opening")
    s.add_argument("id", type=int)
    s.set_defaults(handler=cmd_docs_show)
    s = docs.add_parser("remove")
    s.add_argument("id", type=int)
    s.set_defaults(handler=cmd_docs_remove)

    ev = sub.add_parser("eval", help="measure quality on evaluation sets").add_subparsers(
        dest="eval_command", required=True
    )
    s = ev.add_parser("retrieval", help="nDCG@10 etc. on a BEIR-layout folder")
    s.add_argument("dir", type=_beir_folder)
    s.add_argument("--json", action="store_true")
    s.add_argument("--db", default=argparse.SUPPRESS, help=_EVAL_DB)
    s.set_defaults(handler=cmd_eval_retrieval)
    s = ev.add_parser("qa", help="answer quality on a BEIR-layout folder")
    s.add_argument("dir", type=_beir_folder)
    s.add_argument("--unanswerable", type=_existing_file)
    s.add_argument("--json", action="store_true")
    s.add_argument("--db", default=argparse.SUPPRESS, help=_EVAL_DB)
    s.set_defaults(handler=cmd_eval_qa)
    s = ev.add_parser(
        "refusals", help="refusals of near-miss questions built from a BEIR-layout folder, cross-validated"
    )
    s.add_argument("dir", type=_beir_folder)
    s.add_argument("--folds", type=int, default=5)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_eval_refusals)
    s = ev.add_parser(
        "collections",
        help="answers and refusals in small collections built from a BEIR-layout folder",
        description="Collections of SIZES documents (one question's gold documents plus others of DIR), each a "
        "fresh knowledge base; asked the question, questions about absent documents and off-topic lines, on "
        "the question's date and today.",
    )
    s.add_argument("dir", type=_beir_folder)
    s.add_argument("--sizes", type=_sizes, help="collection sizes, comma-separated (default 1,3,10)")
    s.add_argument(
        "--trials",
        type=_count(1, 100_000),
        help="collections per size (default 200: about 3 minutes for realtimeqa-dev on 2 CPU cores)",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_eval_collections)
    s = ev.add_parser("summaries", help="ROUGE on a JSONL file of document clusters")
    s.add_argument("file", type=_existing_file)
    s.add_argument("--single", action="store_true", help="each article summarised alone, against its lead")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_eval_summaries)

    lg = sub.add_parser("log", help="the interaction log").add_subparsers(dest="log_command", required=True)
    s = lg.add_parser("export")
    s.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    s.add_argument("--since", help="24h, 7d or YYYY-MM-DD")
    s.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    s.set_defaults(handler=cmd_log_export)

    s = sub.add_parser("migrate", help="copy this store into PostgreSQL (documents, vectors, log, briefings)")
    s.add_argument("--to", required=True, metavar="URL", help="the target: a postgresql:// URL")
    s.set_defaults(handler=cmd_migrate)
    cli_feeds.add_parser(sub, _knowledge)
    return p


# What ``evaluation.beir.read_beir`` reads from an evaluation folder.
BEIR_FILES = ("corpus.jsonl", "queries.jsonl", "qrels.tsv")


def _beir_folder(value: str) -> Path:
    """An argparse type: a folder in the BEIR layout, checked before anything is loaded (a missing
    folder was a FileNotFoundError traceback about qrels.tsv after the model had loaded)."""
    folder = Path(value)
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {value}")
    missing = [name for name in BEIR_FILES if not (folder / name).is_file()]
    if missing:
        raise argparse.ArgumentTypeError(
            f"{value} lacks {', '.join(missing)} (an evaluation folder holds {', '.join(BEIR_FILES)})"
        )
    return folder


def _existing_file(value: str) -> Path:
    """An argparse type: a file that exists (argparse prints the one-line usage error)."""
    if not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    return Path(value)


def _count(low: int, high: int):
    """An argparse type: a whole number from low to high (argparse prints the one-line usage error)."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value[:40]!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"expected a number from {low} to {high}, got {value[:40]!r}")
        return number

    return parse


def _sizes(value: str) -> list[int]:
    """An argparse type: comma-separated collection sizes, each a whole number from 1 to 10,000."""
    parse = _count(1, 10_000)
    sizes = [parse(part.strip()) for part in value.split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError("expected sizes such as 1,3,10")
    return sizes


def quiet_libraries() -> None:
    """For a terminal (this CLI, the bot's console): the model libraries' progress bars and chatter
    would land among the answers. Called from a ``main()``, before the model is loaded."""
    for name in ("sentence_transformers", "transformers", "httpx", "urllib3", "trafilatura", "htmldate"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


async def _open(config: KnowledgeConfig) -> KnowledgeBase:
    return await KnowledgeBase.open(config)


@asynccontextmanager
async def _knowledge(config: KnowledgeConfig):
    kb = await _open(config)
    try:
        yield kb
    finally:
        await kb.close()


# ---------------------------------------------------------------------------- commands


async def cmd_index(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    paths = args.paths or seed_paths()
    files = expand_paths(paths)
    async with _knowledge(config) as kb:
        with tqdm(total=len(files), unit="file", file=sys.stderr, disable=not files) as bar:

            def progress(path: Path, status: str) -> None:
                bar.set_postfix_str(f"{status}: {path.name}"[:60])
                bar.update(1)

            report = await kb.index_paths(files, progress=progress)
        passages = await kb.count_passages()
    print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"failed {len(report.errors)}; {plural(passages, 'passage')} in {config.db_name}"
    )
    for e in report.errors:
        print(f"  error: {e}", file=sys.stderr)
    return 1 if report.errors and not (report.added or report.updated or report.unchanged) else 0


async def cmd_search(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    async with _knowledge(config) as kb:
        # Ranked as of now, as `ask` ranks: date words are windows, later-dated documents wait.
        hits = await kb.search(args.question, k=args.k, now=utcnow())
    if not hits:
        print("No matching passages.")
    for i, h in enumerate(hits, 1):
        d = h.document
        print(
            f"{i}. {d.title} — {format_date(d.published, d.published_precision)}"
            f"{' · ' + d.source if d.source else ''}  (score {h.score:.3f}, #{d.id} ¶{h.passage.paragraph_index + 1})"
        )
        print(indent(h.passage.text))
        print()
    return 0


async def cmd_ask(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    async with _knowledge(config) as kb:
        answer = await kb.ask(args.question)
    print(format_answer(answer))
    return 0


async def cmd_brief(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    since = parse_since(args.since, utcnow())  # the parser and limits of /brief
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
        print(
            f"#{d.id:<5} {d.title[:70]:<70}  {format_date(d.published, d.published_precision):<10}  "
            f"{plural(d.passages, 'passage'):>13}  {scope}"
        )
    return 0


async def cmd_docs_show(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    async with _knowledge(config) as kb:
        doc = await kb.get_document(args.id)
        text = await kb.document_text(args.id)
    print(format_document(doc, text))
    return 0


async def cmd_docs_remove(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    async with _knowledge(config) as kb:
        doc = await kb.remove_document(args.id)
    print(f"removed #{doc.id} “{doc.title}”")
    return 0


async def cmd_eval_retrieval(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.retrieval import evaluate_retrieval  # only `eval` needs it (a guard test reads it here)

    result = await evaluate_retrieval(
        args.dir, progress=_progress_bar("queries"), db=_server_db(config), bm25=config.pg_bm25
    )
    _print_result(result, args.json)
    return 0


async def cmd_eval_qa(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.qa import evaluate_qa  # only `eval` needs it (a guard test reads it here)

    result = await evaluate_qa(
        args.dir,
        unanswerable=args.unanswerable,
        progress=_progress_bar("questions"),
        db=_server_db(config),
        bm25=config.pg_bm25,
    )
    _print_result(result, args.json)
    return 0


async def cmd_eval_refusals(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.refusals import evaluate_refusals

    result = await evaluate_refusals(args.dir, k=args.folds, progress=_progress_bar("questions"))
    _print_result(result, args.json)
    return 0


async def cmd_eval_collections(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.collections import evaluate_collections

    result = await evaluate_collections(
        args.dir, sizes=args.sizes, trials=args.trials, progress=_progress_bar("collections")
    )
    _print_result(result, args.json)
    return 0


async def cmd_eval_summaries(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    from .evaluation.summaries import evaluate_summaries  # only `eval` needs it (a guard test reads it here)

    result = await asyncio.to_thread(evaluate_summaries, args.file, single=args.single)
    _print_result(result, args.json)
    return 0


async def cmd_migrate(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    target = config.with_db(args.to, name="--to")  # a malformed URL is named as --to's
    report = await backends.copy_store(config, args.to, progress=_progress_bar("documents"))
    print(f"{report.summary()} from {config.db_name} into {target.db_name}")
    return 0


async def cmd_log_export(args: argparse.Namespace, config: KnowledgeConfig) -> int:
    since = parse_since(args.since, utcnow(), max_back=MAX_BACK) if args.since else None
    store = await backends.open_store(config)
    try:
        rows = await store.interactions(since=since)
    finally:
        await store.close()
    try:
        out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    except OSError as e:
        raise KnowledgeError(f"cannot write {args.output}: {e.strerror or e}") from None
    try:
        if args.format == "jsonl":
            for row in rows:
                out.write(json.dumps(_exported(row), ensure_ascii=False) + "\n")
        else:
            fields = [f.name for f in dataclasses.fields(Interaction)]
            writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                # Cells a spreadsheet would run as a formula (=HYPERLINK(...) typed as a question)
                # are neutralised; JSONL stays raw, it is read by programs.
                writer.writerow(
                    {
                        key: csv_cell(value)
                        for key, value in {
                            **_exported(row),
                            "passage_ids": json.dumps(row.passage_ids),
                            "scores": json.dumps(row.scores),
                        }.items()
                    }
                )
    finally:
        if args.output:
            out.close()
            print(f"wrote {plural(len(rows), 'interaction')} to {args.output}", file=sys.stderr)
    return 0


def _server_db(config: KnowledgeConfig) -> str | None:
    """The database an evaluation runs in when it names a server (it must be empty); None for a
    file, which is never evaluated in (it may hold your documents): a temporary one is used."""
    return str(config.db) if backends.engine_of(config.db).shared else None


# ---------------------------------------------------------------------------- output


def _exported(row: Interaction) -> dict:
    """An interaction-log row as exported: the time as stored (UTC ISO), the rest as it is."""
    return {**dataclasses.asdict(row), "at": iso(row.at)}


def _print_result(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")


def _progress_bar(unit: str):
    if not sys.stderr.isatty():
        return None
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
