"""bot.line.http: LINE's JSON calls on one kept connection, under the base URL's path."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import urllib3

from bot.errors import RetryableSendError
from bot.line.http import LineHttp


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as LINE's API
    seen: ClassVar[list[dict]] = []
    connections: ClassVar[set[tuple]] = set()

    def _answer(self, body: bytes) -> None:
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "retry_key": self.headers.get("X-Line-Retry-Key"),
                "body": body,
            }
        )
        self.connections.add(self.client_address)
        answer = b'{"language":"en"}' if self.command == "GET" else b"{}"
        self.send_response(200)
        self.send_header("x-line-request-id", f"req-{len(self.seen)}")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self) -> None:
        self._answer(b"")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def line_server():
    _Recorder.seen, _Recorder.connections = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_calls_go_under_the_base_path_on_one_kept_connection(line_server):
    """A base URL with a path (a proxy in front of LINE) keeps it; the token and the retry
    key travel with each call, and calls one after another reuse one connection."""
    http = LineHttp(line_server + "/line-proxy/", "the-token", read_timeout=2)
    first = http.post("/v2/bot/message/reply", '{"replyToken":"t","messages":[]}', kind="reply")
    second = http.post("/v2/bot/message/push", "{}", kind="push", retry_key="key-1")
    profile = http.get("/v2/bot/profile/U1", timeout=urllib3.Timeout(total=1))
    assert (first, second) == ("req-1", "req-2")
    assert json.loads(profile.data) == {"language": "en"}
    seen = _Recorder.seen
    assert [(s["method"], s["path"]) for s in seen] == [
        ("POST", "/line-proxy/v2/bot/message/reply"),
        ("POST", "/line-proxy/v2/bot/message/push"),
        ("GET", "/line-proxy/v2/bot/profile/U1"),
    ]
    assert {s["auth"] for s in seen} == {"Bearer the-token"}
    assert [s["retry_key"] for s in seen] == [None, "key-1", None]
    assert seen[0]["body"] == b'{"replyToken":"t","messages":[]}'
    assert len(_Recorder.connections) == 1


def test_no_answer_is_retryable_and_not_retried_by_urllib3(line_server):
    """A refused connection is the caller's to retry (with its same retry key)."""
    http = LineHttp("http://127.0.0.1:9", "t", read_timeout=1, connect_timeout=1)
    with pytest.raises(RetryableSendError):
        http.post("/v2/bot/message/push", "{}", kind="push", retry_key="k")
