"""In-memory platform state: residents, timelines, reply tokens, retry keys, quota, rich menus.

Everything is guarded by one re-entrant lock; routes hold it across check-then-act
sequences (a retry key lookup and the delivery it guards) so concurrent retries
cannot both deliver.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9))
RETRY_KEY_TTL = 24 * 3600  # LINE remembers an accepted retry key for 24 hours
REPLY_TOKEN_HARD_LIMIT = 20 * 60  # a redelivered token is dead 20 min after the event
QUOTABLE_TYPES = {"text", "textV2", "sticker", "image", "video"}  # messages LINE gives a quoteToken


def new_user_id() -> str:
    """A LINE user id: 'U' and 32 hex digits."""
    return "U" + secrets.token_hex(16)


def new_message_id() -> str:
    """A numeric message id like LINE's (18 digits)."""
    return str(secrets.randbelow(9 * 10**17) + 10**17)


def new_quote_token() -> str:
    """An opaque quote token."""
    return secrets.token_urlsafe(48)


def iso(ts: float) -> str:
    """Epoch seconds as an ISO-8601 JST timestamp (what staff read)."""
    return datetime.fromtimestamp(ts, JST).isoformat(timespec="milliseconds")


@dataclass
class User:
    """A simulated resident."""

    user_id: str
    display_name: str
    following: bool = False
    first_follow_at: float | None = None
    follow_log: list[tuple[float, bool]] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    last_events: list[dict] | None = None
    rich_menu_id: str | None = None
    # The LINE app's language, as GET /v2/bot/profile reports it (None: not shared, absent).
    language: str | None = "ja"

    def summary(self) -> dict:
        """The JSON shape `/_sim/users` shows."""
        return {
            "user_id": self.user_id,
            "display_name": self.display_name,
            "following": self.following,
            "ever_followed": self.first_follow_at is not None,
            "rich_menu_id": self.rich_menu_id,
            "language": self.language,
        }


@dataclass
class ReplyToken:
    """A reply token handed out with an event."""

    user_id: str
    event_at: float
    issued_at: float
    used: bool = False


class SimState:
    """All mutable platform state, behind `lock`."""

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        with self.lock:
            self.users: dict[str, User] = {}
            self.reply_tokens: dict[str, ReplyToken] = {}
            self.retry_keys: dict[str, tuple[float, str, dict]] = {}
            self.rich_menus: dict[str, dict] = {}
            self.default_rich_menu: str | None = None
            self.usage: dict[str, int] = {}
            self.requests: list[dict] = []
            self._seq = 0

    # residents -----------------------------------------------------------------
    def create_user(self, display_name: str, language: str | None = "ja") -> User:
        """Add a resident who has not followed yet (their LINE app in `language`)."""
        with self.lock:
            user = User(new_user_id(), display_name, language=language)
            self.users[user.user_id] = user
            return user

    def set_following(self, user: User, following: bool) -> bool:
        """Record a follow or block; returns True when a follow is an unblock."""
        with self.lock:
            now = self.clock()
            unblock = following and user.first_follow_at is not None
            if following and user.first_follow_at is None:
                user.first_follow_at = now
            user.following = following
            user.follow_log.append((now, following))
            return unblock

    def add_entry(self, user: User, entry: dict) -> dict:
        """Append a timeline entry (bot or resident side), stamping order and time."""
        with self.lock:
            self._seq += 1
            entry = {"seq": self._seq, "at": iso(self.clock()), **entry}
            user.timeline.append(entry)
            return entry

    # reply tokens ----------------------------------------------------------------
    def issue_reply_token(self, user: User) -> str:
        """A fresh single-use reply token for an event from `user`."""
        with self.lock:
            token = secrets.token_hex(16)
            now = self.clock()
            self.reply_tokens[token] = ReplyToken(user.user_id, now, now)
            return token

    def refresh_reply_token(self, token: str) -> None:
        """A redelivery restarts the token's one-minute window (LINE's documented rule)."""
        with self.lock:
            if token in self.reply_tokens:
                self.reply_tokens[token].issued_at = self.clock()

    def consume_reply_token(self, token: str, ttl: float) -> str | None:
        """The user id the token answers, marking it used; None if unknown, used or expired."""
        with self.lock:
            info = self.reply_tokens.get(token)
            now = self.clock()
            if info is None or info.used:
                return None
            if now - info.issued_at > ttl or now - info.event_at > REPLY_TOKEN_HARD_LIMIT:
                return None
            info.used = True
            return info.user_id

    # sending -----------------------------------------------------------------------
    def deliver(self, user_ids: list[str], messages: list[dict], via: str, request_id: str):
        """Put messages on each following resident's timeline; returns (sentMessages, count)."""
        with self.lock:
            sent = []
            for message in messages:
                item = {"id": new_message_id()}
                if message.get("type") in QUOTABLE_TYPES:
                    item["quoteToken"] = new_quote_token()
                sent.append(item)
            delivered = 0
            for uid in user_ids:
                user = self.users.get(uid)
                if user is None or not user.following:
                    continue  # LINE answers 200 and silently drops blocked/unknown recipients
                delivered += 1
                for message, item in zip(messages, sent, strict=True):
                    self.add_entry(
                        user,
                        {
                            "from": "bot",
                            "via": via,
                            "request_id": request_id,
                            "message_id": item["id"],
                            "message": message,
                        },
                    )
            return sent, delivered

    def accepted_retry_key(self, key: str) -> tuple[str, dict] | None:
        """(request id, response body) of an earlier accepted request with this key."""
        with self.lock:
            found = self.retry_keys.get(key)
            if found is None or self.clock() - found[0] > RETRY_KEY_TTL:
                return None
            return found[1], found[2]

    def accept_retry_key(self, key: str, request_id: str, body: dict) -> None:
        """Remember that the request with this key was accepted."""
        with self.lock:
            self.retry_keys[key] = (self.clock(), request_id, body)

    # quota -------------------------------------------------------------------------
    def month(self) -> str:
        """The current month in JST, which is what LINE's quota resets on."""
        return datetime.fromtimestamp(self.clock(), JST).strftime("%Y-%m")

    def usage_this_month(self) -> int:
        """Messages counted against the monthly quota so far."""
        with self.lock:
            return self.usage.get(self.month(), 0)

    def count_usage(self, n: int) -> None:
        """Count n recipient-messages toward this month's quota."""
        with self.lock:
            self.usage[self.month()] = self.usage_this_month() + n

    # followers insight ---------------------------------------------------------------
    def follower_stats(self, day_end: float) -> dict:
        """followers / targetedReaches / blocks as of `day_end` (LINE's definitions)."""
        with self.lock:
            followers = blocks = reach = 0
            for user in self.users.values():
                if user.first_follow_at is None or user.first_follow_at >= day_end:
                    continue
                followers += 1  # first-time adds; never decreases
                state = [f for t, f in user.follow_log if t < day_end][-1]
                blocks += not state
                reach += state
            return {"followers": followers, "targetedReaches": reach, "blocks": blocks}

    def log_request(self, record: dict) -> None:
        """Keep one API request record."""
        with self.lock:
            self.requests.append(record)


def today_jst(clock: Callable[[], float]) -> datetime:
    """Midnight today in JST."""
    now = datetime.fromtimestamp(clock(), JST)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
