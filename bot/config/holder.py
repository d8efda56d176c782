"""The staff configuration: load and check it, and keep a running process on a valid one.

The contract is shared/design/config.md. The pieces live in ``bot.config_*`` modules;
this module is the public surface the rest of Todoku imports from.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bot.config.bundle import Config, PlannedSlot, slot_moment
from bot.config.check import check
from bot.config.models import TOKYO, Delivery, KpiTargets, Municipality, Target, Window
from bot.config.problems import (
    FILES,
    ConfigError,
    Problem,
    format_problems,
    problems_json,
)
from bot.config.programs import Campaign, Period, Program, SendSlot

__all__ = [
    "FILES",
    "TOKYO",
    "Campaign",
    "Config",
    "ConfigError",
    "ConfigHolder",
    "Delivery",
    "KpiTargets",
    "Municipality",
    "Period",
    "PlannedSlot",
    "Problem",
    "Program",
    "SendSlot",
    "Target",
    "Window",
    "check_config",
    "check_folder",
    "format_problems",
    "load_config",
    "problems_json",
    "slot_moment",
]

log = logging.getLogger("todoku.config")


def check_folder(folder: str | Path) -> tuple[Config | None, list[Problem]]:
    """The configuration (None if it is invalid) and every problem in `folder`."""
    return check(folder)


def check_config(folder: str | Path) -> list[Problem]:
    """Every problem in the configuration folder (an empty list when it is valid)."""
    return check(folder)[1]


def load_config(folder: str | Path) -> Config:
    """The checked configuration in `folder`; raises ConfigError carrying every problem."""
    config, problems = check(folder)
    if config is None:
        raise ConfigError(problems)
    return config


Signature = tuple[tuple[int, int, int] | None, ...]


class ConfigHolder:
    """The last valid configuration of a running process, reloaded when files change.

    Creating one loads the folder and raises ConfigError if it is invalid: a process
    must not start on a broken configuration. Later broken edits are logged and the
    last valid configuration stays in use.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._signature = self._stat()
        self._config = load_config(self.folder)

    @property
    def config(self) -> Config:
        """The configuration in use."""
        return self._config

    def reload_if_changed(self) -> bool:
        """Re-read the files if any changed; True if a new valid configuration is in use."""
        signature = self._stat()
        if signature == self._signature:
            return False
        # Remember the broken state too, so one bad edit is logged once, not on every poll.
        self._signature = signature
        config, problems = check(self.folder)
        if config is None:
            log.error(
                "configuration in %s has problems; keeping the last valid one\n%s",
                self.folder,
                format_problems(problems),
            )
            return False
        self._config = config
        log.info("configuration reloaded from %s", self.folder)
        return True

    def _stat(self) -> Signature:
        """mtime, size and inode of each file (editors often replace files on save)."""
        signature = []
        for name in FILES:
            try:
                st = os.stat(self.folder / name)
            except OSError:
                signature.append(None)
            else:
                signature.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(signature)
