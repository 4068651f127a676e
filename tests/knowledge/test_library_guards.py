"""Guards on the shape of the project: ``knowledge/`` never reaches Discord, the seeds parse, and every
evaluation the library offers can be run from ``newsdesk eval``."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from knowledge import cli, ingest
from knowledge.chunking import chunk_paragraphs

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE = ROOT / "knowledge"
SEEDS = sorted(p for p in (ROOT / "seeds").iterdir() if p.is_file() and not p.name.startswith("."))


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize("path", sorted(KNOWLEDGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_knowledge_module_never_imports_discord(path):
    assert not {m for m in _imported_modules(path) if m == "discord" or m.startswith("discord.")}


@pytest.mark.parametrize("path", sorted(KNOWLEDGE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_knowledge_module_never_imports_the_bot(path):
    # The library does not reach up into the layer built on it (`newsdesk run` once imported bot.__main__).
    assert not {m for m in _imported_modules(path) if m == "bot" or m.startswith("bot.")}


def test_importing_every_knowledge_module_loads_no_discord():
    # transitive imports too: run in a fresh interpreter so this test session's imports don't count
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        import knowledge
        for m in pkgutil.walk_packages(knowledge.__path__, "knowledge."):
            importlib.import_module(m.name)
        print(sorted(n for n in sys.modules if n == "discord" or n.startswith("discord.")))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_there_is_at_least_one_seed():
    assert SEEDS


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_parses_with_a_title_and_passages(path):
    parsed = ingest.parse_bytes(path.read_bytes(), path.name)
    assert parsed.title and parsed.title.strip()
    assert parsed.paragraphs
    assert chunk_paragraphs(parsed.paragraphs, title=parsed.title)


def _eval_commands() -> dict[str, Callable[..., Any]]:
    """``newsdesk eval`` subcommand name -> its handler, read from the real parser."""
    parser = cli._parser()
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    ev = top.choices["eval"]
    sub = next(a for a in ev._actions if isinstance(a, argparse._SubParsersAction))
    return {name: p.get_default("handler") for name, p in sub.choices.items()}


def _evaluations_offered() -> set[str]:
    """``X`` for every public ``evaluate_X`` function in knowledge/evaluation/."""
    names = set()
    for path in (KNOWLEDGE / "evaluation").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("evaluate_"):
                names.add(node.name.removeprefix("evaluate_"))
    return names


def test_every_evaluation_has_an_eval_command():
    offered = _evaluations_offered()
    assert offered  # the scan found something: retrieval at least
    assert offered <= set(_eval_commands())


@pytest.mark.parametrize("name", sorted(_eval_commands()))
def test_eval_command_imports_an_existing_evaluation(name):
    handler = _eval_commands()[name]
    tree = ast.parse(textwrap.dedent(inspect.getsource(handler)))
    imports = [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if node.module and node.module.startswith("evaluation.")
    ]
    assert imports, f"eval {name} imports no evaluation module"
    for module, function in imports:
        spec = importlib.util.find_spec(f"knowledge.{module}")
        assert spec is not None and spec.origin is not None, f"knowledge.{module} does not exist"
        assert function in _functions(Path(spec.origin))


def test_every_eval_command_is_in_the_cli_docstring():
    assert cli.__doc__ is not None
    usage = next(line for line in cli.__doc__.splitlines() if "newsdesk eval" in line)
    assert set(usage.split()[2].split("|")) == set(_eval_commands())


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
