"""Who may do what, and how often: the moderator rule and the per-user rate limit.

Moderator-only subcommands are checked here, inside the bot, because Discord's
``default_permissions`` cannot be set per subcommand (discord.py drops it on a subcommand, and on a
group it would hide the read-only ``/doc list`` and ``/doc show`` too).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import discord
from discord import app_commands

if TYPE_CHECKING:
    from .app import NewsdeskBot


class NotModerator(app_commands.CheckFailure):
    """The member is neither in the moderator role nor has Manage Server; ``role`` names the role
    that would have counted (this server's own, or MODERATOR_ROLE)."""

    def __init__(self, message: str, role: str | None = None) -> None:
        super().__init__(message)
        self.role = role


class NotManager(app_commands.CheckFailure):
    """The member lacks Manage Server (what /setup needs)."""


class RateLimited(app_commands.CheckFailure):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:.0f} s")
        self.retry_after = retry_after


class NotInGuild(app_commands.CheckFailure):
    pass


class Busy(app_commands.CheckFailure):
    """The same expensive work is already running for this server; ``str()`` is the user's message."""


class InFlight:
    """At most one run per key (a guild) of an expensive command at a time. Not a lock: a second
    caller is refused at once instead of queueing behind the first, so a burst of /brief costs one
    briefing, not one per click."""

    def __init__(self, message: str) -> None:
        self.message = message
        self._keys: set[object] = set()

    def busy(self, key: object) -> bool:
        return key in self._keys

    @contextlib.asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        """Raises :class:`Busy` when ``key`` is already held; released however the body ends."""
        if key in self._keys:
            raise Busy(self.message)
        self._keys.add(key)
        try:
            yield
        finally:
            self._keys.discard(key)


def rate_limit_message(retry_after: float, per_minute: int) -> str:
    """What a rate-limited user reads, after a slash command or a mention alike."""
    return (
        f"You're asking a lot at once. Please wait {retry_after:.0f} s and try again (limit: {per_minute} per minute)."
    )


def is_moderator(member: discord.abc.User, moderator_role: str | None, role_id: int | None = None) -> bool:
    """Manage Server always counts; otherwise the server's own role (``role_id``, set by
    ``/setup moderator-role``) or, when it has none, a role named ``moderator_role``
    (MODERATOR_ROLE, case-insensitive)."""
    if not isinstance(member, discord.Member):
        return False
    if member.guild_permissions.manage_guild:
        return True
    if role_id is not None:
        return any(role.id == role_id for role in member.roles)
    if moderator_role:
        wanted = moderator_role.casefold()
        return any(role.name.casefold() == wanted for role in member.roles)
    return False


class RateLimiter:
    """At most ``per_minute`` actions per user in any sliding 60-second window; 0 disables it.

    Uses ``time.monotonic`` so wall-clock jumps never lock anyone out."""

    def __init__(self, per_minute: int, *, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._hits: dict[int, deque[float]] = {}
        self._noticed: dict[int, float] = {}

    def hit(self, user_id: int) -> float:
        """Record an action; returns 0 when allowed, else the seconds until the next one is."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic()
        hits = self._hits.setdefault(user_id, deque())
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(0.1, self.window_s - (now - hits[0]))
        hits.append(now)
        return 0.0

    def notice_due(self, user_id: int) -> bool:
        """Whether a limited user should be told so now: once per window. A flood of 100 messages
        in an ask channel would otherwise get ~100 "You're asking a lot" replies, itself a flood.
        (A slash command is answered every time: Discord shows an unanswered one as failed.)"""
        now = time.monotonic()
        last = self._noticed.get(user_id)
        if last is not None and now - last < self.window_s:
            return False
        self._noticed[user_id] = now
        if len(self._noticed) > 10_000:  # forget notices older than a window, so the dict stays small
            self._noticed = {u: t for u, t in self._noticed.items() if now - t < self.window_s}
        return True


def moderator_only():
    """App-command check: refuses non-moderators with :class:`NotModerator` (answered and logged by
    the tree's error handler)."""

    async def predicate(interaction: discord.Interaction[NewsdeskBot]) -> bool:
        guild = interaction.guild
        if guild is None:
            raise NotInGuild("this command works in a server only")
        name = interaction.client.settings.moderator_role
        role_id = (await interaction.client.kb.guild_settings(guild.id)).moderator_role_id
        if not is_moderator(interaction.user, name, role_id):
            role = guild.get_role(role_id) if role_id is not None else None
            raise NotModerator("moderators only", role.name if role else name if role_id is None else None)
        return True

    return app_commands.check(predicate)


def manage_server_only():
    """App-command check for /setup: Manage Server, checked in the bot (see the module's note)."""

    async def predicate(interaction: discord.Interaction[NewsdeskBot]) -> bool:
        if interaction.guild is None:
            raise NotInGuild("this command works in a server only")
        user = interaction.user
        if not (isinstance(user, discord.Member) and user.guild_permissions.manage_guild):
            raise NotManager("Manage Server only")
        return True

    return app_commands.check(predicate)


def rate_limited():
    """App-command check: the per-user limit shared by /ask, /brief, mentions and follow-ups."""

    async def predicate(interaction: discord.Interaction[NewsdeskBot]) -> bool:
        retry = interaction.client.rate_limiter.hit(interaction.user.id)
        if retry:
            raise RateLimited(retry)
        return True

    return app_commands.check(predicate)
