"""Process settings: read from the environment once, immutable, passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr

from bot.errors import SettingsError

# Fixed values for `todoku demo` and tests only: the demo talks to linesim, never to LINE.
DEMO_CHANNEL_SECRET = "todoku-demo-channel-secret"
DEMO_ACCESS_TOKEN = "todoku-demo-access-token"
DEMO_SECRET_KEY = "todoku-demo-secret-key-not-for-production"


class Settings(BaseModel):
    """Everything a Todoku process needs to know about its environment."""

    model_config = ConfigDict(frozen=True)

    database_url: str = "sqlite:///todoku.db"
    config_dir: Path = Path("config")
    channel_secret: SecretStr
    channel_access_token: SecretStr
    line_api_base: str = "https://api.line.me"
    line_api_data_base: str = "https://api-data.line.me"
    secret_key: SecretStr
    public_url: str = "http://localhost:8000"
    demo: bool = False
    # LINE documents no maximum webhook size; 1 MiB is far above any real payload.
    max_webhook_bytes: int = 1024 * 1024
    unfollow_retention_days: int = 30
    log_level: str = "INFO"
    line_timeout_seconds: float = 10.0
    # How many reverse proxies (load balancers) stand in front of the web process.
    trusted_proxies: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, demo: bool = False) -> Settings:
        """Build settings from environment variables; without secrets only a demo may start."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {"demo": demo}
        for field, var in _ENV.items():
            if env.get(var):
                values[field] = env[var]
        for field, var in _SECRETS.items():
            if env.get(var):
                values[field] = env[var]
            elif demo:
                values[field] = _DEMO_SECRETS[field]
            else:
                raise SettingsError(var, f"is required; set {var} in the environment")
        try:
            return cls(**values)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise SettingsError("environment", str(exc)) from exc


_ENV = {
    "database_url": "DATABASE_URL",
    "config_dir": "TODOKU_CONFIG",
    "line_api_base": "LINE_API_BASE",
    "line_api_data_base": "LINE_API_DATA_BASE",
    "public_url": "TODOKU_PUBLIC_URL",
    "unfollow_retention_days": "TODOKU_UNFOLLOW_RETENTION_DAYS",
    "log_level": "TODOKU_LOG_LEVEL",
    "trusted_proxies": "TODOKU_TRUSTED_PROXIES",
}
_SECRETS = {
    "channel_secret": "LINE_CHANNEL_SECRET",
    "channel_access_token": "LINE_CHANNEL_ACCESS_TOKEN",
    "secret_key": "TODOKU_SECRET_KEY",
}
_DEMO_SECRETS = {
    "channel_secret": DEMO_CHANNEL_SECRET,
    "channel_access_token": DEMO_ACCESS_TOKEN,
    "secret_key": DEMO_SECRET_KEY,
}
