"""Residents as data: the bulk import from JSONL (importer, import_lines, import_db) and
the purge of residents who unfollowed past the retention period (purge).

May import: bot.store, bot.config, bot.errors, segments/. Never LINE, Flask or messages/.
"""
