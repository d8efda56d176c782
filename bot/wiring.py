"""The composition root: turns Settings into the engine, sessions, LINE client, clock, config.

Web, scheduler, CLI and tests all call `wire()`; nothing is built at import time, and no
module keeps process state of its own: what a process shares (the LINE gateway, the
dispatcher's rate gate) hangs off its one Wiring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, SystemClock
from bot.settings import Settings
from bot.store.engine import DEFAULT_TIMEOUT, make_engine, make_session_factory

if TYPE_CHECKING:
    from bot.config import Config, ConfigHolder
    from bot.dispatch.send import Dispatcher
    from bot.line.gateway import LineGateway
    from bot.store.writegate import WriteGate


@dataclass
class Wiring:
    """Everything a process needs, built once from Settings."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    config_holder: ConfigHolder = field(repr=False)

    @property
    def config(self) -> Config:
        """The last valid staff configuration (see `refresh_config`)."""
        return self.config_holder.config

    def refresh_config(self) -> None:
        """Pick up edited configuration files; a broken edit is logged and ignored."""
        self.config_holder.reload_if_changed()

    @cached_property
    def line(self) -> LineGateway:
        """The LINE Messaging API adapter (built on first use)."""
        from bot.line.gateway import LineGateway

        return LineGateway(self.settings)

    @cached_property
    def write_gate(self) -> WriteGate:
        """Where this process's webhook transactions queue for SQLite's one writer
        (bot.store.writegate; open on PostgreSQL)."""
        from bot.store.engine import WEB_TIMEOUT
        from bot.store.writegate import WriteGate

        return WriteGate(self.engine.url.render_as_string(hide_password=False), WEB_TIMEOUT)

    @cached_property
    def dispatcher(self) -> Dispatcher:
        """How this process sends multicasts: one rate gate for every slot, tick and command."""
        from bot.dispatch.send import Dispatcher
        from bot.line.http import multicast_http

        # Plain JSON over libcurl, not the gateway: notices are built as LINE's JSON, and
        # the SDK under the gateway takes over a second to import (docs/benchmarks.md).
        return Dispatcher(multicast_http(self.settings))


def wire(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    db_timeout: float | None = DEFAULT_TIMEOUT,
) -> Wiring:
    """Build the process's parts; an invalid configuration raises ConfigError (fatal).

    `db_timeout`: seconds a database statement or lock wait may take (bot.store.engine).
    """
    from bot.config import ConfigHolder

    engine = engine or make_engine(settings.database_url, timeout=db_timeout)
    holder = ConfigHolder(settings.config_dir)
    return Wiring(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        clock=clock or SystemClock(),
        config_holder=holder,
    )
