"""Buttons and the paste-text modal.

The answer buttons are ``DynamicItem``s whose custom id carries the interaction-log row, so 👍/👎
and "More sources" keep working on old answers after a restart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

import discord

import knowledge
from knowledge.models import SearchHit

from . import render

if TYPE_CHECKING:
    from .app import NewsdeskBot

log = logging.getLogger(__name__)

VIEW_TIMEOUT_S = 600
MORE_SOURCES_K = 12


def scope_of(interaction: discord.Interaction[NewsdeskBot]) -> int:
    return knowledge.scope_of(interaction.guild_id)


async def _on_view_error(interaction: discord.Interaction[NewsdeskBot], error: Exception) -> None:
    # One error handler for the whole bot: views and modals use the tree's.
    await interaction.client.tree.on_error(interaction, error)  # pyright: ignore[reportArgumentType]  # discord.py passes any Exception from views here; the handler takes it


async def _guarded(interaction: discord.Interaction[NewsdeskBot], work: Awaitable[None]) -> None:
    """Run a DynamicItem's work through the one error handler. discord.py never calls a
    DynamicItem's ``on_error``: it only logs the exception, which left a failing "More sources"
    thinking forever, with no reply and no log row."""
    try:
        await work
    except Exception as error:  # every failure is answered, logged and recorded by the handler
        await _on_view_error(interaction, error)


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button], template=r"nd:fb:(?P<vote>up|down):(?P<row>\d{1,18})"):
    def __init__(self, vote: str, row_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="👍" if vote == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"nd:fb:{vote}:{row_id}",
            )
        )
        self.vote = vote
        self.row_id = row_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[NewsdeskBot], item: discord.ui.Button, match: re.Match[str], /
    ) -> FeedbackButton:
        return cls(match["vote"], int(match["row"]))

    async def callback(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        await _guarded(interaction, self._vote(interaction))

    async def _vote(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        bot = interaction.client
        await bot.record(
            "feedback", interaction=interaction, outcome=self.vote, ref_id=self.row_id, input=f"answer {self.row_id}"
        )
        await interaction.response.send_message("Thanks, your feedback is recorded.", ephemeral=True)


class MoreSourcesButton(discord.ui.DynamicItem[discord.ui.Button], template=r"nd:more:(?P<row>\d{1,18})"):
    def __init__(self, row_id: int) -> None:
        super().__init__(
            discord.ui.Button(label="More sources", style=discord.ButtonStyle.primary, custom_id=f"nd:more:{row_id}")
        )
        self.row_id = row_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[NewsdeskBot], item: discord.ui.Button, match: re.Match[str], /
    ) -> MoreSourcesButton:
        return cls(int(match["row"]))

    async def callback(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        await _guarded(interaction, self._more(interaction))

    async def _more(self, interaction: discord.Interaction[NewsdeskBot]) -> None:
        bot = interaction.client
        await interaction.response.defer(ephemeral=True, thinking=True)  # search may take over a second
        row = await bot.kb.interaction(self.row_id)
        question = (row.input if row else None) or ""
        if not question and interaction.message and interaction.message.embeds:
            question = interaction.message.embeds[0].title or ""
        # As of when the question was asked, as its answer was: the same date words and recency, and
        # nothing published after it.
        asked_at = row.at if row else interaction.created_at
        hits = (
            await bot.kb.search(question, k=MORE_SOURCES_K, scope=scope_of(interaction), now=asked_at)
            if question
            else []
        )
        view = SourcesPager(hits, question=question, owner_id=interaction.user.id)
        embed, _ = render.sources_page(hits, 0, question=question)
        await interaction.followup.send(embed=embed, view=view.updated(), ephemeral=True)


def answer_view(row_id: int | None) -> discord.ui.View | None:
    if row_id is None:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(FeedbackButton("up", row_id))
    view.add_item(FeedbackButton("down", row_id))
    view.add_item(MoreSourcesButton(row_id))
    return view


class Pager(discord.ui.View):
    """Previous / Next over pages; subclasses render a page. Only the user who opened it can turn
    the pages (it is ephemeral anyway, but a public copy must not be hijacked)."""

    def __init__(self, *, owner_id: int, pages: int, page: int = 0) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_S)
        self.owner_id = owner_id
        self.pages = max(1, pages)
        self.page = page

    def updated(self) -> Pager:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1
        return self

    async def interaction_check(self, interaction: discord.Interaction[NewsdeskBot], /) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message("These pages belong to someone else.", ephemeral=True)
            return False
        return True

    async def render_page(self, interaction: discord.Interaction[NewsdeskBot]) -> discord.Embed:
        raise NotImplementedError

    async def _turn(self, interaction: discord.Interaction[NewsdeskBot], step: int) -> None:
        self.page = min(max(self.page + step, 0), self.pages - 1)
        embed = await self.render_page(interaction)
        await interaction.response.edit_message(embed=embed, view=self.updated())

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction[NewsdeskBot], button: discord.ui.Button) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction[NewsdeskBot], button: discord.ui.Button) -> None:
        await self._turn(interaction, +1)

    async def on_error(self, interaction: discord.Interaction[NewsdeskBot], error: Exception, item: Any, /) -> None:
        await _on_view_error(interaction, error)


class SourcesPager(Pager):
    def __init__(self, hits: list[SearchHit], *, question: str, owner_id: int) -> None:
        _, pages = render.sources_page(hits, 0, question=question)
        super().__init__(owner_id=owner_id, pages=pages)
        self.hits = hits
        self.question = question

    async def render_page(self, interaction: discord.Interaction[NewsdeskBot]) -> discord.Embed:
        embed, _ = render.sources_page(self.hits, self.page, question=self.question)
        return embed


class DocumentPager(Pager):
    def __init__(self, *, owner_id: int, scope: int, total: int, page: int = 0) -> None:
        super().__init__(owner_id=owner_id, pages=-(-total // render.DOCUMENTS_PER_PAGE), page=page)
        self.scope = scope
        self.total = total

    async def render_page(self, interaction: discord.Interaction[NewsdeskBot]) -> discord.Embed:
        bot = interaction.client
        self.total = await bot.kb.count_documents(scope=self.scope)
        self.pages = max(1, -(-self.total // render.DOCUMENTS_PER_PAGE))
        self.page = min(self.page, self.pages - 1)
        docs = await bot.kb.list_documents(
            scope=self.scope, limit=render.DOCUMENTS_PER_PAGE, offset=self.page * render.DOCUMENTS_PER_PAGE
        )
        return render.document_list_page(docs, page=self.page, pages=self.pages, total=self.total)


class PasteTextModal(discord.ui.Modal, title="Add a document"):
    doc_title = discord.ui.TextInput(label="Title (optional)", custom_id="doc_title", required=False, max_length=200)
    body = discord.ui.TextInput(
        label="Text",
        custom_id="body",
        style=discord.TextStyle.paragraph,
        min_length=1,
        max_length=4000,
        placeholder="Paste the article or notes here",
    )

    def __init__(self, *, title_hint: str | None = None) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_S)
        if title_hint:
            self.doc_title.default = title_hint[:200]

    async def on_submit(self, interaction: discord.Interaction[NewsdeskBot], /) -> None:
        bot = interaction.client
        await interaction.response.defer(ephemeral=True, thinking=True)  # embedding may take over 3 s
        title = self.doc_title.value.strip() or None
        doc = await bot.kb.add_text(self.body.value, guild_id=interaction.guild_id, title=title, origin="pasted text")
        await bot.record(
            "doc_add", interaction=interaction, input=f"text: {title or ''}".strip(), outcome="added", ref_id=doc.id
        )
        await interaction.followup.send(render.document_added(doc), ephemeral=True)

    async def on_error(self, interaction: discord.Interaction[NewsdeskBot], error: Exception, /) -> None:  # type: ignore[override]
        await _on_view_error(interaction, error)
