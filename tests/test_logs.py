"""bot.logs: Todoku's own lines as JSON on stderr, at the root logger's level, configured
or not."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

from bot.logs import configure_logging, get_logger
from tests.conftest import REPO


def test_a_process_that_never_configured_logging_prints_only_warnings_as_json():
    """A script importing Todoku without configure_logging: no INFO or DEBUG line on
    stdout or stderr (structlog's default printed every level to stdout); a warning
    reaches stderr as one JSON line, as the standard library's last resort would."""
    script = (
        "from bot.logs import get_logger\n"
        "log = get_logger('todoku.script')\n"
        "log.debug('quiet_debug'); log.info('quiet_info'); log.warning('heard', n=1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    [line] = [json.loads(x) for x in done.stderr.splitlines()]
    assert (line["event"], line["level"], line["logger"], line["n"]) == (
        "heard",
        "warning",
        "todoku.script",
        1,
    )


def test_the_level_set_later_applies_to_loggers_already_used():
    """configure_logging("DEBUG") after a logger's first use shows its DEBUG lines, and
    INFO again hides them: the level is the root logger's, read at each call."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    log = get_logger("todoku.level_test")
    try:
        lines = []
        for setting in ("INFO", "DEBUG", "INFO"):
            configure_logging(setting)
            buffer = io.StringIO()
            root.handlers[0].setStream(buffer)
            log.debug("detail", setting=setting)
            log.info("fact", setting=setting)
            lines += [json.loads(x) for x in buffer.getvalue().splitlines()]
    finally:
        root.handlers[:] = before
        root.setLevel(level)
    shown = [(x["event"], x["setting"]) for x in lines]
    assert shown == [
        ("fact", "INFO"),
        ("detail", "DEBUG"),
        ("fact", "DEBUG"),
        ("fact", "INFO"),
    ]
