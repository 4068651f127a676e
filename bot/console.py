"""A terminal console over the same knowledge base, for trying newsdesk without a Discord token.

Commands: ask QUESTION, reset, brief [SINCE], doc add PATH, doc list [PAGE], doc remove ID,
feed add|list|remove|poll, stats, help, quit. Reads lines from stdin, so it also works piped (``printf 'ask ...\\nquit\\n' | python -m bot``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from knowledge import KnowledgeBase, dates, plain
from knowledge.cli_feeds import feed_text, poll_text
from knowledge.embed import Embedder
from knowledge.errors import KnowledgeError
from knowledge.question import normalise_question

from . import render
from .settings import Settings

log = logging.getLogger(__name__)

HELP = """Commands:
  ask QUESTION        answer from the documents, with numbered sources; a question after a
                      question is a follow-up ("and what about Russia?"), as in a Discord thread
  reset               forget the conversation: the next question starts afresh
  brief [SINCE]       what was added recently (SINCE: 12h, 3d, 1w or 2024-05-01; default 24h)
  doc add PATH        add a file (.txt .md .html .pdf .docx) or a folder
  doc list [PAGE]     list documents
  doc remove ID       remove a document
  feed add URL        follow an RSS or Atom feed
  feed list           the feeds followed, with their last success and error
  feed remove ID      stop following a feed
  feed poll           index the new entries of the feeds that are due
  stats               usage of the last 7 days
  help                this text
  quit                leave (Ctrl-D works too)"""

PROMPT = "newsdesk> "


class Console:
    def __init__(self, kb: KnowledgeBase, settings: Settings, *, out: TextIO = sys.stdout) -> None:
        self.kb = kb
        self.settings = settings
        self.out = out
        self.history: list[str] = []

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    async def run(self, read_line: Callable[[], str] | None = None, *, interactive: bool | None = None) -> None:
        if read_line is None:
            stdin = sys.stdin
            # Bytes that are not UTF-8 (a pasted binary, another encoding) must not end the console.
            if isinstance(stdin, io.TextIOWrapper):
                stdin.reconfigure(errors="replace")
            reader: Callable[[], str] = stdin.readline
        else:
            reader = read_line
        if interactive is None:
            interactive = sys.stdin.isatty()
        self.say("newsdesk console: no DISCORD_TOKEN set, so the bot is not connecting. Type `help`.")
        while True:
            if interactive:
                print(PROMPT, end="", file=self.out, flush=True)
            # stdin is read in a thread: the event loop stays free for the model's work.
            line = await asyncio.to_thread(reader)
            if not line:
                break  # end of input
            if not await self.handle(line.strip()):
                break

    async def handle(self, line: str) -> bool:
        """Run one command line; False means quit."""
        if not line:
            return True
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        command, rest = words[0].lower(), line[len(line.split(maxsplit=1)[0]) :].strip()
        try:
            if command in ("quit", "exit"):
                return False
            if command == "help":
                self.say(HELP)
            elif command == "ask":
                await self.ask(rest)
            elif command == "brief":
                await self.brief(rest)
            elif command == "doc" and len(words) >= 2:
                await self.doc(words[1].lower(), words[2:])
            elif command == "reset":
                self.history.clear()
                self.say("Conversation reset: the next question starts afresh.")
            elif command == "feed" and len(words) >= 2:
                await self.feed(words[1].lower(), words[2:])
            elif command == "stats":
                await self.stats()
            else:
                self.say(f"Unknown command: {line!r}. Type `help`.")
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
            self.say("usage: ask QUESTION")
            return
        answer = await self.kb.ask(question, scope=None, history=self.history[-6:])
        self.history += [question, answer.text]
        passage_ids = [c.passage_id for c in (answer.related if answer.abstained else answer.citations)]
        await self.kb.log_interaction(
            "ask",
            input=question,
            outcome="abstained" if answer.abstained else "answered",
            answer=answer.text,
            passage_ids=passage_ids,
            latency_ms=answer.latency_ms,
        )
        self.say(plain.format_answer(answer))

    async def brief(self, since: str) -> None:
        now = dt.datetime.now(dt.UTC)
        # The same parser and limits as /brief: an unreadable or absurd window is an InvalidInput.
        start = dates.parse_since(since or None, now, self.settings.tz)
        briefing = await self.kb.brief(since=start, scope=None, max_words=self.settings.briefing_max_words)
        await self.kb.log_interaction(
            "brief", input=since or "24h", outcome="empty" if briefing.empty else "posted", answer=briefing.text
        )
        self.say(briefing.text or ("Nothing new." if briefing.empty else ""))

    async def doc(self, sub: str, args: list[str]) -> None:
        if sub == "add" and args:
            for arg in args:
                path = Path(arg).expanduser()
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
                else:
                    doc = await self.kb.add_file(path)
                    await self.kb.log_interaction("doc_add", input=f"file {path.name}", outcome="added", ref_id=doc.id)
                    self.say(f"added #{doc.id} {doc.title} ({doc.passages} passages)")
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
            self.say(f"page {page} of {pages}, {total} document(s)")
        elif sub == "remove" and args and args[0].lstrip("#").isascii() and args[0].lstrip("#").isdigit():
            doc = await self.kb.remove_document(int(args[0].lstrip("#")))
            await self.kb.log_interaction(
                "doc_remove", input=f"#{doc.id} {doc.title}", outcome="removed", ref_id=doc.id
            )
            self.say(f"removed #{doc.id} {doc.title}")
        else:
            self.say("usage: doc add PATH | doc list [PAGE] | doc remove ID")

    async def feed(self, sub: str, args: list[str]) -> None:
        if sub == "add" and args:
            feed = await self.kb.add_feed(args[0], guild_id=None, title=" ".join(args[1:]) or None)
            self.say(f"following #{feed.id} {feed.title}; `feed poll` indexes its entries")
        elif sub == "list":
            feeds = await self.kb.list_feeds()
            self.say("\n".join(feed_text(f) for f in feeds) or "No feeds. Follow one with: feed add URL")
        elif sub == "remove" and args and args[0].lstrip("#").isascii() and args[0].lstrip("#").isdigit():
            feed = await self.kb.remove_feed(int(args[0].lstrip("#")))
            self.say(f"stopped following #{feed.id} {feed.title}")
        elif sub == "poll":
            polls = await self.kb.poll_feeds()
            self.say("\n".join(poll_text(p) for p in polls) or "No feed is due.")
        else:
            self.say("usage: feed add URL [TITLE] | feed list | feed remove ID | feed poll")

    async def stats(self) -> None:
        self.say(render.stats_text(await self.kb.usage_stats(days=7)))


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
        existing = [p for p in settings.seeds if p.exists()]
        if existing:
            report = await kb.index_paths(existing)
            if report.added or report.updated:
                print(f"seeds: {len(report.added)} added, {len(report.updated)} updated", file=out, flush=True)
        await Console(kb, settings, out=out).run(read_line, interactive=interactive)
