"""Faults on demand: injected errors, timeouts, lost responses, latency, rate limits, quota.

One `random.Random(seed)` draw per API request decides its fate, so a seeded run
fails the same requests every time (given the same request order).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

# LINE's documented per-channel, per-endpoint limits (the rate-limit table);
# endpoints not listed get LINE's default of 2,000 requests per second.
DEFAULT_RATE_LIMITS = {
    "multicast": "200/second",
    "broadcast": "60/hour",
    "narrowcast": "60/hour",
    "insight_followers": "60/hour",
    "create_rich_menu": "100/hour",
    "delete_rich_menu": "100/hour",
}
DEFAULT_RATE = "2000/second"
KNOWN_KEYS = {
    "seed",
    "error_rate",
    "timeout_rate",
    "timeout_seconds",
    "lost_response_rate",
    "lost_response_as",
    "latency_ms",
    "rate_limit",
    "monthly_quota",
}


class FaultSpecError(ValueError):
    """The fault specification posted to /_sim/faults is malformed."""


@dataclass
class FaultConfig:
    """What to inject; the defaults inject nothing but LINE's own rate limits."""

    seed: int | None = None
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 10.0
    lost_response_rate: float = 0.0
    lost_response_as: str = "error"  # "error" (a 500) or "drop" (connection closed)
    latency_ms: float = 0.0
    rate_limit: dict[str, str] = field(default_factory=dict)
    monthly_quota: int | None = None

    def as_dict(self) -> dict:
        """The effective configuration, as JSON."""
        return {k: getattr(self, k) for k in sorted(KNOWN_KEYS)}


def parse_spec(spec: dict) -> FaultConfig:
    """Turn the posted JSON into a FaultConfig, refusing unknown keys and bad rates."""
    if not isinstance(spec, dict):
        raise FaultSpecError("faults must be a JSON object")
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise FaultSpecError(f"unknown fault keys: {sorted(unknown)}")
    config = FaultConfig(**{k: v for k, v in spec.items() if v is not None})
    rates = (config.error_rate, config.timeout_rate, config.lost_response_rate)
    if any(not 0 <= r <= 1 for r in rates) or sum(rates) > 1:
        raise FaultSpecError("rates must be in [0, 1] and sum to at most 1")
    if config.lost_response_as not in ("error", "drop"):
        raise FaultSpecError("lost_response_as must be 'error' or 'drop'")
    limits = {}
    for endpoint, rate in config.rate_limit.items():
        # A bare number means requests per second, like LINE's table.
        text = f"{rate}/second" if isinstance(rate, int | float) else str(rate)
        try:
            parse(text)
        except ValueError as exc:
            raise FaultSpecError(f"bad rate for {endpoint}: {rate}") from exc
        limits[endpoint] = text
    config.rate_limit = limits
    return config


class Faults:
    """The current fault plan and the rate-limit windows."""

    def __init__(self):
        self._lock = threading.Lock()
        self.configure({})

    def configure(self, spec: dict) -> FaultConfig:
        """Replace the fault plan (an empty spec resets it) and restart the rate windows."""
        config = parse_spec(spec)
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._limiter = MovingWindowRateLimiter(MemoryStorage())
            self._items: dict[str, RateLimitItem] = {}
        return config

    def allow(self, endpoint: str) -> bool:
        """Count one request against the endpoint's window; False means 429."""
        text = self.config.rate_limit.get(endpoint) or DEFAULT_RATE_LIMITS.get(
            endpoint, DEFAULT_RATE
        )
        with self._lock:
            item = self._items.setdefault(text, parse(text))
        return self._limiter.hit(item, "linesim", endpoint)

    def draw(self) -> str | None:
        """Decide this request's fate: 'error', 'timeout', 'lost' or None; sleeps the latency."""
        config = self.config
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        with self._lock:
            u = self._rng.random()
        if u < config.error_rate:
            return "error"
        if u < config.error_rate + config.timeout_rate:
            return "timeout"
        if u < config.error_rate + config.timeout_rate + config.lost_response_rate:
            return "lost"
        return None
