"""The LINE Messaging API edge: the gateway every send goes through (gateway), the rich
menu (richmenu) and what a process prepares on LINE when it starts (startup).

Owns: every HTTP call to LINE, error mapping to bot.errors, retry keys on the wire.
May import: bot.settings, bot.errors, bot.logs, line-bot-sdk. Never the database.
"""
