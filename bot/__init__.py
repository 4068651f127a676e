"""newsdesk's Discord bot: a thin layer over ``knowledge.KnowledgeBase``.

``bot.settings.Settings.from_env()`` and ``bot.app.create_bot(settings)`` build it; ``python -m bot``
runs it (or a terminal console when no ``DISCORD_TOKEN`` is set)."""
