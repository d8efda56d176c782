"""The SQLite write gate (bot.store.writegate): one writer across threads and processes."""

from __future__ import annotations

import threading
import time

import pytest

from bot.store.writegate import GateTimeout, WriteGate


def test_a_second_process_waits_at_the_gate_until_the_first_leaves(tmp_path):
    """Two gates on one database file (as two web processes): the second enters only
    after the first left, and then at once (not after a busy handler's sleeps)."""
    url = f"sqlite:///{tmp_path / 'todoku.db'}"
    first, second = WriteGate(url, timeout=5), WriteGate(url, timeout=5)
    entered = []

    def other_process():
        with second.passage():
            entered.append(time.monotonic())

    with first.passage():
        thread = threading.Thread(target=other_process)
        thread.start()
        time.sleep(0.2)
        assert entered == []
        left = time.monotonic()
    thread.join(5)
    assert len(entered) == 1
    assert entered[0] - left < 0.1


def test_threads_of_one_process_pass_one_at_a_time(tmp_path):
    """Never two holders at once among many threads of one process."""
    gate = WriteGate(f"sqlite:///{tmp_path / 'todoku.db'}", timeout=5)
    inside, most = 0, 0
    lock = threading.Lock()

    def writer():
        nonlocal inside, most
        for _ in range(20):
            with gate.passage():
                with lock:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert most == 1


def test_a_stuck_writer_makes_the_others_fail_after_the_timeout(tmp_path):
    """The wait is bounded like SQLite's busy timeout: the webhook fails, LINE redelivers."""
    url = f"sqlite:///{tmp_path / 'todoku.db'}"
    stuck, waiting = WriteGate(url, timeout=5), WriteGate(url, timeout=0.2)
    with stuck.passage():
        started = time.monotonic()
        with pytest.raises(GateTimeout), waiting.passage():
            pass
        assert time.monotonic() - started < 1


def test_postgresql_has_no_gate():
    """Many writers at once on PostgreSQL: passing never blocks."""
    gate = WriteGate("postgresql+psycopg://u@localhost/todoku", timeout=0.01)
    assert gate.path is None
    with gate.passage(), gate.passage():
        pass
