"""``python -m bot`` with a token when Discord cannot be used: one line that says what to fix and
exit 1, never discord.py's and aiohttp's traceback. Discord is never reached: the process either
has no name resolution at all, or its API base points at a loopback port."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]

# Runs the real entry point, after optionally pointing the API at argv[1] and, with argv[2] ==
# "offline", making every name lookup fail as it does on a machine without a network.
START = """
import socket, sys
if len(sys.argv) > 2 and sys.argv[2] == "offline":
    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    socket.getaddrinfo = no_network
if sys.argv[1] != "-":
    import discord.http
    discord.http.Route.BASE = sys.argv[1] + "/api/v10"
from bot.__main__ import main
sys.exit(main())
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSDESK_", "BRIEFING_", "LOG_"))}
    seeds = tmp_path / "no-seeds"
    seeds.mkdir(exist_ok=True)
    env.update(
        PYTHONPATH=str(ROOT),
        DISCORD_TOKEN="MTIz.not-a.real-token",
        NEWSDESK_DB=str(tmp_path / "nd.db"),
        NEWSDESK_SEEDS=str(seeds),
    )
    return env


def _start(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", START, *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_no_network_is_one_line_cannot_reach_discord(tmp_path):
    # discord.com itself, as a newcomer's bot asks for it: the lookup fails (ClientConnectorDNSError).
    result = _start(tmp_path, "-", "offline")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("newsdesk: cannot reach Discord: ") and "discord.com" in last


def test_a_refused_connection_is_one_line_cannot_reach_discord(tmp_path):
    # A loopback port that is bound but not listening: every connection to it is refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        result = _start(tmp_path, f"http://127.0.0.1:{port}")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("newsdesk: cannot reach Discord: ")


@pytest.mark.asyncio(loop_scope="function")
async def test_a_rejected_token_is_one_line(tmp_path, loopback_server):
    async def unauthorized(request: web.Request) -> web.Response:
        body = b'{"message": "401: Unauthorized", "code": 0}'
        return web.Response(status=401, body=body, headers={"Content-Type": "application/json"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unauthorized)
    async with loopback_server(app) as base:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            START,
            base,
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    stderr = err.decode(errors="replace")
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("newsdesk: Discord refused the token (check DISCORD_TOKEN)")
