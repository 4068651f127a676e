"""One cog per feature area: asking, documents, briefings, admin."""
