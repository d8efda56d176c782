"""Campaign delivery: the clock process (scheduler), a slot's run (run), the outbox of
deliveries and batches (outbox), sending with retries and the rate gate (send), resuming
after a crash (resume), the delivery window (window), and the plan / send commands (plan).

Owns: that each notice is recorded before it is sent and sent once.
May import: bot.store, bot.config, bot.line, bot.links, bot.residents (purge, for the
nightly housekeeping), messages/, segments/. Never bot.registration or bot.admin.
"""
