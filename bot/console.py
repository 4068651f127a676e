"""A terminal console over the same knowledge base, for trying newsdesk without a Discord token.

A line is a question unless it starts with a command word (``COMMANDS``: ask, reset, brief, doc
add|list|show|remove, feed add|list|remove|poll, stats, help, quit). Reads lines from stdin, so it
also works piped (``printf 'What happened?\\nquit\\n' | python -m bot``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import re
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from knowledge import KnowledgeBase, dates, plain
from knowledge.cli_feeds import feed_text, poll_text
from knowledge.embed import Embedder
from knowledge.errors import KnowledgeError
from knowledge.ingest import SUPPORTED_SUFFIXES, strip_credentials
from knowledge.models import cited_passages
from knowledge.question import Reply, normalise_question

from . import render
from .settings import Settings

log = logging.getLogger(__name__)

# The command words; any other line is a question. A line ending in "?" is a question even when it
# starts with one of them ("brief history of the CSTO?"), unless it starts with `ask` or is the word alone.
COMMANDS = frozenset({"ask", "reset", "brief", "doc", "feed", "stats", "help", "quit", "exit"})

HELP = """Type a question and press Enter: it is answered from the documents, with numbered sources.
A question after a question is a follow-up ("and what about Russia?"), as in a Discord thread.

