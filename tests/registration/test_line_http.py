"""bot.line.http: LINE's JSON calls over libcurl: one kept connection per thread, under the
base URL's path, TLS verified, no proxy from the environment, no answer is retryable."""

from __future__ import annotations

import io
import json
import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import trustme

from bot.errors import InvalidReplyToken, PermanentSendError, RetryableSendError
from bot.line.http import LineHttp, NoAnswer
from bot.logs import configure_logging


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
                "expect": self.headers.get("Expect"),
                "body": body,
            }
        )
        self.connections.add(self.client_address)
        answer = b'{"language":"en"}' if self.command == "GET" else b"{}"
        if self.path.endswith("/refuse"):
            answer = b'{"message":"The request body has 1 error(s)"}'
            self.send_response(400)
        else:
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


def _serve(wrap=None):
    _Recorder.seen, _Recorder.connections = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    if wrap is not None:
        server.socket = wrap(server.socket)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def line_server():
    server = _serve()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tls_server():
    """LINE's API over TLS, its certificate signed by a throwaway CA (returned too)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = _serve(lambda sock: context.wrap_socket(sock, server_side=True))
    yield f"https://127.0.0.1:{server.server_address[1]}", ca
    server.shutdown()
    server.server_close()


def test_calls_go_under_the_base_path_on_one_kept_connection(line_server):
    """A base URL with a path (a proxy in front of LINE) keeps it; the token and the retry
    key travel with each call, and calls one after another reuse one connection."""
    http = LineHttp(line_server + "/line-proxy/", "the-token", read_timeout=2)
    first = http.post("/v2/bot/message/reply", '{"replyToken":"t","messages":[]}', kind="reply")
    second = http.post("/v2/bot/message/push", "{}", kind="push", retry_key="key-1")
    profile = http.get("/v2/bot/profile/U1", timeout=1)
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


def test_no_answer_is_retryable_and_says_nothing_of_the_call():
    """A refused connection is the caller's to retry (with its same retry key); the error
    names the call's kind and libcurl's code, not the URL, the token or the body."""
    http = LineHttp("http://127.0.0.1:9", "the-token", read_timeout=1, connect_timeout=1)
    with pytest.raises(RetryableSendError) as raised:
        http.post("/v2/bot/message/push", '{"to":"U0123"}', kind="push", retry_key="k")
    assert str(raised.value) == "push: no answer (libcurl error 7)"


def test_a_silent_line_times_out_within_the_limit():
    """LINE accepting the connection but never answering: NoAnswer after the timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        http = LineHttp(url, "t", read_timeout=0.3, connect_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(NoAnswer):
            http.get("/v2/bot/profile/U1", timeout=0.3)
        with pytest.raises(RetryableSendError):
            http.post("/v2/bot/message/push", "{}", kind="push", retry_key="k")
        assert time.monotonic() - started < 0.3 + (0.2 + 0.3) + 1.0
    finally:
        silent.close()


def test_a_refusal_is_mapped_and_a_long_body_is_sent_without_waiting(line_server):
    """LINE's 400 is a permanent error; a multicast-sized body goes without
    `Expect: 100-continue` (which would wait for an interim answer first)."""
    http = LineHttp(line_server, "t", read_timeout=2)
    with pytest.raises(PermanentSendError) as raised:
        http.post("/v2/bot/message/refuse", "{}", kind="push")
    assert raised.value.status == 400
    ids = [f"U{n:032x}" for n in range(500)]
    assert http.multicast(ids, [{"type": "text", "text": "お知らせ"}], "key-2") == "req-2"
    sent = _Recorder.seen[-1]
    assert json.loads(sent["body"])["to"] == ids
    assert sent["expect"] is None and sent["retry_key"] == "key-2"


def test_each_thread_keeps_its_own_connection(line_server):
    """The dispatcher's sending threads call at once: every call arrives, one connection
    per thread, reused by that thread's next call."""
    http = LineHttp(line_server, "t", read_timeout=2)
    failures = []

    def send(n: int) -> None:
        try:
            for k in range(3):
                http.post("/v2/bot/message/push", "{}", kind="push", retry_key=f"{n}-{k}")
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(s["retry_key"] for s in _Recorder.seen) == sorted(
        f"{n}-{k}" for n in range(4) for k in range(3)
    )
    assert len(_Recorder.connections) == 4


def test_a_proxy_in_the_environment_is_not_used(line_server, monkeypatch):
    """Like the SDK's client, LINE calls go direct: an http_proxy set for other tools
    (here one that does not exist) changes nothing."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    http = LineHttp(line_server, "t", read_timeout=2)
    assert http.post("/v2/bot/message/push", "{}", kind="push", retry_key="k") == "req-1"


def test_tls_is_verified_against_the_cas_python_trusts(tls_server, monkeypatch, tmp_path):
    """A certificate of a CA the system does not know is refused (retryable: nothing was
    sent); once the CA is in the bundle SSL_CERT_FILE names — as an operator adds a city's
    own CA, for Python's ssl and the SDK alike — the same call goes through."""
    url, ca = tls_server
    untrusting = LineHttp(url, "t", read_timeout=2)
    with pytest.raises(RetryableSendError):
        untrusting.post("/v2/bot/message/push", "{}", kind="push", retry_key="k")
    assert _Recorder.seen == []
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    trusting = LineHttp(url, "t", read_timeout=2)
    assert trusting.post("/v2/bot/message/push", "{}", kind="push", retry_key="k") == "req-1"


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_an_accepted_reply_is_logged_only_at_debug(line_server, level):
    """Every event ends in a reply: at INFO its acceptance is not a log line of its own
    (a push or multicast is); at DEBUG it is, with LINE's request id."""
    root = logging.getLogger()
    before, old_level = list(root.handlers), root.level
    configure_logging(level)
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)
    try:
        http = LineHttp(line_server, "t", read_timeout=2)
        http.post("/v2/bot/message/reply", '{"replyToken":"t","messages":[]}', kind="reply")
        http.post("/v2/bot/message/push", "{}", kind="push", retry_key="k")
    finally:
        root.handlers[:] = before
        root.setLevel(old_level)
    calls = [json.loads(line) for line in buffer.getvalue().splitlines()]
    calls = [(c["kind"], c["request_id"]) for c in calls if c["event"] == "line_api_call"]
    if level == "INFO":
        assert calls == [("push", "req-2")]
    else:
        assert calls == [("reply", "req-1"), ("push", "req-2")]


