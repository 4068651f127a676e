"""Several bot processes: sharding settings, and two real processes with different shard ids over
one PostgreSQL database and one loopback fake Discord, which post the day's briefing once between
them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from pathlib import Path

import pytest
from aiohttp import WSMsgType, web
from bot_helpers import write_seeds
from test_transport import APP_ID, BOT_USER, TOKEN, FakeDiscord, as_json

from bot.app import NewsdeskBot, ShardedNewsdeskBot, create_bot
from bot.settings import Settings, SettingsError
from knowledge.embed import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "777000000000000001"
GUILD = "888000000000000002"


@pytest.mark.parametrize(
    "env, count, ids",
    [({}, None, ()), ({"SHARD_COUNT": "4"}, 4, ()), ({"SHARD_COUNT": "4", "SHARD_IDS": "0,3"}, 4, (0, 3))],
)
def test_shard_settings(env, count, ids):
    settings = Settings.from_env(env)
    assert (settings.shard_count, settings.shard_ids) == (count, ids)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "distinct shard numbers from 0 to 1"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0,0"}, "distinct shard numbers"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "one"}, "expected shard numbers like 0,1"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT: expected a positive number"),
    ],
)
def test_bad_shard_settings_are_one_clear_line(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_a_shard_count_makes_an_auto_sharded_bot():
    plain = create_bot(Settings(), embedder=HashingEmbedder())
    assert type(plain) is NewsdeskBot
    sharded = create_bot(Settings(shard_count=2, shard_ids=(1,)), embedder=HashingEmbedder())
    assert isinstance(sharded, ShardedNewsdeskBot) and isinstance(sharded, NewsdeskBot)
    assert sharded.shard_count == 2 and sharded.shard_ids == [1]


class ChannelDiscord(FakeDiscord):
    """The fake, plus the briefing channel: fetched by id and posted to."""

    def __init__(self) -> None:
        super().__init__()
        self.identifies: list[dict] = []
        self.posts: list[dict] = []

    async def rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        if path == f"/channels/{CHANNEL}" and request.method == "GET":
            return as_json(
                {"id": CHANNEL, "type": 0, "guild_id": GUILD, "name": "briefings", "position": 0}
                | {"permission_overwrites": [], "nsfw": False, "parent_id": None}
            )
        if path == f"/channels/{CHANNEL}/messages" and request.method == "POST":
            body = await request.json() if request.content_type == "application/json" else {}
            self.posts.append(body)
            return as_json(
                {
                    "id": str(990000000000000000 + len(self.posts)),
                    "channel_id": CHANNEL,
                    "author": BOT_USER,
                    "content": body.get("content") or "",
                    "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                    "edited_timestamp": None,
                    "tts": False,
                    "mention_everyone": False,
                    "mentions": [],
                    "mention_roles": [],
                    "attachments": [],
                    "embeds": body.get("embeds") or [],
                    "pinned": False,
                    "type": 0,
                }
            )
        return await super().rest(request)

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        """One connection per shard: READY names the shard the IDENTIFY asked for."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            if payload["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                self.identifies.append(payload["d"])
                ready = {
                    "v": 10,
                    "user": BOT_USER,
                    "guilds": [],
                    "session_id": f"loopback-{len(self.identifies)}",
                    "resume_gateway_url": str(request.url.with_path("/gateway")),
                    "application": {"id": APP_ID, "flags": 0},
                    "shard": payload["d"].get("shard"),
                }
                await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": 1, "d": ready}))
        return ws


@pytest.mark.asyncio(loop_scope="function")
async def test_two_shard_processes_post_one_briefing_between_them(tmp_path, pg_url, loopback_server):
    fake = ChannelDiscord()
    seeds = write_seeds(tmp_path / "seeds")
    async with loopback_server(fake.app) as base:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEWSDESK_", "BRIEFING_"))}
        env |= {
            "PYTHONPATH": str(ROOT),
            "DISCORD_TOKEN": TOKEN,
            "NEWSDESK_DB": pg_url,
            "NEWSDESK_SEEDS": str(seeds),
            "SHARD_COUNT": "2",
            "BRIEFING_CHANNEL_ID": CHANNEL,
            "BRIEFING_TIME": "00:00",  # already past today: each process catches up at start
            "BRIEFING_TZ": "UTC",
            "LOG_LEVEL": "INFO",
        }
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(Path(__file__).with_name("shard_process.py")),
                base,
                env=env | {"SHARD_IDS": str(shard)},
                cwd=tmp_path,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            for shard in (0, 1)
        ]
        logs = [asyncio.create_task(p.stderr.read()) for p in procs if p.stderr is not None]
        try:
            # Until the briefing is out and the other process has found its day taken.
            for _ in range(600):
                if fake.posts and len(fake.identifies) == 2 and await _both_decided(pg_url):
                    break
                if any(p.returncode is not None for p in procs):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # a second post, were there one, would land now
        finally:
            for p in procs:
                if p.returncode is None:
                    p.terminate()
            await asyncio.gather(*(p.wait() for p in procs))
        stderr = [(await t).decode(errors="replace") for t in logs]
    assert sorted(i["shard"] for i in fake.identifies) == [[0, 2], [1, 2]], stderr
    assert len(fake.posts) == 1, (fake.posts, stderr)
    assert "Briefing" in json.dumps(fake.posts[0])
    assert sum("posted the briefing for" in text for text in stderr) == 1, stderr


async def _both_decided(url: str) -> bool:
    """One briefing record for the day (the claim is in PostgreSQL, shared by both processes)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute("SELECT COUNT(*) FROM briefing_posts WHERE channel_id = %s", [int(CHANNEL)])
        row = await cur.fetchone()
    return bool(row and row[0] == 1)
