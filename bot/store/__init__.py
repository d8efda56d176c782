"""The database: engine and sessions (engine), the schema (models), Alembic (migrate) and
every named SQL query the rest of Todoku runs (queries; the dashboard's in dashboard_queries,
the JSONL import's bulk statements in import_queries).

Owns: all SQL. Other packages ask this one for rows by name instead of writing queries.
May import: segments/ (to compile rules to SQL), bot.clock, bot.errors, bot.config (models
only). Never LINE, Flask or messages/.
"""
