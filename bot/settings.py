"""Process settings: read from the environment once, immutable, passed down.

pydantic-settings reads each field from the environment variable named in its alias
(docs/contracts.md lists them); `Settings.from_env` adds the one rule it cannot express:
without the three secrets only a demo may start, on the demo's fixed values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from bot.errors import SettingsError

# Fixed values for `todoku demo` and tests only: the demo talks to linesim, never to LINE.
DEMO_CHANNEL_SECRET = "todoku-demo-channel-secret"
DEMO_ACCESS_TOKEN = "todoku-demo-access-token"
DEMO_SECRET_KEY = "todoku-demo-secret-key-not-for-production"


def _env(name: str, var: str):
    # Both the field name (Settings(database_url=...) in code and tests) and the variable.
    return AliasChoices(name, var)


class Settings(BaseSettings):
    """Everything a Todoku process needs to know about its environment."""

    model_config = SettingsConfigDict(
        frozen=True, case_sensitive=True, env_ignore_empty=True, extra="ignore"
    )

    database_url: str = Field(
        "sqlite:///todoku.db", validation_alias=_env("database_url", "DATABASE_URL")
    )
    config_dir: Path = Field(Path("config"), validation_alias=_env("config_dir", "TODOKU_CONFIG"))
    channel_secret: SecretStr = Field(
        validation_alias=_env("channel_secret", "LINE_CHANNEL_SECRET")
    )
    channel_access_token: SecretStr = Field(
        validation_alias=_env("channel_access_token", "LINE_CHANNEL_ACCESS_TOKEN")
    )
    line_api_base: str = Field(
        "https://api.line.me", validation_alias=_env("line_api_base", "LINE_API_BASE")
    )
    line_api_data_base: str = Field(
        "https://api-data.line.me",
        validation_alias=_env("line_api_data_base", "LINE_API_DATA_BASE"),
    )
    secret_key: SecretStr = Field(validation_alias=_env("secret_key", "TODOKU_SECRET_KEY"))
    public_url: str = Field(
        "http://localhost:8000", validation_alias=_env("public_url", "TODOKU_PUBLIC_URL")
    )
    demo: bool = False
    # LINE documents no maximum webhook size; 1 MiB is far above any real payload.
    max_webhook_bytes: int = 1024 * 1024
    unfollow_retention_days: int = Field(
        30, validation_alias=_env("unfollow_retention_days", "TODOKU_UNFOLLOW_RETENTION_DAYS")
    )
    log_level: str = Field("INFO", validation_alias=_env("log_level", "TODOKU_LOG_LEVEL"))
    line_timeout_seconds: float = 10.0
    # Replies (bot.registration.outbox): sent after commit by this many threads per process
    # (a new friend's welcome holds one for two or three calls to LINE and the round that
    # stores their language: with 16, replies queued for seconds at ~130 events/s per
    # process, with 32 at ~280, docs/benchmarks.md); the webhook answers LINE at once (0)
    # or waits this long for its replies (tests).
    reply_threads: int = Field(64, validation_alias=_env("reply_threads", "TODOKU_REPLY_THREADS"))
    reply_wait_seconds: float = Field(
        0.0, validation_alias=_env("reply_wait_seconds", "TODOKU_REPLY_WAIT_SECONDS")
    )
    # Under load, each web worker begins a round of webhook writes at most this often
    # (bot.web.front): the webhooks that come meanwhile share its transaction. 0: a round
    # begins as soon as the last one ends.
    webhook_round_seconds: float = Field(
        0.02,
        ge=0,
        le=1,
        validation_alias=_env("webhook_round_seconds", "TODOKU_WEBHOOK_ROUND_SECONDS"),
    )
    # How often each web process looks for replies committed but not sent (0: never).
    reply_sweep_seconds: float = Field(
        2.0, validation_alias=_env("reply_sweep_seconds", "TODOKU_REPLY_SWEEP_SECONDS")
    )
    # LINE: use a reply token within one minute; after this long, push instead.
    reply_token_seconds: float = 50.0
    reply_timeout_seconds: float = Field(
        5.0, validation_alias=_env("reply_timeout_seconds", "TODOKU_REPLY_TIMEOUT_SECONDS")
    )
    # How often the scheduler recomputes the dashboard's figures (bot.admin.snapshot); a
    # page older than five of these computes its own. 0: no snapshot, every page counts live.
    dashboard_refresh_seconds: int = Field(
        60,
        ge=0,
        validation_alias=_env("dashboard_refresh_seconds", "TODOKU_DASHBOARD_REFRESH_SECONDS"),
    )
    # How many reverse proxies (load balancers) stand in front of the web process.
    trusted_proxies: int = Field(
        0, validation_alias=_env("trusted_proxies", "TODOKU_TRUSTED_PROXIES")
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then the environment (a given mapping, else os.environ); no files."""
        return init_settings, _MappingEnvSource(settings_cls, _ENVIRON.get() or os.environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, demo: bool = False) -> Settings:
        """Build settings from environment variables; without secrets only a demo may start."""
        env = os.environ if environ is None else environ
        defaults: dict[str, object] = {"demo": demo}
        for field, var in SECRETS.items():
            if env.get(var):
                continue
            if not demo:
                raise SettingsError(var, f"is required; set {var} in the environment")
            defaults[field] = DEMO_SECRETS[field]
        try:
            with _reading(env):
                return cls(**defaults)
        except ValidationError as exc:
            raise SettingsError("environment", _describe(exc)) from None


SECRETS = {
    "channel_secret": "LINE_CHANNEL_SECRET",
    "channel_access_token": "LINE_CHANNEL_ACCESS_TOKEN",
    "secret_key": "TODOKU_SECRET_KEY",
}
DEMO_SECRETS = {
    "channel_secret": DEMO_CHANNEL_SECRET,
    "channel_access_token": DEMO_ACCESS_TOKEN,
    "secret_key": DEMO_SECRET_KEY,
}

_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("todoku_environ", default=None)


@contextmanager
def _reading(environ: Mapping[str, str]) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (tests pass their own)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def _describe(exc: ValidationError) -> str:
    # Name the variable and what is wrong, never the value (it may be a secret or a URL
    # with a password in it).
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        parts.append(f"{_VARIABLES.get(field, field)}: {error['msg']}")
    return "; ".join(parts)


def _variables() -> dict[str, str]:
    # Field name → its environment variable, read off the aliases (the last choice of each).
    return {
        name: field.validation_alias.choices[-1]
        for name, field in Settings.model_fields.items()
        if isinstance(field.validation_alias, AliasChoices)
    }


_VARIABLES = _variables()
