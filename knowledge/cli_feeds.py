"""``newsdesk feed add|list|remove|poll``: the news feeds of the CLI (global: their entries are seen
in every server), the same service calls as ``/feed``."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import Any

from .feeds import FeedPoll
from .models import Feed


def add_parser(sub: Any, knowledge: Callable) -> None:
    """The ``feed`` subcommands; ``knowledge(config)`` opens the knowledge base (cli._knowledge)."""
    feed = sub.add_parser("feed", help="follow RSS/Atom feeds").add_subparsers(dest="feed_command", required=True)
    s = feed.add_parser("add", help="follow a feed (checked now, its entries indexed by `feed poll`)")
    s.add_argument("url")
    s.add_argument("--title")
    s.set_defaults(handler=_add, knowledge=knowledge)
    s = feed.add_parser("list", help="the feeds followed, with their last success and error")
    s.set_defaults(handler=_list, knowledge=knowledge)
    s = feed.add_parser("remove", help="stop following a feed (its documents stay)")
    s.add_argument("id", type=int)
    s.set_defaults(handler=_remove, knowledge=knowledge)
    s = feed.add_parser("poll", help="index the new entries of every feed that is due")
    s.set_defaults(handler=_poll, knowledge=knowledge)


def _when(at: dt.datetime | None) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "never"


def feed_text(feed: Feed) -> str:
    """One feed as lines of plain text (the CLI and the console)."""
    scope = "global" if feed.guild_id is None else f"guild {feed.guild_id}"
    text = f"#{feed.id} {feed.title} ({scope})\n    {feed.url}\n    last success: {_when(feed.last_success_at)}"
    if feed.last_error and feed.failures:
        text += f"; last error {_when(feed.last_error_at)} ({feed.failures} in a row): {feed.last_error}"
    return text


def poll_text(poll: FeedPoll) -> str:
    if poll.error:
        return f"#{poll.feed.id} {poll.feed.title}: error: {poll.error}"
    if poll.not_modified:
        return f"#{poll.feed.id} {poll.feed.title}: not modified"
    return f"#{poll.feed.id} {poll.feed.title}: {len(poll.added)} added, {poll.skipped} already seen"


async def _add(args: argparse.Namespace, config) -> int:
    async with args.knowledge(config) as kb:
        feed = await kb.add_feed(args.url, guild_id=None, title=args.title)
    print(f"following #{feed.id} {feed.title}; run `newsdesk feed poll` to index its entries")
    return 0


async def _list(args: argparse.Namespace, config) -> int:
    async with args.knowledge(config) as kb:
        feeds = await kb.list_feeds()
    print("\n".join(feed_text(f) for f in feeds) or "No feeds. Follow one with: newsdesk feed add URL")
    return 0


async def _remove(args: argparse.Namespace, config) -> int:
    async with args.knowledge(config) as kb:
        feed = await kb.remove_feed(args.id)
    print(f"stopped following #{feed.id} {feed.title}")
    return 0


async def _poll(args: argparse.Namespace, config) -> int:
    async with args.knowledge(config) as kb:
        polls = await kb.poll_feeds()
    print("\n".join(poll_text(p) for p in polls) or "No feed is due.")
    return 1 if polls and all(p.error for p in polls) else 0
