"""One multicast with its stored retry key: client-side rate limit, retries with backoff.

Retries use tenacity and always the same X-Line-Retry-Key, so a request LINE accepted but
whose answer was lost comes back as 409 "already accepted" instead of a second message
(line-platform.md §2.6). The rate limit uses `limits`, well below LINE's 200 req/s.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from linebot.v3.messaging import Message
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from bot.errors import RetryableSendError, SendError


class Sender(Protocol):
    """The one LINE call the dispatcher needs (bot.line.gateway.LineGateway implements it)."""

    def multicast(
        self, user_ids: Sequence[str], messages: Sequence[Message], retry_key: str
    ) -> str:
        """Send the same messages to ≤500 users with this retry key; LINE's request id."""
        ...


@dataclass(frozen=True)
class SendPolicy:
    """How hard to try: attempts and backoff per request, and the client-side rate."""

    attempts: int = 8
    wait_first: float = 0.5  # seconds; doubles each retry (LINE: exponential backoff)
    wait_max: float = 30.0
    # Half of LINE's multicast limit (200 req/s per channel, since 2025-04-23): LINE advises
    # throttling below the limit, and every retry counts against it too.
    rate: str = "100/second"


class RateGate:
    """Blocks until the next request fits in the policy's rate (a moving window)."""

    def __init__(self, rate: str) -> None:
        self._item = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def wait(self) -> None:
        """Return when one more request is allowed; counts it."""
        while not self._limiter.hit(self._item, "multicast"):
            reset_at = self._limiter.get_window_stats(self._item, "multicast").reset_time
            time.sleep(min(max(reset_at - time.time(), 0.001), 1.0))


@dataclass(frozen=True)
class Outcome:
    """What became of one request: its LINE request id, or the error that ended it."""

    attempts: int
    request_id: str | None = None
    error: Exception | None = None

    @property
    def unconfirmed(self) -> bool:
        """True when retries ran out on a retryable error: LINE may or may not have it."""
        return isinstance(self.error, RetryableSendError)


def multicast_with_retries(
    sender: Sender,
    user_ids: Sequence[str],
    messages: Sequence[Message],
    key: str,
    policy: SendPolicy,
    gate: RateGate,
) -> Outcome:
    """Send one multicast, retrying retryable failures with the same key; never raises SendError."""
    retrying = Retrying(
        retry=retry_if_exception_type(RetryableSendError),
        wait=wait_exponential(multiplier=policy.wait_first, max=policy.wait_max),
        stop=stop_after_attempt(policy.attempts),
        before=lambda state: gate.wait(),
        reraise=False,
    )
    try:
        request_id = retrying(sender.multicast, list(user_ids), list(messages), key)
    except RetryError as exc:  # retries exhausted: the last error was retryable
        return Outcome(retrying.statistics["attempt_number"], error=exc.last_attempt.exception())
    except SendError as exc:  # permanent (bad request, monthly quota): settled by the caller
        return Outcome(retrying.statistics["attempt_number"], error=exc)
    return Outcome(retrying.statistics["attempt_number"], request_id=request_id)


@dataclass(frozen=True)
class Dispatcher:
    """How this process sends: the LINE port, the retry policy and its one rate gate.

    Built once in the wiring, so every slot job, tick and staff command of a process shares
    LINE's per-channel limit. `using` gives a variant (another port or policy, e.g. in
    tests) that keeps sharing the gate when the rate is the same.
    """

    sender: Sender
    policy: SendPolicy = field(default_factory=SendPolicy)
    gate: RateGate | None = None

    def __post_init__(self) -> None:
        if self.gate is None:
            object.__setattr__(self, "gate", RateGate(self.policy.rate))

    def using(self, sender: Sender | None = None, policy: SendPolicy | None = None) -> Dispatcher:
        """This dispatcher with another port and/or policy (a new gate only for a new rate)."""
        policy = policy or self.policy
        gate = self.gate if policy.rate == self.policy.rate else None
        return replace(self, sender=sender or self.sender, policy=policy, gate=gate)

    def multicast(self, user_ids: Sequence[str], messages: Sequence[Message], key: str) -> Outcome:
        """One recorded batch to LINE with its stored key; never raises SendError."""
        return multicast_with_retries(self.sender, user_ids, messages, key, self.policy, self.gate)