def _scripted_line(answers):
    """A raw HTTP/1.1 server: for each connection, a list of what to do with each request
    on it ("200", "200 close" (then close), "400 token", or "die": read it, then close
    without a word)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    bodies = []

    def read(conn) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += conn.recv(65536)
        return body

    def serve() -> None:
        for script in answers:
            conn, _ = server.accept()
            with conn:
                for step in script:
                    bodies.append(read(conn))
                    if step == "die":
                        break
                    status, text = (
                        ("200 OK", b"{}")
                        if step.startswith("200")
                        else ("400 Bad Request", b'{"message":"Invalid reply token"}')
                    )
                    close = "Connection: close\r\n" if step.endswith("close") else ""
                    conn.sendall(
                        f"HTTP/1.1 {status}\r\nContent-Length: {len(text)}\r\n{close}"
                        f"x-line-request-id: req-{len(bodies)}\r\n\r\n".encode()
                        + text
                    )
                    if close:
                        break
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}", bodies


@pytest.mark.parametrize(
    ("script", "resent", "sendings"),
    [
        # The kept connection dies after the second reply went out and before any answer:
        # libcurl sends it again on a new connection by itself (should a later libcurl stop
        # doing so, the sendings change and this fails).
        ([["200", "die"], ["400 token"]], True, 3),
        # The same refusal on the reply's only sending: the token was never used by us.
        ([["200", "400 token"]], False, 2),
        # LINE (or a proxy) closing each connection after its answer: the next call
        # connects anew as expected, and its refusal is an ordinary one.
        ([["200 close"], ["400 token"]], False, 2),
    ],
    ids=["resent-by-libcurl", "one-sending", "closed-by-line"],
)
def test_a_refused_reply_token_says_whether_the_reply_may_have_been_sent_twice(
    script, resent, sendings
):
    """LINE refusing the second reply's token is marked `resent` only when libcurl may
    have sent it twice: the outbox then counts it as sent instead of pushing it again."""
    url, bodies = _scripted_line(script)
    http = LineHttp(url, "t", read_timeout=2)
    http.post("/v2/bot/message/reply", '{"replyToken":"a"}', kind="reply")
    with pytest.raises(InvalidReplyToken) as raised:
        http.post("/v2/bot/message/reply", '{"replyToken":"b"}', kind="reply")
    assert raised.value.resent is resent
    assert bodies == [b'{"replyToken":"a"}'] + [b'{"replyToken":"b"}'] * (sendings - 1)
