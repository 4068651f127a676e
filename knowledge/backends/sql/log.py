"""The SQL of the interaction log and of briefing posts, shared by both engines: what was asked and
done, for /stats and ``newsdesk log export``, and which channel had which day's briefing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from ...clock import iso, parse_ts, utcnow
from ...models import Interaction, UsageStats
from .common import Row, SqlDatabase, one_row, storable, valid_id

INTERACTION_COLUMNS = (
    "id, at, guild_id, channel_id, user_id, kind, input, outcome, answer, passage_ids, scores, latency_ms, ref_id"
)
BRIEFING_COLUMNS = "guild_id, channel_id, day, posted_at, message_id"


class LogSQL(SqlDatabase):
    # ----------------------------------------------------------------- interaction log

    async def log_interaction(
        self,
        kind: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        input: str | None = None,
        outcome: str | None = None,
        answer: str | None = None,
        passage_ids: Sequence[int] = (),
        scores: Sequence[float] = (),
        latency_ms: float | None = None,
        ref_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> int:
        async with self.transaction() as conn:
            async with conn.execute(
                "INSERT INTO interactions (at, guild_id, channel_id, user_id, kind, input, outcome, answer,"
                " passage_ids, scores, latency_ms, ref_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    iso(at or utcnow()),
                    guild_id,
                    channel_id,
                    user_id,
                    kind,
                    storable(input),
                    outcome,
                    storable(answer),
                    json.dumps(list(passage_ids)),
                    json.dumps([round(float(s), 4) for s in scores]),
                    latency_ms,
                    ref_id,
                ),
            ) as cur:
                return one_row(await cur.fetchone())["id"]

    async def interactions(
        self,
        *,
        since: dt.datetime | None = None,
        guild_id: int | None = None,
        kind: str | None = None,
    ) -> list[Interaction]:
        where, args = _interaction_filters(since=since, guild_id=guild_id, kind=kind)
        sql = f"SELECT {INTERACTION_COLUMNS} FROM interactions WHERE {where} ORDER BY id"
        async with self._conn.execute(sql, args) as cur:
            return [_interaction(r) for r in await cur.fetchall()]

    async def interaction(self, row_id: int) -> Interaction | None:
        """One interaction-log row by id (e.g. the answer a feedback button refers to)."""
        if not valid_id(row_id):
            return None
        async with self._conn.execute(f"SELECT {INTERACTION_COLUMNS} FROM interactions WHERE id = ?", (row_id,)) as cur:
            row = await cur.fetchone()
        return _interaction(row) if row else None

    async def interaction_stats(
        self,
        *,
        guild_id: int | None = None,
        days: int = 7,
        now: dt.datetime | None = None,
        question_kinds: Sequence[str] = ("ask", "mention", "followup"),
        top: int = 5,
    ) -> UsageStats:
        """Aggregates of the last ``days`` days for /stats: questions per day, refusals, feedback (each
        user's last vote per answer), most frequent unanswered questions and refused (denied) actions."""
        since = (now or utcnow()) - dt.timedelta(days=days)
        base, args = _interaction_filters(since=since, guild_id=guild_id)
        kinds = ",".join("?" * len(question_kinds))
        qargs = [*args, *question_kinds]
        questions = f"{base} AND kind IN ({kinds}) AND outcome IN ('answered', 'abstained')"
        async with self._conn.execute(
            f"SELECT substr(at, 1, 10) AS day, COUNT(*) AS n FROM interactions WHERE {questions}"
            " GROUP BY day ORDER BY day",
            qargs,
        ) as cur:
            per_day = [(r["day"], r["n"]) for r in await cur.fetchall()]
        async with self._conn.execute(
            f"SELECT lower(trim(input)) AS q, COUNT(*) AS n, MAX(input) AS question FROM interactions"
            f" WHERE {questions} AND outcome = 'abstained' GROUP BY q ORDER BY n DESC, MAX(at) DESC LIMIT ?",
            [*qargs, top],
        ) as cur:
            unanswered = [(r["question"], r["n"]) for r in await cur.fetchall()]
        async with self._conn.execute(
            f"SELECT COUNT(*) AS n FROM interactions WHERE {questions} AND outcome = 'abstained'", qargs
        ) as cur:
            refusals = one_row(await cur.fetchone())["n"]
        # A user may click 👍 then 👎: only their last vote on an answer counts.
        async with self._conn.execute(
            f"SELECT outcome, COUNT(*) AS n FROM interactions WHERE id IN (SELECT MAX(id) FROM interactions"
            f" WHERE {base} AND kind = 'feedback' GROUP BY user_id, ref_id) GROUP BY outcome",
            args,
        ) as cur:
            votes = {r["outcome"]: r["n"] for r in await cur.fetchall()}
        async with self._conn.execute(
            f"SELECT COUNT(*) AS n FROM interactions WHERE {base} AND kind = 'denied'", args
        ) as cur:
            denied = one_row(await cur.fetchone())["n"]
        return UsageStats(
            questions_per_day=per_day,
            questions=sum(n for _, n in per_day),
            refusals=refusals,
            thumbs_up=votes.get("up", 0),
            thumbs_down=votes.get("down", 0),
            unanswered=unanswered,
            denied=denied,
            days=days,
        )

    # ----------------------------------------------------------------- briefing posts

    async def briefing_posted(self, channel_id: int, day: dt.date) -> bool:
        async with self._conn.execute(
            "SELECT 1 FROM briefing_posts WHERE channel_id = ? AND day = ?", (channel_id, day.isoformat())
        ) as cur:
            return await cur.fetchone() is not None

    async def record_briefing_post(
        self,
        *,
        channel_id: int,
        day: dt.date,
        guild_id: int | None = None,
        message_id: int | None = None,
        at: dt.datetime | None = None,
    ) -> bool:
        """Record a post; False when that channel already had its briefing for that day."""
        async with self.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO briefing_posts (guild_id, channel_id, day, posted_at, message_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, day) DO NOTHING",
                (guild_id, channel_id, day.isoformat(), iso(at or utcnow()), message_id),
            )
            return cur.rowcount == 1

    async def last_briefing_at(self, channel_id: int) -> dt.datetime | None:
        async with self._conn.execute(
            "SELECT MAX(posted_at) AS at FROM briefing_posts WHERE channel_id = ?", (channel_id,)
        ) as cur:
            row = await cur.fetchone()
        return parse_ts(row["at"]) if row and row["at"] else None

    # ----------------------------------------------------------------- what a migration reads

    async def export_log(self) -> list[Any]:
        """Every interaction-log row (``INTERACTION_COLUMNS``), by id."""
        async with self._conn.execute(f"SELECT {INTERACTION_COLUMNS} FROM interactions ORDER BY id") as cur:
            return list(await cur.fetchall())

    async def export_briefing_posts(self) -> list[Any]:
        """Every briefing record (``BRIEFING_COLUMNS``)."""
        async with self._conn.execute(f"SELECT {BRIEFING_COLUMNS} FROM briefing_posts ORDER BY guild_id") as cur:
            return list(await cur.fetchall())


def _interaction(row: Row) -> Interaction:
    return Interaction(
        id=row["id"],
        at=parse_ts(row["at"]),
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        kind=row["kind"],
        input=row["input"],
        outcome=row["outcome"],
        answer=row["answer"],
        passage_ids=json.loads(row["passage_ids"] or "[]"),
        scores=json.loads(row["scores"] or "[]"),
        latency_ms=row["latency_ms"],
        ref_id=row["ref_id"],
    )


def _interaction_filters(
    *, since: dt.datetime | None = None, guild_id: int | None = None, kind: str | None = None
) -> tuple[str, list]:
    clauses, args = ["TRUE"], []
    if since is not None:
        clauses.append("at >= ?")
        args.append(iso(since))
    if guild_id is not None:
        clauses.append("guild_id = ?")
        args.append(guild_id)
    if kind is not None:
        clauses.append("kind = ?")
        args.append(kind)
    return " AND ".join(clauses), args
