"""Transport smoke tests: the unmodified client against a loopback fake Discord on 127.0.0.1
(REST + gateway websocket), exercising what simcord intercepts: aiohttp, the gateway handshake,
heartbeats and a 429 on the start-up command sync. See ../shared/TESTING.md for the facts used."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import discord
import discord.gateway
import discord.http
import pytest
import yarl
from aiohttp import WSMsgType, web
from bot_helpers import DEV_GUILD, OTHER_GUILD, with_settings

from bot import schedule
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
        self.ws: web.WebSocketResponse | None = None
        self.seq = 0
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
                    # Discord answers a context menu (sent without one) with an empty description.
                    {
                        "description": "",
                        **c,
                        "id": str(1300 + i),
                        "application_id": APP_ID,
                        "version": "1",
                        "guild_id": str(DEV_GUILD),
                    }
                    for i, c in enumerate(body)
                ]
            )
        return as_json({"message": f"not in the fake: {request.method} {path}", "code": 0}, status=404)

    async def push(self, event: str, data: dict) -> None:
        assert self.ws is not None, "the bot is connected"
        self.seq += 1
        await self.ws.send_str(json.dumps({"op": 0, "t": event, "s": self.seq, "d": data}))

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws = ws
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            self.gateway_ops.append(payload["op"])
            if payload["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                self.identify = payload["d"]
                ready = {
                    "v": 10,
                    "user": BOT_USER,
                    "guilds": [{"id": g["id"], "unavailable": True} for g in self.guild_payloads()],
                    "session_id": "loopback",
                    "resume_gateway_url": str(request.url.with_path("/gateway")),
                    "application": {"id": APP_ID, "flags": 0},
                }
                await self.push("READY", ready)
                for guild in self.guild_payloads():
                    await self.push("GUILD_CREATE", guild)
        return ws

    def guild_payloads(self) -> list[dict]:
        """The guilds READY announces and GUILD_CREATE then delivers: none here."""
        return []


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
        await asyncio.wait_for(bot.wait_until_ready(), timeout=300)  # bounds a hang, not a speed
        if bot.seed_task is not None:
            await asyncio.wait_for(bot.seed_task, timeout=300)
    except BaseException:
        await bot.close()
        raise
    return bot, task


@asynccontextmanager
async def running(settings) -> AsyncIterator[NewsdeskBot]:
    """A bot started and ready, closed (its task awaited) however the block ends."""
    bot, task = await run_until_ready(settings)
    try:
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, timeout=120)


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
        await asyncio.wait_for(task, timeout=120)
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("fake_discord", [{"rate_limit_sync": True}], indirect=True)
async def test_a_429_on_the_start_up_sync_is_retried(fake_discord, settings):
    bot, task = await run_until_ready(with_settings(settings, seeds=()))
    try:
        assert fake_discord.sync_calls == 2
    finally:
        await bot.close()
        await asyncio.wait_for(task, timeout=120)


# ---------------------------------------------------------------------------- /setup ask-channel end to end

CHANNEL_ID = "1400000000000000001"
OTHER_CHANNEL_ID = "1400000000000000011"
MANAGER = {
    "id": "1400000000000000009",
    "username": "manager",
    "discriminator": "0",
    "global_name": None,
    "avatar": None,
}
OWNER = {**MANAGER, "id": "1400000000000000019", "username": "owner"}
ALL_PERMISSIONS = str(discord.Permissions.all().value)
MANAGE_SERVER = str(discord.Permissions(manage_guild=True).value)


@dataclass(frozen=True)
class FakeGuild:
    """A guild of the fake: one text channel, the bot a member with an administrator role."""

    id: str
    name: str
    channel_id: str
    channel_name: str
    bot_role_id: str
    owner_id: str


NEWSROOM = FakeGuild(str(DEV_GUILD), "Newsroom", CHANNEL_ID, "ask-ai", "1400000000000000002", MANAGER["id"])
ELSEWHERE = FakeGuild(str(OTHER_GUILD), "Elsewhere", OTHER_CHANNEL_ID, "digest", "1400000000000000012", OWNER["id"])


def _message(
    channel_id: str, message_id: str, author: dict, content: str = "", guild_id: str = str(DEV_GUILD), **extra
) -> dict:
    return {
        "id": message_id,
        "channel_id": channel_id,
        "guild_id": guild_id,
        "author": author,
        "content": content,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        **extra,
    }


class FakeGuildDiscord(FakeDiscord):
    """The fake with guilds (the newsroom by default), the routes an answer in a thread and a
    channel post take, and a way to push gateway events (an interaction, a member's message)."""

    def __init__(self, guilds: Sequence[FakeGuild] = (NEWSROOM,)) -> None:
        super().__init__()
        self.guilds = tuple(guilds)
        self.posted: list[tuple[str, dict]] = []  # path, JSON body
        self.next_id = 1500000000000000000

    async def rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        if request.method == "POST" and not path.endswith("/commands"):
            self.requests.append((request.method, path, request.headers.get("Authorization")))
            body = await request.json() if request.can_read_body and request.content_type == "application/json" else {}
            self.posted.append((path, body))
            parts = path.strip("/").split("/")
            if path.endswith("/callback"):
                return as_json({"interaction": {"id": parts[1], "type": 2}, "resource": {"type": body.get("type")}})
            if path.endswith("/typing"):
                return web.Response(status=204)
            if path.endswith("/threads"):  # /channels/{channel}/messages/{message}/threads
                return as_json(
                    {
                        "id": parts[3],
                        "type": 11,
                        "guild_id": self.guild_of(parts[1]),
                        "parent_id": parts[1],
                        "name": body.get("name", "thread"),
                        "owner_id": APP_ID,
                        "thread_metadata": {
                            "archived": False,
                            "auto_archive_duration": 1440,
                            "archive_timestamp": "2026-01-01T00:00:00+00:00",
                            "locked": False,
                        },
                        "message_count": 0,
                        "member_count": 1,
                    }
                )
            if path.endswith("/messages"):
                self.next_id += 1
                return as_json(
                    _message(
                        parts[1],
                        str(self.next_id),
                        BOT_USER,
                        body.get("content") or "",
                        guild_id=self.guild_of(parts[1]),
                        embeds=body.get("embeds") or [],
                    )
                )
        return await super().rest(request)

    def guild_of(self, channel_id: str) -> str:
        return next((g.id for g in self.guilds if g.channel_id == channel_id), str(DEV_GUILD))

    def guild_payloads(self) -> list[dict]:
        return [self.guild(g) for g in self.guilds]

    def guild(self, g: FakeGuild) -> dict:
        admin_role = {"id": g.bot_role_id, "name": "Bot", "permissions": ALL_PERMISSIONS, "position": 1}
        everyone = {"id": g.id, "name": "@everyone", "permissions": "0", "position": 0}
        roles = [
            {**r, "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}
            for r in (everyone, admin_role)
        ]
        return {
            "id": g.id,
            "name": g.name,
            "owner_id": g.owner_id,
            "roles": roles,
            "channels": [
                {"id": g.channel_id, "type": 0, "name": g.channel_name, "position": 0, "permission_overwrites": []}
            ],
            "members": [
                {"user": BOT_USER, "roles": [admin_role["id"]], "joined_at": "2026-01-01T00:00:00+00:00", "flags": 0}
            ],
            "threads": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 2,
            "large": False,
            "unavailable": False,
        }


@pytest.fixture
async def fake_guild_discord(monkeypatch, request, loopback_server):
    fake = FakeGuildDiscord(**getattr(request, "param", {}))
    async with loopback_server(fake.app) as base:
        monkeypatch.setattr(discord.http.Route, "BASE", f"{base}/api/v10")
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(base.replace("http://", "ws://") + "/gateway")
        )
        yield fake


def _member(user: dict, permissions: str) -> dict:
    """An interaction's member: ``permissions`` is what Discord computed for them in the channel."""
    return {"user": user, "roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "flags": 0, "permissions": permissions}


def _setup_interaction(
    g: FakeGuild, interaction_id: str, member: dict, token: str, subcommand: str, options: dict[str, tuple[int, str]]
) -> dict:
    """INTERACTION_CREATE for ``/setup <subcommand>`` run in ``g``'s channel; ``options`` maps a
    name to (option type, value), and a channel option (type 7) is resolved to ``g``'s channel."""
    channel = {
        "id": g.channel_id,
        "type": 0,
        "name": g.channel_name,
        "guild_id": g.id,
        "permissions": member["permissions"],
    }
    return {
        "id": interaction_id,
        "application_id": APP_ID,
        "type": 2,
        "token": token,
        "version": 1,
        "guild_id": g.id,
        "channel_id": g.channel_id,
        "channel": channel,
        "member": member,
        "app_permissions": ALL_PERMISSIONS,
        "attachment_size_limit": 10 * 1024 * 1024,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {},
        "context": 0,
        "data": {
            "id": "1300",
            "name": "setup",
            "type": 1,
            "guild_id": g.id,
            "options": [
                {
                    "name": subcommand,
                    "type": 1,
                    "options": [{"name": k, "type": t, "value": v} for k, (t, v) in options.items()],
                }
            ],
            "resolved": {"channels": {g.channel_id: channel}},
        },
    }


async def _posted(fake: FakeGuildDiscord, predicate, timeout: float = 300.0) -> tuple[str, dict]:
    async with asyncio.timeout(timeout):
        while True:
            for item in fake.posted:
                if predicate(*item):
                    return item
            await asyncio.sleep(0.05)


async def test_setup_ask_channel_then_a_plain_message_gets_a_cited_answer(fake_guild_discord, settings):
    from bot_helpers import ANSWER_SENTENCE, QUESTION

    fake = fake_guild_discord
    bot, task = await run_until_ready(settings)
    try:
        async with asyncio.timeout(300):
            while bot.get_channel(int(CHANNEL_ID)) is None:
                await asyncio.sleep(0.02)
        member = _member(MANAGER, ALL_PERMISSIONS)
        await fake.push(
            "INTERACTION_CREATE",
            _setup_interaction(
                NEWSROOM,
                "1400000000000000100",
                member,
                "interaction-token",
                "ask-channel",
                {"channel": (7, CHANNEL_ID)},
            ),
        )
        _, reply = await _posted(fake, lambda path, body: path.endswith("/callback"))
        assert "is now an ask channel" in reply["data"]["content"] and reply["data"]["flags"] & 64
        assert await bot.kb.ask_channels() == [int(CHANNEL_ID)]

        await fake.push(
            "MESSAGE_CREATE",
            _message(
                CHANNEL_ID,
                "1400000000000000200",
                MANAGER,
                QUESTION,
                member={k: v for k, v in member.items() if k != "user"},
            ),
        )
        await _posted(fake, lambda path, body: path == f"/channels/{CHANNEL_ID}/messages/1400000000000000200/threads")
        _, answer = await _posted(fake, lambda path, body: path == "/channels/1400000000000000200/messages")
        [embed] = answer["embeds"]
        assert ANSWER_SENTENCE in embed["description"] and embed["fields"]  # cited: numbered sources
    finally:
        await bot.close()
        await asyncio.wait_for(task, timeout=120)


# ---------------------------------------------------------------------------- per-server briefings end to end


def zone_near_noon(now: dt.datetime, *, hours_earlier: int = 0) -> str:
    """An IANA zone where it is now about noon (``hours_earlier`` before): a morning time there has
    passed today, and its midnight is hours away, so the day cannot change while the test runs."""
    offset = 12 - hours_earlier - now.hour  # UTC offset in hours, -12..+12
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # the Etc/GMT sign is inverted


def _briefings_in(fake: FakeGuildDiscord, channel_id: str) -> list[dict]:
    return [body for path, body in fake.posted if path == f"/channels/{channel_id}/messages"]


def _embed_text(body: dict) -> str:
    return " ".join(
        " ".join([e.get("title", ""), e.get("description", "")] + [f"{f['name']} {f['value']}" for f in e["fields"]])
        for e in body["embeds"]
    )


@pytest.mark.parametrize("fake_guild_discord", [{"guilds": (NEWSROOM, ELSEWHERE)}], indirect=True)
async def test_two_servers_set_up_their_briefings_and_each_gets_one_of_its_own_documents(fake_guild_discord, settings):
    """Each server's manager runs /setup briefing after its time today: nothing is posted at once;
    a restart catches both up, once, each with only its own documents; a second restart posts none."""
    fake = fake_guild_discord
    settings = with_settings(settings, seeds=())  # only the servers' own documents in the briefings
    assert settings.briefing_channel_id is None  # no .env default briefing in either channel
    now = discord.utils.utcnow()
    # Set at about noon local time for times of 00:00 and 06:30: both have passed today.
    setups = [
        (NEWSROOM, MANAGER, "00:00", zone_near_noon(now)),
        (ELSEWHERE, OWNER, "06:30", zone_near_noon(now, hours_earlier=1)),
    ]
    async with running(settings) as bot:
        async with asyncio.timeout(300):
            while not all(bot.get_channel(int(g.channel_id)) for g in (NEWSROOM, ELSEWHERE)):
                await asyncio.sleep(0.02)
        await bot.kb.add_text(
            "Dock workers in Rotterdam stopped work on Monday over pay and shift rules.",
            guild_id=DEV_GUILD,
            title="Rotterdam port strike",
        )
        await bot.kb.add_text(
            "The valley council voted to rebuild the old stone bridge after the spring floods.",
            guild_id=OTHER_GUILD,
            title="Valley bridge rebuilt",
        )
        for i, (g, user, at, zone) in enumerate(setups):
            token = f"setup-briefing-{i}"
            options = {"channel": (7, g.channel_id), "time": (3, at), "timezone": (3, zone)}
            await fake.push(
                "INTERACTION_CREATE",
                _setup_interaction(
                    g, f"14000000000000003{i}0", _member(user, MANAGE_SERVER), token, "briefing", options
                ),
            )
            _, reply = await _posted(fake, lambda path, body, t=token: path.endswith(f"/{t}/callback"))
            assert reply["data"]["flags"] & 64, "ephemeral"
            assert reply["data"]["content"] == (
                f"The daily briefing will be posted in <#{g.channel_id}> at {at} ({zone})."
            )
        await asyncio.sleep(2)  # a post at once would be in by now (test_setup pins it on a virtual clock)
        assert _briefings_in(fake, CHANNEL_ID) == [] and _briefings_in(fake, OTHER_CHANNEL_ID) == []

    # Restart: both briefings were missed while the bot was down (their times passed today).
    started = asyncio.get_running_loop().time()
    async with running(settings) as bot:
        for g in (NEWSROOM, ELSEWHERE):
            await _posted(fake, lambda path, body, c=g.channel_id: path == f"/channels/{c}/messages", timeout=300)
        caught_up_s = asyncio.get_running_loop().time() - started
        await asyncio.sleep(1)  # room for a second post, which must not come
        [mine] = _briefings_in(fake, CHANNEL_ID)
        [theirs] = _briefings_in(fake, OTHER_CHANNEL_ID)
        assert mine["embeds"][0]["title"].startswith("Briefing") and theirs["embeds"][0]["title"].startswith("Briefing")
        assert "Rotterdam port strike" in _embed_text(mine) and "Valley bridge" not in _embed_text(mine)
        assert "Valley bridge rebuilt" in _embed_text(theirs) and "Rotterdam" not in _embed_text(theirs)
        days = {g.id: schedule.local_day(discord.utils.utcnow(), ZoneInfo(zone)) for g, _, _, zone in setups}
        rows = [r for r in await bot.kb.interactions(kind="brief") if (r.input or "").startswith("scheduled")]
        assert sorted((r.guild_id, r.channel_id, r.input, r.outcome) for r in rows) == [
            (DEV_GUILD, int(CHANNEL_ID), f"scheduled {days[NEWSROOM.id]}", "posted"),
            (OTHER_GUILD, int(OTHER_CHANNEL_ID), f"scheduled {days[ELSEWHERE.id]}", "posted"),
        ]

    # A second restart the same day: each was posted once today, so nothing more.
    async with running(settings) as bot:
        await asyncio.sleep(max(2.0, 2 * caught_up_s))  # twice as long as the catch-up took
        assert len(_briefings_in(fake, CHANNEL_ID)) == 1 and len(_briefings_in(fake, OTHER_CHANNEL_ID)) == 1
        assert all([await bot.kb.briefing_posted(int(g.channel_id), days[g.id]) for g in (NEWSROOM, ELSEWHERE)])
