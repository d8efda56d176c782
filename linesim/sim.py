"""The simulator: state, faults and webhooks together, and what residents can do."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from linesim import webhooks
from linesim.faults import Faults
from linesim.state import SimState, User, new_message_id, new_quote_token


class UnknownUser(LookupError):
    """No simulated resident has this id."""


@dataclass(frozen=True)
class SimConfig:
    """Settings fixed when the app is built."""

    channel_secret: str
    access_token: str
    reply_token_ttl: float = 60.0  # LINE: use the token within one minute
    redelivery_attempts: int = 2
    redelivery_delay: float = 0.0
    # LINE counts a webhook as timed out after 2 seconds without an answer.
    webhook_timeout: float = 2.0


class Simulator:
    """One simulated LINE channel."""

    def __init__(self, config: SimConfig, webhook_url: str | None, clock: Callable[[], float]):
        self.config = config
        self.clock = clock
        self.state = SimState(clock)
        self.faults = Faults()
        # The bot's own user id, stable per channel so restarts keep `destination`.
        self.bot_user_id = "U" + hashlib.sha256(config.channel_secret.encode()).hexdigest()[:32]
        self.sender = webhooks.WebhookSender(
            webhook_url,
            config.channel_secret,
            self.bot_user_id,
            attempts=config.redelivery_attempts,
            delay=config.redelivery_delay,
            timeout=config.webhook_timeout,
            on_redeliver=self._refresh_tokens,
        )

    def now_ms(self) -> int:
        """The injected clock in milliseconds, as event timestamps use."""
        return int(self.clock() * 1000)

    def user(self, user_id: str) -> User:
        """The resident with this id, or UnknownUser."""
        user = self.state.users.get(user_id)
        if user is None:
            raise UnknownUser(user_id)
        return user

    def reset(self) -> None:
        """Forget residents, messages, requests and faults."""
        self.state.reset()
        self.faults.configure({})

    # resident actions -------------------------------------------------------------
    def follow(self, user_id: str) -> dict:
        """The resident adds (or unblocks) the account."""
        user = self.user(user_id)
        unblocked = self.state.set_following(user, True)
        self.state.add_entry(user, {"from": "user", "kind": "follow"})
        token = self.state.issue_reply_token(user)
        return self._send(user, webhooks.follow_event(user_id, self.now_ms(), token, unblocked))

    def unfollow(self, user_id: str) -> dict:
        """The resident blocks the account."""
        user = self.user(user_id)
        self.state.set_following(user, False)
        self.state.add_entry(user, {"from": "user", "kind": "unfollow"})
        return self._send(user, webhooks.unfollow_event(user_id, self.now_ms()))

    def text(self, user_id: str, text: str) -> dict:
        """The resident types a text message."""
        user = self.user(user_id)
        message_id = new_message_id()
        self.state.add_entry(
            user, {"from": "user", "kind": "text", "text": text, "message_id": message_id}
        )
        token = self.state.issue_reply_token(user)
        return self._send(
            user,
            webhooks.text_event(user_id, self.now_ms(), token, text, message_id, new_quote_token()),
        )

    def sticker(self, user_id: str, package_id: str = "446", sticker_id: str = "1988") -> dict:
        """The resident sends a sticker."""
        user = self.user(user_id)
        message_id = new_message_id()
        self.state.add_entry(
            user,
            {
                "from": "user",
                "kind": "sticker",
                "message_id": message_id,
                "package_id": package_id,
                "sticker_id": sticker_id,
            },
        )
        token = self.state.issue_reply_token(user)
        return self._send(
            user,
            webhooks.sticker_event(
                user_id, self.now_ms(), token, message_id, new_quote_token(), package_id, sticker_id
            ),
        )

    def postback(
        self, user_id: str, data: str, params: dict | None = None, display_text: str | None = None
    ) -> dict:
        """The resident taps a postback or date-picker action."""
        user = self.user(user_id)
        # LINE shows displayText in the chat as if the resident had said it.
        self.state.add_entry(
            user,
            {
                "from": "user",
                "kind": "postback",
                "data": data,
                "params": params,
                "text": display_text,
            },
        )
        token = self.state.issue_reply_token(user)
        return self._send(
            user, webhooks.postback_event(user_id, self.now_ms(), token, data, params)
        )

    def redeliver_last(self, user_id: str) -> dict:
        """Send the resident's last events again, unchanged (a duplicate delivery)."""
        user = self.user(user_id)
        if not user.last_events:
            raise UnknownUser(f"{user_id} has no event to redeliver")
        tries = self.sender.deliver(user.last_events)
        return self._result(user.last_events, tries)

    def _send(self, user: User, event: dict) -> dict:
        user.last_events = [event]
        tries = self.sender.deliver([event])
        return self._result([event], tries)

    def _refresh_tokens(self, events: list[dict]) -> None:
        for event in events:
            if "replyToken" in event:
                self.state.refresh_reply_token(event["replyToken"])

    @staticmethod
    def _result(events: list[dict], tries: list[dict]) -> dict:
        """What a resident-action endpoint answers: the event and the bot's answers."""
        last = tries[-1] if tries else None
        return {
            "event": events[0],
            "webhook": None
            if last is None
            else {"status": last["status"], "error": last["error"], "attempts": tries},
        }
