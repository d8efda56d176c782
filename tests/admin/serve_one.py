"""One web process for the multi-process tests: `python -m tests.admin.serve_one PORT`.

Reads DATABASE_URL and the LINE/secret variables from the environment, like gunicorn's
workers; Argon2id at its cheapest (the tests are about limits, not hashing cost).
"""

from __future__ import annotations

import sys

from argon2 import profiles
from werkzeug.serving import make_server

import bot.admin.staff
from bot.app import create_app

bot.admin.staff.PARAMETERS = profiles.CHEAPEST
server = make_server("127.0.0.1", int(sys.argv[1]), create_app(), threaded=True)
print("ready", flush=True)
server.serve_forever()
