"""A LINE Messaging API stand-in for load benchmarks: answers after a fixed delay, or never.

    .venv/bin/python -m benchmarks.line_standin --port 18600 --delay-ms 50 [--hang]

linesim checks every message against LINE's rules and keeps timelines: right for tests,
but at thousands of requests per second it would eat the cores the benchmark measures.
This stand-in is one asyncio process (uvloop) that parses just enough HTTP/1.1 (keep-alive, no
pipelining), sleeps `--delay-ms` (LINE's latency from Japan is tens of ms), answers 200,
and counts what it received: every reply token and push retry key, so the benchmark can
check that each event was answered exactly once. `GET /_stats` returns the counts,
`POST /_reset` zeroes them; `GET /_arrivals` gives when (epoch s) each reply token first
arrived, before the delay, so the webhook benchmark can time event → reply; `POST /_hang`
and `POST /_answer` switch "LINE never answers" on and off.

Multicast behaves as LINE's does where a dispatcher can tell: at most `--multicast-rate`
requests per second per channel (a one-second moving window; 429 above it, as LINE), a
retry key already accepted answers 409 with `x-line-accepted-request-id`. `GET /_multicasts`
lists every multicast received: arrival time (epoch s), status, retry key, recipients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter, deque

import uvloop

RICH_MENU_ANSWERS = {
    ("GET", "/v2/bot/user/all/richmenu"): (404, {"message": "no default rich menu"}),
    ("POST", "/v2/bot/richmenu"): (200, {"richMenuId": "richmenu-bench"}),
    ("GET", "/v2/bot/richmenu/list"): (200, {"richmenus": []}),
}


class StandIn:
    """The counters and the server."""

    def __init__(
        self, delay: float, hang: bool, multicast_rate: int = 200, profile_language: str = ""
    ) -> None:
        self.delay = delay
        self.hang = hang
        self.profile_language = profile_language
        self.tokens: Counter[str] = Counter()
        self.arrivals: dict[str, float] = {}  # reply token -> first arrival (epoch s)
        self.retry_keys: Counter[str] = Counter()
        self.requests = 0
        self.multicast_rate = multicast_rate
        self.window: deque[float] = deque()  # arrival times of the last second's multicasts
        self.accepted: dict[str, str] = {}  # retry key -> request id
        self.multicasts: list[dict] = []

    def stats(self) -> dict:
        """What was received so far."""
        return {
            "requests": self.requests,
            "replies": sum(self.tokens.values()),
            "reply_tokens": len(self.tokens),
            "duplicate_reply_tokens": sum(1 for c in self.tokens.values() if c > 1),
            "pushes": sum(self.retry_keys.values()),
            "duplicate_retry_keys": sum(1 for c in self.retry_keys.values() if c > 1),
            "hang": self.hang,
            "delay_ms": self.delay * 1000,
        }

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, answer, *extra = await self.answer(method, path, headers, body)
                more = "".join(f"{k}: {v}\r\n" for k, v in (extra[0] if extra else {}).items())
                if status is None:
                    await asyncio.Event().wait()  # never answers; the client times out
                payload = json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nx-line-request-id: {uuid.uuid4()}\r\n"
                    f"{more}\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def answer(self, method: str, path: str, headers: dict, body: bytes):
        if path == "/_stats":
            return 200, self.stats()
        if path == "/_reset":
            self.tokens.clear()
            self.arrivals.clear()
            self.retry_keys.clear()
            self.requests = 0
            self.window.clear()
            self.accepted.clear()
            self.multicasts.clear()
            return 200, self.stats()
        if path == "/_arrivals":
            return 200, {"arrivals": self.arrivals}
        if path == "/_multicasts":
            return 200, {"multicasts": self.multicasts}
        if path in ("/_hang", "/_answer"):
            self.hang = path == "/_hang"
            return 200, self.stats()
        self.requests += 1
        if self.hang:
            return None, None
        if path == "/v2/bot/message/multicast":
            return await self.multicast(headers, body)
        if path == "/v2/bot/message/reply":
            token = json.loads(body)["replyToken"]
            self.arrivals.setdefault(token, time.time())
        if self.delay:
            await asyncio.sleep(self.delay)
        if path == "/v2/bot/message/reply":
            self.tokens[json.loads(body)["replyToken"]] += 1
            return 200, {"sentMessages": [{"id": "1"}]}
        if path == "/v2/bot/message/push":
            self.retry_keys[headers.get("x-line-retry-key", "")] += 1
            return 200, {"sentMessages": [{"id": "1"}]}
        if self.profile_language and path.startswith("/v2/bot/profile/"):
            return 200, {"language": self.profile_language}
        if self.profile_language and path.split("?")[0] == "/v2/bot/richmenu/list":
            return 200, {"richmenus": _menus()}
        return RICH_MENU_ANSWERS.get((method, path.split("?")[0]), (200, {}))

    async def multicast(self, headers: dict, body: bytes):
        """LINE's multicast as a sender sees it: the rate limit, retry keys, the latency."""
        arrived = time.time()
        key = headers.get("x-line-retry-key", "")
        record = {"at": arrived, "retry_key": key, "to": len(json.loads(body)["to"])}
        self.multicasts.append(record)
        while self.window and self.window[0] <= arrived - 1.0:
            self.window.popleft()
        if len(self.window) >= self.multicast_rate:
            record["status"] = 429
            return 429, {"message": "The API rate limit has been exceeded. Try again later."}
        self.window.append(arrived)
        if self.delay:
            await asyncio.sleep(self.delay)
        if key in self.accepted:
            record["status"] = 409
            accepted = {"x-line-accepted-request-id": self.accepted[key]}
            return 409, {"message": "The retry key is already accepted"}, accepted
        self.accepted[key] = str(uuid.uuid4())
        record["status"] = 200
        return 200, {}


def _menus() -> list[dict]:
    """Every language's rich menu as the web process named it (so a resident in English
    gets English's linked: a call to LINE)."""
    from bot.line.richmenu import menu_image, menu_name
    from messages import LANGUAGES

    return [
        {
            "richMenuId": f"richmenu-{lang}",
            "name": menu_name(menu_image(lang), lang),
            "size": {"width": 2500, "height": 843},
            "selected": True,
            "chatBarText": "メニュー",
            "areas": [],
        }
        for lang in LANGUAGES
    ]


async def serve(
    port: int, delay: float, hang: bool, multicast_rate: int = 200, profile_language: str = ""
) -> None:
    """Serve on 127.0.0.1:port until killed."""
    standin = StandIn(delay, hang, multicast_rate, profile_language)
    server = await asyncio.start_server(standin.handle, "127.0.0.1", port, backlog=1024)
    print(f"line stand-in on http://127.0.0.1:{port} (delay {delay * 1000:.0f} ms)", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--hang", action="store_true", help="never answer (LINE is down)")
    parser.add_argument("--multicast-rate", type=int, default=200, help="per second (LINE: 200)")
    parser.add_argument(
        "--profile-language",
        default="",
        help="every profile's language (e.g. en: new friends get their menu linked)",
    )
    args = parser.parse_args()
    # uvloop (as the web process's loop): the stand-in is LINE, whose CPU is not ours; it
    # shares the benchmark's cores, so it should take as little of them as it can.
    uvloop.run(
        serve(
            args.port, args.delay_ms / 1000, args.hang, args.multicast_rate, args.profile_language
        )
    )


if __name__ == "__main__":
    main()
