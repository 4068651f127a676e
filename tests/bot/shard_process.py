"""One bot process for the sharding tests: the real bot (``create_bot`` from the environment's
settings, as ``python -m bot`` builds it) pointed at a loopback fake Discord given as argv[1], with
the fast deterministic embedder instead of the model."""

from __future__ import annotations

import logging
import sys

import discord.gateway
import discord.http
import yarl

from bot.app import create_bot
from bot.settings import Settings
from knowledge.embed import HashingEmbedder


def main() -> None:
    base = sys.argv[1]
    discord.http.Route.BASE = f"{base}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http://", "ws://") + "/gateway")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    settings = Settings.from_env()
    bot = create_bot(settings, embedder=HashingEmbedder())
    bot._connection.guild_ready_timeout = 0.05  # no guilds to wait for
    assert settings.token
    bot.run(settings.token, log_handler=None)


if __name__ == "__main__":
    main()
