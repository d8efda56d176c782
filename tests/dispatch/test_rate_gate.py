"""The process's rate gate, shared by the dispatcher's threads (no database)."""

from __future__ import annotations

import threading
import time

from bot.dispatch.send import RateGate


class WatchedLimiter:
    """The real limiter, recording how many threads were inside it at once."""

    def __init__(self, limiter) -> None:
        self.limiter, self.inside, self.most = limiter, 0, 0
        self.count = threading.Lock()
        self.passed: list[float] = []  # when each allowed request was let through

    def _enter(self) -> None:
        with self.count:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.0005)  # widen the window a second thread would need

    def _leave(self) -> None:
        with self.count:
            self.inside -= 1

    def hit(self, *args):
        self._enter()
        try:
            allowed = self.limiter.hit(*args)
            if allowed:
                self.passed.append(time.time())  # the limiter's own clock
            return allowed
        finally:
            self._leave()

    def get_window_stats(self, *args):
        self._enter()
        try:
            return self.limiter.get_window_stats(*args)
        finally:
            self._leave()


def test_sixteen_threads_never_enter_the_limiter_at_once_and_the_rate_holds():
    """limits' MemoryStorage restarts its expiry timer unguarded: two threads doing it at
    once end a send with RuntimeError. The gate lets one thread in at a time, and still
    lets no more than the rate through in any second."""
    gate = RateGate("50/second")
    watched = WatchedLimiter(gate._limiter)
    gate._limiter = watched

    def sender() -> None:
        for _ in range(8):
            gate.wait()

    threads = [threading.Thread(target=sender) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    passed = sorted(watched.passed)
    assert len(passed) == 128
    assert watched.most == 1
    # A moving one-second window: any 51 consecutive passes span about a second at least
    # (the margin: a thread may be paused between the limiter's clock and ours).
    assert all(b - a >= 0.95 for a, b in zip(passed, passed[50:], strict=False))
