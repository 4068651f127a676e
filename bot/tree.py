"""The one error handler: every app-command, view and modal error ends here.

Users get a short ephemeral message; anything unexpected is logged with its traceback and the user
sees no traceback. Refusals and failures are written to the interaction log.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from knowledge.errors import DatabaseError, KnowledgeError
from knowledge.ingest import strip_credentials

from . import render
from .checks import Busy, NotInGuild, NotManager, NotModerator, RateLimited, rate_limit_message

if TYPE_CHECKING:
    from .app import NewsdeskBot

log = logging.getLogger(__name__)


class BadInput(app_commands.AppCommandError):
    """The user gave options the bot cannot use; the message says what to do instead."""


def interaction_kind(interaction: discord.Interaction) -> str:
    """The interaction log's ``kind`` for an interaction: ``doc add`` -> ``doc_add``."""
    command = interaction.command
    if command is not None:
        # A context menu names itself for people ("Ask newsdesk"); its log kind is in its extras.
        return command.extras.get("log_kind") or command.qualified_name.replace(" ", "_")
    if interaction.type is discord.InteractionType.modal_submit:
        return "doc_add"
    custom_id = _custom_id(interaction)
    for prefix, kind in _COMPONENT_KINDS:
        if custom_id.startswith(prefix):
            return kind
    return "component"


# Custom-id prefixes of the bot's persistent buttons (bot/views.py) -> the log's kind.
_COMPONENT_KINDS = (("nd:more:", "more_sources"), ("nd:fb:", "feedback"))


def _custom_id(interaction: discord.Interaction) -> str:
    data = interaction.data or {}
    custom_id = data.get("custom_id") if isinstance(data, dict) else None
    return custom_id if isinstance(custom_id, str) else ""


def interaction_input(interaction: discord.Interaction) -> str:
    """A short, loggable summary of the options the user gave."""
    if interaction.type is discord.InteractionType.component:
        return render.trim(f"button {_custom_id(interaction)}".strip(), 1000)
    target = target_message_text(interaction)
    if target is not None:
        return render.trim(f"message={render.clean_input(target)}", 1000)
    namespace = getattr(interaction, "namespace", None)
    if namespace is None:
        return ""
    parts = []
    for name, value in namespace:
        if isinstance(value, discord.Attachment):
            value = f"{value.filename} ({value.size} bytes)"
        elif name == "url" and isinstance(value, str):
            value = strip_credentials(value)  # a user:password in the link stays out of the log
        parts.append(f"{name}={render.clean_input(str(value))}")
    return render.trim(" ".join(parts), 1000)


def target_message_text(interaction: discord.Interaction) -> str | None:
    """The text of the message a message context menu was used on (None for anything else), read
    from the interaction's payload: a refused use (rate limit, no text) is logged with the message
    it was about, as an answered one is."""
    data = interaction.data if isinstance(interaction.data, dict) else {}
    if data.get("type") != discord.AppCommandType.message.value:
        return None
    messages = (data.get("resolved") or {}).get("messages") or {}
    message = messages.get(str(data.get("target_id"))) or {}
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


class NewsdeskTree(app_commands.CommandTree):
    client: NewsdeskBot

    async def on_error(self, interaction: discord.Interaction, error: Exception, /) -> None:  # type: ignore[override]
        original = getattr(error, "original", None) or error
        kind = interaction_kind(interaction)
        if isinstance(original, NotModerator):
            role = original.role
            who = f"the **{render.escape(role)}** role or " if role else ""
            message = f"Only moderators ({who}Manage Server) can do that."
            outcome, log_kind = "denied", "denied"
        elif isinstance(original, NotManager):
            message = "Only members with the Manage Server permission can set the bot up."
            outcome, log_kind = "denied", "denied"
        elif isinstance(original, RateLimited):
            message = rate_limit_message(original.retry_after, self.client.settings.rate_limit_per_minute)
            outcome, log_kind = "rate_limited", kind
        elif isinstance(original, Busy):
            message = str(original)
            outcome, log_kind = "busy", kind
        elif isinstance(original, NotInGuild):
            message = "This command works in a server only."
            outcome, log_kind = "denied", "denied"
        elif isinstance(original, app_commands.CheckFailure):
            message = "You can't use this command here."
            outcome, log_kind = "denied", "denied"
        elif isinstance(original, BadInput):
            message = str(original)
            outcome, log_kind = "bad_input", kind
        elif isinstance(original, DatabaseError):
            # Its message names the database and the server's address: the operator's, in the log.
            log.warning("%s failed: %s", kind, original)
            message = "The database is unavailable right now; please try again in a moment."
            outcome, log_kind = f"error: {type(original).__name__}", kind
        elif isinstance(original, KnowledgeError):
            # The library's messages quote file names, titles and URLs: escaped like any document text.
            message = render.escape(str(original))
            outcome, log_kind = f"error: {type(original).__name__}", kind
            log.info("%s refused: %s", kind, original)
        else:
            log.error("unhandled error in %s", kind, exc_info=original)
            message = "Something went wrong on my side; it has been logged. Please try again later."
            outcome, log_kind = f"error: {type(original).__name__}", kind
        await self.client.record(
            log_kind, interaction=interaction, input=_input_for(kind, interaction), outcome=outcome
        )
        await send_ephemeral(interaction, message)


def _input_for(kind: str, interaction: discord.Interaction) -> str:
    summary = interaction_input(interaction)
    return f"{kind} {summary}".strip() if kind else summary


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Reply privately whether or not the interaction was already acknowledged (deferred)."""
    text = render.error_message(message)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error message for interaction %s", interaction.id, exc_info=True)
