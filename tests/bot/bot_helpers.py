"""Small helpers shared by the bot tests (imported as a plain module: tests/ has no packages)."""


def reply_of(result):
    """The bot's visible reply: after ``defer(thinking=True)`` the first followup replaces the
    "thinking" original, so it is ``result.response``."""
    return result.response if result.response is not None else result.followups[0]


def acknowledged_by_defer(env) -> bool:
    """The last interaction callback was a deferral (type 5 or 6): the bot acknowledged before doing
    its slow work, within Discord's 3 s."""
    callbacks = [r for r in env.http_requests if r.method == "POST" and r.path.endswith("/callback")]
    return bool(callbacks) and callbacks[-1].json.get("type") in (5, 6)
