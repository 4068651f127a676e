"""/doc add, /doc remove, /doc list, /doc show.

Adding and removing are for moderators, checked inside the bot (see ``bot.checks``); listing and
showing are for everyone. A document added in a server is visible in that server only.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from knowledge.errors import DocumentNotFound, KnowledgeError
from knowledge.ingest import check_file, strip_credentials

from .. import render
from ..app import NewsdeskBot
from ..checks import moderator_only
from ..tree import BadInput
from ..views import DocumentPager, PasteTextModal, scope_of

log = logging.getLogger(__name__)

AUTOCOMPLETE_CHOICES = 25  # Discord's maximum
# What a user types into an autocomplete box is matched against titles; nothing longer is useful.
AUTOCOMPLETE_QUERY_CHARS = 100
# SQLite integers are signed 64-bit: a larger id (a forged or mistyped option) would raise
# OverflowError deep in the driver instead of "no such document".
MAX_DOCUMENT_ID = 2**63 - 1


def document_id(value: int) -> int:
    """``value`` as a document id, or :class:`DocumentNotFound` when no document can have it."""
    if not 1 <= value <= MAX_DOCUMENT_ID:
        raise DocumentNotFound(f"no document #{value}"[:80])
    return value


class Documents(commands.GroupCog, group_name="doc", group_description="The documents the bot answers from"):
    def __init__(self, bot: NewsdeskBot) -> None:
        self.bot = bot
        super().__init__()

    # ------------------------------------------------------------------ add

    @app_commands.command(name="add", description="Add a document (moderators): a file, a URL, or pasted text")
    @app_commands.describe(
        file="A .txt, .md, .html, .pdf, .docx or .eml file",
        url="A web page or file to fetch",
        text="Open a form to paste text",
        title="Title (default: taken from the document)",
    )
    @moderator_only()
    async def add(
        self,
        interaction: discord.Interaction[NewsdeskBot],
        file: discord.Attachment | None = None,
        url: str | None = None,
        text: bool = False,
        title: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        given = sum(x for x in (file is not None, bool(url), text))
        if given > 1:
            raise BadInput("Give one of `file`, `url` or `text`, not several.")
        if file is None and not url:
            # A modal must be the first response, so no defer here (opening it is instant).
            await interaction.response.send_modal(PasteTextModal(title_hint=title))
            return
        # Fetching and embedding can take longer than Discord's 3 s window.
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild_id = interaction.guild_id
        if file is not None:
            # Checked before downloading: Discord tells us the size, no need to fetch 500 MB to refuse it.
            check_file(file.filename, file.size, self.bot.settings.knowledge.max_file_bytes)
            data = await file.read()
            doc = await self.bot.kb.add_bytes(
                data, file.filename, guild_id=guild_id, title=title, origin=f"attachment {file.filename}"
            )
            what = f"file {file.filename}"
        else:
            assert url is not None
            doc = await self.bot.kb.add_url(url.strip(), guild_id=guild_id, title=title)
            what = f"url {strip_credentials(url)}"  # a user:password in the link stays out of the log
        await self.bot.record("doc_add", interaction=interaction, input=what, outcome="added", ref_id=doc.id)
        await interaction.followup.send(render.document_added(doc), ephemeral=True)

    # ------------------------------------------------------------------ remove

    @app_commands.command(name="remove", description="Remove a document added in this server (moderators)")
    @app_commands.describe(document="Start typing a title")
    @moderator_only()
    async def remove(self, interaction: discord.Interaction[NewsdeskBot], document: int) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        doc = await self.bot.kb.remove_document(document_id(document), guild_id=interaction.guild_id)
        await self.bot.record(
            "doc_remove", interaction=interaction, input=f"#{doc.id} {doc.title}", outcome="removed", ref_id=doc.id
        )
        await interaction.followup.send(render.document_removed(doc), ephemeral=True)

    @remove.autocomplete("document")
    async def remove_autocomplete(
        self, interaction: discord.Interaction[NewsdeskBot], current: str
    ) -> list[app_commands.Choice[int]]:
        # Only this server's own documents can be removed; seeds are shared by every server.
        if interaction.guild_id is None:
            return []
        docs = await self._matching(interaction.guild_id, current, limit=100)
        own = [d for d in docs if d.guild_id == interaction.guild_id]
        return [_choice(d) for d in own[:AUTOCOMPLETE_CHOICES]]

    async def _matching(self, scope: int, current: str, *, limit: int) -> list:
        """Documents whose title matches what the user typed. discord.py only logs an autocomplete
        exception and the user sees "loading options failed", so a refusal here is an empty list."""
        query = render.one_line(render.strip_bidi(render.clean_input(current)))[:AUTOCOMPLETE_QUERY_CHARS] or None
        try:
            return await self.bot.kb.list_documents(scope=scope, title_like=query, limit=limit)
        except KnowledgeError as e:
            log.info("autocomplete for %r refused: %s", query, e)
            return []

    # ------------------------------------------------------------------ list and show

    @app_commands.command(name="list", description="List the documents the bot answers from")
    async def list_(
        self, interaction: discord.Interaction[NewsdeskBot], page: app_commands.Range[int, 1, 10_000] = 1
    ) -> None:
        scope = scope_of(interaction)
        total = await self.bot.kb.count_documents(scope=scope)
        pager = DocumentPager(owner_id=interaction.user.id, scope=scope, total=total, page=page - 1)
        pager.page = min(pager.page, pager.pages - 1)
        embed = await pager.render_page(interaction)
        await interaction.response.send_message(embed=embed, view=pager.updated(), ephemeral=True)

    @app_commands.command(name="show", description="Show a document's details and opening")
    @app_commands.describe(document="Start typing a title")
    async def show(self, interaction: discord.Interaction[NewsdeskBot], document: int) -> None:
        scope = scope_of(interaction)
        document = document_id(document)
        doc = await self.bot.kb.get_document(document, scope=scope)
        text = await self.bot.kb.document_text(document, scope=scope)
        await interaction.response.send_message(embed=render.document_embed(doc, text), ephemeral=True)

    @show.autocomplete("document")
    async def show_autocomplete(
        self, interaction: discord.Interaction[NewsdeskBot], current: str
    ) -> list[app_commands.Choice[int]]:
        docs = await self._matching(scope_of(interaction), current, limit=AUTOCOMPLETE_CHOICES)
        return [_choice(d) for d in docs]


def _choice(doc) -> app_commands.Choice[int]:
    # Choice names are limited to 100 characters.
    return app_commands.Choice(name=render.plain_name(f"#{doc.id} {doc.title}", 100), value=doc.id)


async def setup(bot: NewsdeskBot) -> None:
    await bot.add_cog(Documents(bot))
