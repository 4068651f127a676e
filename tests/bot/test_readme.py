"""The README's command tables list what the code registers: every slash command with its options,
the message menu, every ``newsdesk`` subcommand with its options, and every console command; and
every command a table names exists. The tables had drifted: /setup, /feed, the menu and
``newsdesk feed`` were missing."""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.app import create_bot
from bot.console import COMMANDS, HELP
from knowledge import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(heading: str) -> str:
    """The text under a ``##``/``###`` heading, up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", README, re.M | re.S)
    assert match, f"README has no section {heading!r}"
    return match.group(1)


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]


def row_naming(rows: list[str], command: str) -> str:
    """The table row whose cells name ``command`` in backticks (followed by a space, a backtick or
    a bracket, so `/doc add` is not found in `/doc add-on`)."""
    pattern = re.compile(rf"`{re.escape(command)}(?=[ `\]\[])")
    found = [row for row in rows if pattern.search(row)]
    assert found, f"{command} is in no table row of the README"
    return found[0]


def first_cells(rows: list[str]) -> str:
    return "\n".join(row.split(" | ")[0] for row in rows)


# ---------------------------------------------------------------------------------------------- Discord


@pytest.fixture
async def tree(settings, embedder) -> AsyncIterator[app_commands.CommandTree]:
    """The command tree as the bot builds it at start (its extensions loaded), not connected."""
    bot = create_bot(dataclasses.replace(settings, seeds=(), dev_guild_id=None), embedder=embedder)
    await bot.setup_hook()
    try:
        yield bot.tree
    finally:
        await bot.close()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_every_slash_command_and_option_is_in_the_discord_table(tree):
    rows = table_rows(section("On Discord"))
    names = set()
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Command):
            names.add(command.qualified_name)
            row = row_naming(rows, f"/{command.qualified_name}")
            for parameter in command.parameters:
                assert re.search(rf"\b{re.escape(parameter.name)}\b", row), (command.qualified_name, parameter.name)
    menus = [c.name for c in tree.walk_commands(type=discord.AppCommandType.message)]
    assert menus and all(f"**{name}**" in first_cells(rows) for name in menus)
    assert "ask channel" in first_cells(rows)  # not a command, but a way to ask that a server sets up
    # ...and the table names no command that does not exist ("/ask question": the command is "ask").
    for words in re.findall(r"`/([a-z-]+(?: [a-z][a-z-]*)?)", first_cells(rows)):
        assert words in names or words.split()[0] in names, words


# ---------------------------------------------------------------------------------------------- newsdesk


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, list[str]]]:
    """(``index``, ``docs list``, ...; their option strings) for every leaf command of the parser."""
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not nested:
        options = [s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"]
        yield " ".join(path), options
    for action in nested:
        for name, sub in action.choices.items():
            yield from subcommands(sub, (*path, name))


def test_every_newsdesk_subcommand_and_option_is_in_the_command_line_table():
    rows = table_rows(section("Command line"))
    leaves = dict(subcommands(cli._parser()))
    assert {"feed add", "feed poll", "docs show", "log export", "migrate"} <= set(leaves)
    for command, options in leaves.items():
        row = row_naming(rows, f"newsdesk {command}")
        for option in options:
            assert re.search(rf"{re.escape(option)}\b", row), (command, option)
    for words in re.findall(r"`newsdesk ([a-z-]+(?: [a-z][a-z-]*)?)", first_cells(rows)):
        assert words in leaves or words.split()[0] in leaves, words  # `newsdesk ask "question"`: ask


# ---------------------------------------------------------------------------------------------- console


def test_every_console_command_is_in_the_console_table():
    rows = table_rows(section("The console (no token)"))
    # The console's own list of what it takes: "  doc add PATH|URL ...", "  stats [DAYS] ...".
    listed = re.findall(r"^  ([a-z]+(?: [a-z]+)?)\b", HELP.split("Commands", 1)[1], re.M)
    assert {"doc show", "doc add", "feed poll", "stats", "reset"} <= set(listed)
    for command in listed:
        row_naming(rows, command)
    assert COMMANDS - {"exit"} <= {command.split()[0] for command in listed}  # exit: quit's alias