Commands (the console's versions of the Discord commands; a leading / is accepted: /brief 3d):
  ask QUESTION        the same as typing the question (for one that starts with a command word)
  reset               forget the conversation: the next question starts afresh
  brief [SINCE]       what was added recently (SINCE: 12h, 3d, 1w or 2024-05-01, up to a year back;
                      default 24h)
  doc add PATH|URL    add a file (.txt .md .html .pdf .docx .eml), a folder, or a web page or file
                      by its http(s) link
  doc list [PAGE]     list documents
  doc show ID         a document's details and opening
  doc remove ID       remove a document ("add PATH", "docs", "show ID", "remove ID" work too)
  feed add URL        follow an RSS or Atom feed
  feed list           the feeds followed, with their last success and error
  feed remove ID      stop following a feed
  feed poll           index the new entries of the feeds that are due
  stats [DAYS]        usage of the last DAYS days (default 7)
  help                this text
  quit                leave (Ctrl-D works too)"""

PROMPT = "newsdesk> "
_URL = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)


# The document commands as a newcomer types them, without "doc" ("add notes.txt", "docs",
# "remove 4"): each is that command only when the rest can mean nothing else (paths or links to
# add, an id to show or remove, nothing or a page number to list). "list the documents" and "show
# me the latest on the strike" stay questions.
_DOC_ALIASES = {
    "add": "add",
    "upload": "add",
    "docs": "list",
    "documents": "list",
    "list": "list",
    "show": "show",
    "remove": "remove",
    "delete": "remove",
}
_ID = re.compile(r"#?\d+")


def split_command(line: str) -> tuple[str | None, list[str], str]:
    """``(command, words after it, text after it)`` for a command line, ``(None, [], line)`` for a
    question. ``/ask`` works as ``ask``: someone reading the Discord commands types them so."""
    first, _, rest = line.partition(" ")
    word = first.lower().removeprefix("/")
    if not rest.strip():
        word = word.rstrip("?")  # "help?" is help
    try:
        words = shlex.split(rest)
    except ValueError:  # an unbalanced quote: the words as typed
        words = rest.split()
    if word in _DOC_ALIASES and _doc_alias_fits(_DOC_ALIASES[word], words):
        return "doc", [_DOC_ALIASES[word], *words], rest.strip()
    if word not in COMMANDS or (word != "ask" and rest.strip() and line.rstrip().endswith("?")):
        return None, [], line
    return word, words, rest.strip()


def _doc_alias_fits(sub: str, words: list[str]) -> bool:
    if sub == "add":
        # A path that does not exist is still one ("add /tmp/notes.txt" mistyped): it gets "no
        # such file", not an answer from the documents.
        return bool(words) and all(_URL.match(w) or _path_like(w) for w in words)
    if sub == "list":
        return not words or (len(words) == 1 and words[0].isascii() and words[0].isdigit())
    return len(words) == 1 and _ID.fullmatch(words[0]) is not None


def _path_like(word: str) -> bool:
    return (
        Path(word).expanduser().exists()
        or any(sep in word for sep in "/\\")
        or Path(word).suffix.lower() in SUPPORTED_SUFFIXES
    )


class Console:
    def __init__(self, kb: KnowledgeBase, settings: Settings, *, out: TextIO = sys.stdout) -> None:
        self.kb = kb
        self.settings = settings
        self.out = out
        self.history: list[str] = []
        self.model_loading: asyncio.Task[None] | None = None
        self.interactive = False
        self.at_prompt = False

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def notice(self, text: str) -> None:
        """A line that arrives on its own (the model is ready) while the prompt may be waiting."""
        if self.at_prompt:
            print(f"\n{text}\n{PROMPT}", end="", file=self.out, flush=True)
        else:
            self.say(text)

    def start_loading_model(self) -> None:
        """Load the embedding model in a worker thread now, instead of on the first question (15 s
        of silence): the console answers commands meanwhile, and a question waits with a notice."""
        load = getattr(self.kb.embedder, "load", None)
        if load is None:  # an embedder with nothing to load (the tests' fast ones)
            return
        self.say("Loading the language model in the background (15 s or so); type meanwhile.")
        self.model_loading = asyncio.create_task(self._load_model(load), name="load-model")

    async def _load_model(self, load: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await _in_daemon_thread(load)
        except Exception:
            # The first question tries again (and reports its own error): not fatal here.
            log.exception("loading the embedding model failed")
            self.notice("error: the model could not be loaded (the log has the details)")
            return
        self.notice(f"The model is ready ({loop.time() - started:.0f} s).")

    async def model_ready(self) -> None:
        task = self.model_loading
        if task is not None and not task.done():
            self.say("Waiting for the model to finish loading…")
            await asyncio.wait([task])

    async def run(self, read_line: Callable[[], str] | None = None, *, interactive: bool | None = None) -> None:
        if read_line is None:
            stdin = sys.stdin
            # Bytes that are not UTF-8 (a pasted binary, another encoding) must not end the console.
            if isinstance(stdin, io.TextIOWrapper):
                stdin.reconfigure(errors="replace")
            reader: Callable[[], str] = stdin.readline
        else:
            reader = read_line
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        try:
            while True:
                if self.interactive:
                    print(PROMPT, end="", file=self.out, flush=True)
                    self.at_prompt = True
                # stdin is read in a thread: the event loop stays free for the model's work.
                line = await asyncio.to_thread(reader)
                self.at_prompt = False
                if not line:
                    break  # end of input
                if not await self.handle(line.strip()):
                    break
        finally:
            if self.model_loading is not None and not self.model_loading.done():
                self.model_loading.cancel()

    async def handle(self, line: str) -> bool:
        """Run one line, a command or a question; False means quit."""
        if not line:
            return True
        command, words, rest = split_command(line)
        try:
            if command is None:
                await self.ask(line)
            elif command in ("quit", "exit"):
                return False
            elif command == "help":
                self.say(HELP)
            elif command == "ask":
                await self.ask(rest)
            elif command == "brief":
                await self.brief(rest)
            elif command == "doc":
                await self.doc(words[0].lower() if words else "", words[1:])
            elif command == "reset":
                self.history.clear()
                self.say("Conversation reset: the next question starts afresh.")
            elif command == "feed":
                await self.feed(words[0].lower() if words else "", words[1:])
            elif command == "stats":
                await self.stats(words)
        except KnowledgeError as e:
            self.say(f"error: {e}")
        except Exception:
            # A console is a loop of independent commands: one that fails unexpectedly is logged with
            # its traceback and reported, and the next command still runs.
            log.exception("console command failed: %r", line[:200])
            self.say("error: that command failed unexpectedly (the log has the details)")
        return True

    async def ask(self, question: str) -> None:
        question = normalise_question(question)
        if not question:
            self.say("usage: ask QUESTION (or type the question alone)")
            return
        await self.model_ready()
        answer = await self.kb.ask(question, scope=None, history=self.history[-6:])
        self.history += [question, Reply(answer.text)]
        await self.kb.log_interaction(
            "ask",
            input=question,
            outcome="abstained" if answer.abstained else "answered",
            answer=answer.text,
            **cited_passages(answer.shown),
            latency_ms=answer.latency_ms,
        )
        self.say(plain.format_answer(answer))

    async def brief(self, since: str) -> None:
        now = dt.datetime.now(dt.UTC)
        # The same parser and limits as /brief: an unreadable or absurd window is an InvalidInput.
        start = dates.parse_since(since or None, now, self.settings.tz)
        await self.model_ready()
        briefing = await self.kb.brief(since=start, scope=None, max_words=self.settings.briefing_max_words)
        await self.kb.log_interaction(
            "brief",
            input=since or "24h",
            outcome="empty" if briefing.empty else "posted",
            answer=briefing.text,
            **cited_passages(briefing.citations),
        )
        self.say(briefing.text or ("Nothing new." if briefing.empty else ""))

    async def doc(self, sub: str, args: list[str]) -> None:
        if sub == "add" and args:
            for arg in args:
                await self.add(arg)
        elif sub == "list":
            page = int(args[0]) if args and args[0].isascii() and args[0].isdigit() else 1
            per = render.DOCUMENTS_PER_PAGE
            total = await self.kb.count_documents(scope=None)
            page = max(1, min(page, -(-total // per)))  # "doc list 99999999999999999999": the last page
            docs = await self.kb.list_documents(scope=None, limit=per, offset=(page - 1) * per)
            for d in docs:
                when = dates.format_date(d.published, d.published_precision)
                self.say(f"#{d.id:<5} {d.title}  ({d.source or 'unknown'}, {when})")
            pages = max(1, -(-total // per))
            self.say(f"page {page} of {pages}, {plain.plural(total, 'document')}")
        elif sub == "show" and len(args) == 1 and (doc_id := _id(args[0])) is not None:
            doc = await self.kb.get_document(doc_id, scope=None)
            self.say(plain.format_document(doc, await self.kb.document_text(doc_id, scope=None)))
        elif sub == "remove" and len(args) == 1 and (doc_id := _id(args[0])) is not None:
            doc = await self.kb.remove_document(doc_id)
            await self.kb.log_interaction(
                "doc_remove", input=f"#{doc.id} {doc.title}", outcome="removed", ref_id=doc.id
            )
            self.say(f"removed #{doc.id} {doc.title}")
        else:
            self.say("usage: doc add PATH|URL | doc list [PAGE] | doc show ID | doc remove ID")

    async def add(self, target: str) -> None:
        """``doc add``: a link (through the vetted fetch of ``/doc add url``), a folder or a file."""
        if _URL.match(target):
            self.say(f"fetching {strip_credentials(target)} …")
            doc = await self.kb.add_url(target, guild_id=None)
            await self.kb.log_interaction(
                "doc_add", input=f"url {strip_credentials(target)}", outcome="added", ref_id=doc.id
            )
            self.say(f"added #{doc.id} {doc.title} ({plain.plural(doc.passages, 'passage')})")
            return
        path = Path(target).expanduser()
        if path.is_dir():
            report = await self.kb.index_paths([path])
            for d in report.added + report.updated:
                self.say(f"added #{d.id} {d.title}")
            for e in report.errors:
                self.say(f"error: {e}")
            self.say(
                f"{len(report.added)} added, {len(report.updated)} updated, "
                f"{len(report.unchanged)} unchanged, {len(report.errors)} failed"
            )
            return
        doc = await self.kb.add_file(path)
        await self.kb.log_interaction("doc_add", input=f"file {path.name}", outcome="added", ref_id=doc.id)
        self.say(f"added #{doc.id} {doc.title} ({plain.plural(doc.passages, 'passage')})")

    async def feed(self, sub: str, args: list[str]) -> None:
        if sub == "add" and args:
            feed = await self.kb.add_feed(args[0], guild_id=None, title=" ".join(args[1:]) or None)
            self.say(f"following #{feed.id} {feed.title}; `feed poll` indexes its entries")
        elif sub == "list":
            feeds = await self.kb.list_feeds()
            self.say("\n".join(feed_text(f) for f in feeds) or "No feeds. Follow one with: feed add URL")
        elif sub == "remove" and len(args) == 1 and (feed_id := _id(args[0])) is not None:
            feed = await self.kb.remove_feed(feed_id)
            self.say(f"stopped following #{feed.id} {feed.title}")
        elif sub == "poll":
            polls = await self.kb.poll_feeds()
            self.say("\n".join(poll_text(p) for p in polls) or "No feed is due.")
        else:
            self.say("usage: feed add URL [TITLE] | feed list | feed remove ID | feed poll")

    async def stats(self, args: list[str]) -> None:
        days = int(args[0]) if len(args) == 1 and args[0].isascii() and args[0].isdigit() else None
        if args and not (days and days <= MAX_STATS_DAYS):
            self.say(f"usage: stats [DAYS] (DAYS: 1 to {MAX_STATS_DAYS}, default 7)")
            return
        self.say(render.stats_text(await self.kb.usage_stats(days=days or 7)))


MAX_STATS_DAYS = 365  # as /stats


async def _in_daemon_thread(work: Callable[[], None]) -> None:
    """Run ``work`` in a daemon thread and wait for it. Not ``asyncio.to_thread``: the event loop
    joins its executor's threads when it closes, so `quit` during the model load waited for the
    load to end (15 s and more on a busy machine)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if done.done():  # cancelled: nobody waits any more
            return
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def run() -> None:
        error: BaseException | None = None
        try:
            work()
        except BaseException as e:  # handed to the waiting task, which reports it
            error = e
        try:
            loop.call_soon_threadsafe(settle, error)
        except RuntimeError:  # the loop has closed: the console has ended meanwhile
            pass

    threading.Thread(target=run, name="load-model", daemon=True).start()
    await done


def _id(text: str) -> int | None:
    """A document or feed id as typed (``3`` or ``#3``); None when it is not one."""
    digits = text.removeprefix("#")
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 18 else None


async def run_console(
    settings: Settings,
    *,
    read_line: Callable[[], str] | None = None,
    out: TextIO = sys.stdout,
    interactive: bool | None = None,
    embedder: Embedder | None = None,
) -> None:
    """The console over its own knowledge base; ``embedder``: tests pass a fast one, None loads the model."""
    async with await KnowledgeBase.open(settings.knowledge, embedder=embedder) as kb:
        console = Console(kb, settings, out=out)
        console.say("newsdesk console: no DISCORD_TOKEN set, so the bot is not connecting. Type a question, or `help`.")
        console.start_loading_model()
        existing = [p for p in settings.seeds if p.exists()]
        if existing:
            report = await kb.index_paths(existing, skip_removed=True)  # a removed seed stays removed
            if report.added or report.updated:
                console.say(f"seeds: {len(report.added)} added, {len(report.updated)} updated")
        if not await kb.count_documents():
            # Started away from the project folder (the seeds path is relative), or seeds turned
            # off: say so now rather than refuse every question later.
            where = ", ".join(str(p) for p in settings.seeds)
            missing = "" if existing else f" (seed folders not found: {where}; NEWSDESK_SEEDS)"
            console.say(f"No documents yet{missing}. Add some with `doc add PATH`.")
        await console.run(read_line, interactive=interactive)
