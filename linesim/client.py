"""A small client for linesim's own API, for the bot's tests and scripts."""

from __future__ import annotations

import requests


class SimError(RuntimeError):
    """linesim refused a `/_sim` call."""


class SimClient:
    """Drive simulated residents and inspect what the bot sent; every method returns JSON."""

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def _call(self, method: str, path: str, json: dict | None = None):
        response = self.http.request(method, self.base_url + path, json=json, timeout=self.timeout)
        if response.status_code >= 400:
            raise SimError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def create_user(self, name: str, language: str | None = None) -> str:
        """Create a resident (their LINE app in `language`, default ja; "" for an app that
        does not share it: the profile then has no language); returns the id."""
        body = {"display_name": name, **({"language": language} if language is not None else {})}
        return self._call("POST", "/_sim/users", body)["user_id"]

    def rich_menu_of(self, user_id: str) -> str | None:
        """The rich menu linked to one resident (None: they see the default)."""
        users = {u["user_id"]: u for u in self.users()}
        return users[user_id]["rich_menu_id"]

    def users(self) -> list[dict]:
        """Every resident."""
        return self._call("GET", "/_sim/users")["users"]

    def follow(self, user_id: str) -> dict:
        """The resident adds (or unblocks) the account; returns the event and the bot's answer."""
        return self._call("POST", f"/_sim/users/{user_id}/follow")

    def unfollow(self, user_id: str) -> dict:
        """The resident blocks the account."""
        return self._call("POST", f"/_sim/users/{user_id}/unfollow")

    def text(self, user_id: str, text: str) -> dict:
        """The resident sends a text message."""
        return self._call("POST", f"/_sim/users/{user_id}/text", {"text": text})

    def postback(
        self, user_id: str, data: str, params: dict | None = None, display_text: str | None = None
    ) -> dict:
        """The resident taps a postback (or date picker, with params like {"date": ...})."""
        return self._call(
            "POST",
            f"/_sim/users/{user_id}/postback",
            {"data": data, "params": params, "display_text": display_text},
        )

    def sticker(self, user_id: str, package_id: str = "446", sticker_id: str = "1988") -> dict:
        """The resident sends a sticker."""
        return self._call(
            "POST",
            f"/_sim/users/{user_id}/sticker",
            {"package_id": package_id, "sticker_id": sticker_id},
        )

    def redeliver_last(self, user_id: str) -> dict:
        """Send the resident's last webhook again, unchanged (a duplicate delivery)."""
        return self._call("POST", f"/_sim/users/{user_id}/redeliver-last")

    def messages(self, user_id: str) -> list[dict]:
        """What the bot delivered to the resident, oldest first."""
        return self._call("GET", f"/_sim/users/{user_id}/messages")["messages"]

    def requests(self) -> list[dict]:
        """Every Messaging API request linesim received."""
        return self._call("GET", "/_sim/requests")["requests"]

    def problems(self) -> list[dict]:
        """The requests linesim refused as invalid, each with its `problems`."""
        return [r for r in self.requests() if r["problems"]]

    def assert_no_problems(self) -> None:
        """Fail loudly if the bot sent anything LINE would have refused."""
        bad = self.problems()
        if bad:
            raise AssertionError(f"LINE would refuse {len(bad)} request(s): {bad}")

    def faults(self, **spec) -> dict:
        """Set injected faults (no arguments: clear them); returns the effective plan."""
        return self._call("POST", "/_sim/faults", spec)

    def set_webhook(self, url: str | None) -> dict:
        """Point residents' events at another webhook URL."""
        return self._call("POST", "/_sim/webhook", {"url": url})

    def reset(self) -> dict:
        """Forget everything."""
        return self._call("POST", "/_sim/reset")
