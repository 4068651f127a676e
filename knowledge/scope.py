"""Who can see a document, in one place: the models, the store, the index and the bot share this."""

from __future__ import annotations

# What a channel, a guild or the CLI can see. None: every document (CLI, admin); GLOBAL_SCOPE: global
# documents only (direct messages); a guild id: global documents plus that guild's own.
Scope = int | None

# The one spelling of "global" in scope values, in the dense index's guild array and in the store's
# scope keys (``IFNULL(guild_id, 0)``); a document itself stores None (``Document.guild_id``). Guild
# ids are Discord snowflakes, never 0, so 0 cannot be mistaken for a guild.
GLOBAL_SCOPE = 0


def scope_of(guild_id: int | None) -> int:
    """The scope of a place: a guild sees its own documents and the global ones, anywhere else
    (a direct message, the CLI adding seeds) sees only the global ones."""
    return guild_id or GLOBAL_SCOPE
