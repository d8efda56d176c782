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
            return self.limiter.hit(*args)
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
    passed: list[float] = []
    lock = threading.Lock()

    def sender() -> None:
        for _ in range(8):
            gate.wait()
            with lock:
                passed.append(time.monotonic())

    threads = [threading.Thread(target=sender) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(passed) == 128
    assert watched.most == 1
    passed.sort()
    # A moving one-second window: any 51 consecutive passes span at least a second.
    assert all(b - a >= 0.99 for a, b in zip(passed, passed[50:], strict=False))
