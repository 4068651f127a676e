"""Small helpers shared by the bot tests (imported as a plain module: tests/ has no packages)."""

from dataclasses import replace
from pathlib import Path

import discord

from bot.settings import Settings
from knowledge.config import KnowledgeConfig
from knowledge.models import Interaction

DEV_GUILD = 880_000_000_000_000_001
OTHER_GUILD = 880_000_000_000_000_002

# A small corpus: the answer engine's calibrated refusal needs several documents to compare with.
SEEDS = {
    "kazakhstan.txt": """Kazakhstan intervention benefits China and Russia

Some 2,500 troops of the Collective Security Treaty Organization arrived in Kazakhstan to quell protests
over fuel prices that turned violent in Almaty.

Analysts said the intervention helped both China and Russia keep stability in Central Asia.
""",
    "tram.txt": """Council approves tram line

The city council approved the new eastern tram line on Thursday after a two-year debate.

Construction of the tram line will start in spring and cost 400 million euros.
""",
    "wildfire.txt": """Wildfire forces evacuations in Catalonia

Firefighters battled a wildfire north of Barcelona that forced 900 residents to leave their homes.

Strong winds pushed the wildfire towards the coast overnight, officials said.
""",
}
QUESTION = "When did the council approve the tram line?"
ANSWER_SENTENCE = "The city council approved the new eastern tram line on Thursday"


def with_settings(settings: Settings, **changes) -> Settings:
    return replace(settings, **changes)


def briefings_in(channel, bot_id):
    """The briefings the bot posted in a simcord channel."""
    return [
        m
        for m in channel.history()
        if m.author.id == bot_id and m.embeds and (m.embeds[0].title or "").startswith("Briefing")
    ]


def reply_of(result):
    """The bot's visible reply: after ``defer(thinking=True)`` the first followup replaces the
    "thinking" original, so it is ``result.response``."""
    return result.response if result.response is not None else result.followups[0]


def acknowledged_by_defer(env) -> bool:
    """The last interaction callback was a deferral (type 5 or 6): the bot acknowledged before doing
    its slow work, within Discord's 3 s."""
    callbacks = [r for r in env.http_requests if r.method == "POST" and r.path.endswith("/callback")]
    return bool(callbacks) and callbacks[-1].json.get("type") in (5, 6)


def write_seeds(folder: Path) -> Path:
    """The seed corpus as files in ``folder`` (created)."""
    folder.mkdir()
    for name, text in SEEDS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def bot_settings(db_path: Path, seed_dir: Path, *, rate_limit_per_minute: int) -> Settings:
    """The bot's settings for a test: a real SQLite file, the seed folder, the dev guild."""
    return Settings(
        knowledge=KnowledgeConfig(db=db_path, max_file_bytes=64 * 1024),
        seeds=(seed_dir,),
        moderator_role="Moderator",
        dev_guild_id=DEV_GUILD,
        rate_limit_per_minute=rate_limit_per_minute,
    )


class World:
    """A dev guild with a channel, a moderator (by role), a server manager and a plain member."""

    def __init__(self, env) -> None:
        self.env = env
        self.guild = env.create_guild("Newsroom", id=DEV_GUILD)
        self.channel = self.guild.create_text_channel("news")
        mod_role = self.guild.create_role("Moderator")
        manager_role = self.guild.create_role("Editors", permissions=discord.Permissions(manage_guild=True))
        admin_role = self.guild.create_role("Admins", permissions=discord.Permissions(administrator=True))
        self.mod = self.guild.add_member(env.create_user("mod"), roles=[mod_role])
        self.manager = self.guild.add_member(env.create_user("manager"), roles=[manager_role])
        self.admin = self.guild.add_member(env.create_user("admin"), roles=[admin_role])
        self.user = self.guild.add_member(env.create_user("reader"))

    @property
    def bot(self):
        return self.env.bot

    @property
    def kb(self):
        return self.env.bot.kb

    async def rows(self, kind: str | None = None) -> list[Interaction]:
        return await self.kb.store.interactions(kind=kind)
