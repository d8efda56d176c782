"""Loaded (via PYTHONPATH) only in CI's moved-clock run, under libfaketime.

libfaketime (Debian's 0.9.10) breaks `time.sleep` in Python 3.11 — clock_nanosleep with an
absolute monotonic deadline fails with EINVAL when the monotonic clock is not faked, and
hangs when it is. select() takes a relative timeout, which libfaketime leaves alone, so
sleeping through it keeps the wall clock moved and every wait working. Nothing of Todoku is
changed: this only stands in for the C library call libfaketime cannot handle.
"""

import select
import time


def _sleep(seconds: float) -> None:
    select.select([], [], [], max(seconds, 0))


time.sleep = _sleep
