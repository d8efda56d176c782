"""The resident's side of the chat: the webhook (webhook), one handler per event
(handlers), the registration questions (dialog, steps), the menu items (menu) and the
申請済み / 対象外・不要 answers to a notice (feedback).

Owns: everything that happens because a resident did something in LINE.
May import: bot.store, bot.config, bot.links, bot.line (replies), messages/, segments/.
Never bot.dispatch or bot.admin.
"""
