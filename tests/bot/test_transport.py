"""Transport smoke tests: the unmodified client against a loopback fake Discord on 127.0.0.1
(REST + gateway websocket), exercising what simcord intercepts: aiohttp, the gateway handshake,
heartbeats and a 429 on the start-up command sync. See ../shared/TESTING.md for the facts used."""

from __future__ import annotations

import asyncio
import json
import logging

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from aiohttp import WSMsgType, web
from bot_helpers import DEV_GUILD, with_settings

from bot.app import NewsdeskBot, create_bot
from knowledge.embed import HashingEmbedder

pytestmark = pytest.mark.asyncio(loop_scope="session")

TOKEN = "MTIz.fake-token-for-loopback.tests"
APP_ID = "1200000000000000001"
BOT_USER = {
    "id": APP_ID,
    "username": "newsdesk",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
    "bot": True,
}


def as_json(data, status: int = 200, headers: dict | None = None) -> web.Response:
    # Exactly application/json: aiohttp's json_response adds a charset that discord.py mis-reads.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


class FakeDiscord:
    def __init__(self, *, rate_limit_sync: bool = False) -> None:
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        self.gateway_ops: list[int] = []
        self.identify: dict | None = None
        self.rate_limit_sync = rate_limit_sync
        self.sync_calls = 0
        app = web.Application()
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest)
        app.router.add_get("/gateway", self.gateway)
        self.app = app

    async def rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        self.requests.append((request.method, path, request.headers.get("Authorization")))
        if path == "/users/@me":
            return as_json(BOT_USER)
        if path == "/oauth2/applications/@me":
            return as_json(
                {
                    "id": APP_ID,
                    "name": "newsdesk",
                    "icon": None,
                    "description": "",
                    "summary": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "0" * 64,
                    "owner": BOT_USER,
                    "flags": 0,
                    "team": None,
                    "bot": BOT_USER,
                }
            )
        if path.endswith("/commands") and request.method == "PUT":
            self.sync_calls += 1
            if self.rate_limit_sync and self.sync_calls == 1:
                # A real 429 carries a Via header; without it discord.py assumes a Cloudflare ban.
                return as_json(
                    {"message": "You are being rate limited.", "retry_after": 0.2, "global": False},
                    status=429,
                    headers={"Via": "1.1 google", "Retry-After": "0.2", "X-RateLimit-Scope": "user"},
                )
            body = await request.json()
            return as_json(
                [
                    {**c, "id": str(1300 + i), "application_id": APP_ID, "version": "1", "guild_id": str(DEV_GUILD)}
                    for i, c in enumerate(body)
                ]
            )
        return as_json({"message": f"not in the fake: {request.method} {path}", "code": 0}, status=404)

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        seq = 0
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            self.gateway_ops.append(payload["op"])
            if payload["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                self.identify = payload["d"]
                seq += 1
                await ws.send_str(
                    json.dumps(
                        {
                            "op": 0,
                            "t": "READY",
                            "s": seq,
                            "d": {
                                "v": 10,
                                "user": BOT_USER,
                                "guilds": [],
                                "session_id": "loopback",
                                "resume_gateway_url": str(request.url.with_path("/gateway")),
                                "application": {"id": APP_ID, "flags": 0},
                            },
                        }
                    )
                )
        return ws


@pytest.fixture
async def fake_discord(monkeypatch, request, loopback_server):
    fake = FakeDiscord(**getattr(request, "param", {}))
    async with loopback_server(fake.app) as base:
        monkeypatch.setattr(discord.http.Route, "BASE", f"{base}/api/v10")
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(base.replace("http://", "ws://") + "/gateway")
        )
        yield fake


async def run_until_ready(settings) -> tuple[NewsdeskBot, asyncio.Task[None]]:
    bot = create_bot(settings, embedder=HashingEmbedder())
    assert isinstance(bot, NewsdeskBot)
    bot._connection.guild_ready_timeout = 0.05  # no guilds to wait for; default would wait 2 s
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), timeout=20)
        if bot.seed_task is not None:
            await asyncio.wait_for(bot.seed_task, timeout=60)
    except BaseException:
        await bot.close()
        raise
    return bot, task


async def test_connects_syncs_to_the_dev_guild_and_never_logs_the_token(fake_discord, settings, caplog):
    caplog.set_level(logging.DEBUG)
    bot, task = await run_until_ready(settings)
    try:
        assert bot.user is not None and str(bot.user.id) == APP_ID
        assert 1 in fake_discord.gateway_ops and 2 in fake_discord.gateway_ops  # heartbeat, identify
        assert fake_discord.identify["token"] == TOKEN
        assert fake_discord.identify["intents"] & discord.Intents(message_content=True).value
        paths = [p for _, p, _ in fake_discord.requests]
        assert f"/applications/{APP_ID}/guilds/{DEV_GUILD}/commands" in paths
        assert f"/applications/{APP_ID}/commands" not in paths  # no global sync at start
        assert {auth for _, _, auth in fake_discord.requests} == {f"Bot {TOKEN}"}
        assert await bot.kb.count_documents() == 3  # seeds indexed in the background
    finally:
        await bot.close()
        await asyncio.wait_for(task, timeout=10)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("fake_discord", [{"rate_limit_sync": True}], indirect=True)
async def test_a_429_on_the_start_up_sync_is_retried(fake_discord, settings):
    bot, task = await run_until_ready(with_settings(settings, seeds=()))
    try:
        assert fake_discord.sync_calls == 2
    finally:
        await bot.close()
        await asyncio.wait_for(task, timeout=10)
