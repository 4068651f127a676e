"""``python -m bot`` (and ``newsdesk-bot``, ``make run``): read settings, configure logging, then run the bot
when DISCORD_TOKEN is set, else the terminal console."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from dataclasses import replace

import aiohttp
import discord
from dotenv import find_dotenv, load_dotenv

from knowledge.cli import quiet_libraries
from knowledge.errors import KnowledgeError

from .app import create_bot
from .console import run_console
from .settings import Settings, SettingsError

log = logging.getLogger("bot")


def log_level(settings: Settings) -> str:
    """LOG_LEVEL when set; otherwise INFO for the bot (a service's log) and WARNING for the console,
    whose terminal shows the log among the answers (INFO lines there carried absolute paths)."""
    return settings.log_level or ("INFO" if settings.token else "WARNING")


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # discord.py's HTTP debug lines can include request headers; keep that logger at INFO or above
    # so the Authorization header (the token) never reaches a log.
    logging.getLogger("discord.http").setLevel(max(logging.INFO, logging.getLogger().level))


def discord_failure(error: Exception) -> str:
    """What a failed start means, in one line."""
    if isinstance(error, discord.LoginFailure):
        return f"Discord refused the token (check DISCORD_TOKEN): {error}"
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return (
            "Discord refused the connection: enable the Message Content intent for this bot"
            " (developer portal > Bot > Privileged Gateway Intents)"
        )
    return f"cannot reach Discord: {error}"


async def run_bot(settings: Settings) -> None:
    # main() runs the bot only when a token is set; without one it runs the console instead.
    assert settings.token is not None, "run_bot needs DISCORD_TOKEN"
    bot = create_bot(settings)
    async with bot:
        await bot.start(settings.token)


def main() -> int:
    # A lone surrogate (from undecodable input) printed to a strict UTF-8 stream would raise.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    # .env of the directory it is run from (or above); a real environment variable wins over it.
    load_dotenv(find_dotenv(usecwd=True))
    try:
        settings = Settings.from_env()
    except SettingsError as e:
        print(f"newsdesk: {e}", file=sys.stderr)
        return 2
    configure_logging(log_level(settings))
    settings = replace(settings, knowledge=replace(settings.knowledge, freeze_heap=True))
    try:
        if settings.token:
            log.info("starting the Discord bot (database %s)", settings.knowledge.db_name)
            asyncio.run(run_bot(settings))
        else:
            quiet_libraries()  # no "Loading weights" progress bar among the answers
            asyncio.run(run_console(settings))
    except KnowledgeError as e:
        # A database that cannot be opened: one line and a non-zero exit, so a supervisor sees it
        # failed (every connection is closed by then, so the process really ends).
        print(f"newsdesk: {e}", file=sys.stderr)
        return 1
    except (aiohttp.ClientConnectionError, discord.LoginFailure, discord.PrivilegedIntentsRequired) as e:
        # Logging in failed: the bot has closed everything on its way out. One line that says what
        # to fix, instead of discord.py's and aiohttp's 77-line traceback.
        print(f"newsdesk: {discord_failure(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
