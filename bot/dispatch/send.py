"""Multicasts with their stored retry keys: client-side rate limit, retries, concurrency.

Retries use tenacity and always the same X-Line-Retry-Key, so a request LINE accepted but
whose answer was lost comes back as 409 "already accepted" instead of a second message
(line-platform.md §2.6). The rate limit uses `limits`, a little below LINE's 200 req/s.
LINE answers after tens of milliseconds, so reaching its limit takes several requests in
flight at once: the Dispatcher's pool of `SendPolicy.concurrency` threads sends them, each
through the same client (bot.line.http: plain JSON; one libcurl handle per thread).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from bot.errors import RetryableSendError, SendError

# A message is LINE's JSON object (messages.notice.notice_object): no SDK model.
Message = Mapping[str, Any]


class Sender(Protocol):
    """The one LINE call the dispatcher needs (bot.line.http.LineHttp implements it)."""

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
    # LINE's multicast limit is 200 req/s per channel (since 2025-04-23). 5% below it: the
    # moving window is counted here when a request leaves, and at LINE when it arrives, so
    # uneven network delays must not push 201 into one of LINE's seconds (a 429 and a retry).
    rate: str = "190/second"
    # Multicasts in flight at once. LINE answers a multicast from Japan in tens of ms: at
    # 50 ms, 200 req/s needs 10 in flight; 16 leaves room for slower answers and retries.
    concurrency: int = 16


class RateGate:
    """Blocks until the next request fits in the policy's rate (a moving window)."""

    def __init__(self, rate: str) -> None:
        self._item = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        # One thread at a time inside the limiter: limits' MemoryStorage (5.8) restarts its
        # expiry timer without a lock, and two dispatcher threads doing so at once raised
        # "threads can only be started once" in a 100,000-resident run (ending the send).
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Return when one more request is allowed; counts it."""
        while True:
            with self._lock:
                if self._limiter.hit(self._item, "multicast"):
                    return
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
    pool: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        if self.gate is None:
            object.__setattr__(self, "gate", RateGate(self.policy.rate))
        if self.pool is None:
            # Threads start on first use and are shared by every run this process sends, so
            # the process as a whole never has more than `concurrency` requests at LINE.
            pool = ThreadPoolExecutor(self.policy.concurrency, thread_name_prefix="multicast")
            object.__setattr__(self, "pool", pool)

    def using(self, sender: Sender | None = None, policy: SendPolicy | None = None) -> Dispatcher:
        """This dispatcher with another port and/or policy (a new gate only for a new rate)."""
        policy = policy or self.policy
        gate = self.gate if policy.rate == self.policy.rate else None
        pool = self.pool if policy.concurrency == self.policy.concurrency else None
        return replace(self, sender=sender or self.sender, policy=policy, gate=gate, pool=pool)

    def multicast(self, user_ids: Sequence[str], messages: Sequence[Message], key: str) -> Outcome:
        """One recorded batch to LINE with its stored key; never raises SendError."""
        return multicast_with_retries(self.sender, user_ids, messages, key, self.policy, self.gate)

    def submit(
        self, user_ids: Sequence[str], messages: Sequence[Message], key: str
    ) -> Future[Outcome]:
        """`multicast` on one of the pool's threads; the caller must have committed `key`."""
        return self.pool.submit(self.multicast, user_ids, messages, key)
