"""Todoku's exceptions: one documented tree, each carrying the data the edge needs.

    TodokuError
    ├── SettingsError(variable, message)      an environment variable is missing or invalid
    ├── ConfigError(problems)                 the staff configuration is invalid; carries every
    │                                         Problem(file, line, key, message, expected)
    ├── WebhookRejected(reason, status)       a webhook request that is not a valid LINE webhook
    ├── UserError(message)                    a CLI user error (exit 1), e.g. an unknown campaign
    │   ├── UnknownCampaign(campaign_id, valid)  `todoku send/plan X`: no such campaign
    │   ├── OutsideWindow(window, opens)      `todoku send` outside delivery.window
    │   ├── UnknownTarget(target, valid)      `todoku audience X`: X is no program or campaign
    │   │                                     (bot.store.queries)
    │   ├── BadResidentsFile(problems)        an import file with bad lines, each with its
    │   │                                     line number (bot.residents.importer)
    │   ├── DatabaseNotReady                  no Todoku tables / an old schema: run
    │   │                                     `todoku db upgrade` (bot.store.health)
    │   └── DatabaseUnreachable               DATABASE_URL cannot be reached (bot.store.health)
    └── SendError                             a Messaging API call failed
        ├── RetryableSendError                500, timeout, rate limit: retry with the same key
        └── PermanentSendError                4xx other than a rate limit: do not retry
            ├── MonthlyQuotaReached           429 "monthly limit": stop the run, do not retry
            └── InvalidReplyToken             400 "Invalid reply token": used or expired

ConfigError lives beside the loader (bot.config.problems). Only the edges (webhook
route, CLI, process start-up) turn these into HTTP statuses or exit codes.
"""

from __future__ import annotations

from datetime import datetime


class TodokuError(Exception):
    """Base of every error Todoku raises on purpose."""


class SettingsError(TodokuError):
    """An environment variable is missing or invalid."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


class WebhookRejected(TodokuError):
    """A request to /callback that is not a valid, signed LINE webhook."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class UserError(TodokuError):
    """A command-line user error: the message says what to do (exit code 1)."""


class UnknownCampaign(UserError):
    """A campaign id that is not in campaigns.yaml."""

    def __init__(self, campaign_id: str, valid: list[str]) -> None:
        super().__init__(f"unknown campaign '{campaign_id}'; valid: {', '.join(valid)}")
        self.campaign_id = campaign_id
        self.valid = valid


class OutsideWindow(UserError):
    """`todoku send` outside delivery.window: pushes are not allowed now."""

    def __init__(self, window: str, opens: datetime) -> None:
        super().__init__(
            f"outside the delivery window ({window}); the next window opens at "
            f"{opens:%Y-%m-%d %H:%M} (Asia/Tokyo). Run `todoku send` again then."
        )
        self.opens = opens


class SendError(TodokuError):
    """A Messaging API call failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryableSendError(SendError):
    """A failure worth retrying with the same X-Line-Retry-Key (500, timeout, rate limit)."""


class PermanentSendError(SendError):
    """A failure that a retry cannot fix (bad request, monthly quota reached, ...)."""


class MonthlyQuotaReached(PermanentSendError):
    """LINE's monthly message quota is used up: no send can succeed until next month."""


class InvalidReplyToken(PermanentSendError):
    """LINE refused a reply token: already used (by an earlier attempt) or expired.

    `resent`: the refusal may answer a second sending of the same call (libcurl sends a
    request again on a new connection when the kept one died before any answer), so the
    first sending may be the one that used the token (bot.line.http.LineHttp._call)."""

    def __init__(self, message: str, *, status: int | None = 400, resent: bool = False) -> None:
        super().__init__(message, status=status)
        self.resent = resent


class DatabaseNotReady(UserError):
    """The database has no Todoku tables, or not the newest schema: run `todoku db upgrade`."""


class DatabaseUnreachable(UserError):
    """The database named by DATABASE_URL cannot be reached (or refuses the connection)."""
