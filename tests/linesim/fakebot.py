"""A tiny bot for linesim's tests: verifies signatures with the SDK, replies via MessagingApi."""

from __future__ import annotations

import threading
import time

from flask import Flask, abort, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    DatetimePickerAction,
    FlexBox,
    FlexBubble,
    FlexButton,
    FlexMessage,
    FlexSeparator,
    FlexText,
    MessagingApi,
    PostbackAction,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
    URIAction,
)
from linebot.v3.webhooks import FollowEvent, MessageEvent, PostbackEvent, TextMessageContent
from werkzeug.serving import make_server

from linesim.server import QuietHandler

FORM_URL = "https://example.com/form"


def welcome() -> TextMessage:
    """Greeting with two quick replies: a postback and a date picker."""
    return TextMessage(
        text="ようこそ！\n生年月日を教えてください。",
        quick_reply=QuickReply(
            items=[
                QuickReplyItem(
                    action=PostbackAction(
                        label="お知らせを見る", data="show=notice", display_text="お知らせを見る"
                    )
                ),
                QuickReplyItem(
                    action=DatetimePickerAction(
                        label="生年月日",
                        data="birth",
                        mode="date",
                        initial="1980-01-01",
                        min="1900-01-01",
                        max="2026-11-22",
                    )
                ),
            ]
        ),
    )


def notice() -> FlexMessage:
    """A program notice as a Flex bubble with a postback and a uri button."""
    body = FlexBox(
        layout="vertical",
        contents=[
            FlexText(text="子育て応援給付金", weight="bold", size="lg", wrap=True),
            FlexSeparator(),
            FlexText(text="申請期限: 12月20日", wrap=True, color="#555555"),
        ],
    )
    footer = FlexBox(
        layout="vertical",
        contents=[
            FlexButton(
                style="primary", action=PostbackAction(label="詳しく見る", data="notice=detail")
            ),
            FlexButton(style="link", action=URIAction(label="申請フォーム", uri=FORM_URL)),
        ],
    )
    return FlexMessage(
        alt_text="子育て応援給付金のお知らせ", contents=FlexBubble(body=body, footer=footer)
    )


def answer(event) -> list:
    """The bot's replies to one event."""
    if isinstance(event, FollowEvent):
        return [welcome()]
    if isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
        return [TextMessage(text=f"受信: {event.message.text}")]
    if isinstance(event, PostbackEvent):
        data, params = event.postback.data, event.postback.params or {}
        if data == "show=notice":
            return [notice()]
        if data == "birth":
            again = QuickReply(
                items=[
                    QuickReplyItem(
                        action=PostbackAction(
                            label="お知らせを見る",
                            data="show=notice",
                            display_text="お知らせを見る",
                        )
                    )
                ]
            )
            return [TextMessage(text=f"生年月日: {params.get('date')}", quick_reply=again)]
        if data == "notice=detail":
            return [TextMessage(text="詳細: 中学生以下のお子さんがいる世帯が対象です。")]
    return []


class FakeBot:
    """The bot side of a test: records what it received and answers like a real bot."""

    def __init__(self, api_url: str, channel_secret: str, access_token: str):
        self.parser = WebhookParser(channel_secret)
        self.api = MessagingApi(ApiClient(Configuration(host=api_url, access_token=access_token)))
        self.bodies: list[str] = []
        self.events: list = []
        self.fail_next = 0  # answer this many webhooks with 500 (before replying)
        self.reply = True
        self.delay_next = 0.0  # sleep this long before answering the next webhook
        app = Flask("fakebot")
        app.post("/callback")(self.callback)
        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def webhook_url(self) -> str:
        """Where linesim should post events."""
        return f"http://127.0.0.1:{self.server.server_port}/callback"

    def callback(self):
        """The webhook: verify, record, maybe fail, reply."""
        body = request.get_data(as_text=True)
        try:
            events = self.parser.parse(body, request.headers.get("X-Line-Signature", ""))
        except InvalidSignatureError:
            abort(400)
        self.bodies.append(body)
        self.events.extend(events)
        if self.delay_next:
            delay, self.delay_next = self.delay_next, 0.0
            time.sleep(delay)
        if self.fail_next:
            self.fail_next -= 1
            return "failing on purpose", 500
        for event in events:
            messages = answer(event) if self.reply else []
            if messages:
                self.api.reply_message(
                    ReplyMessageRequest(reply_token=event.reply_token, messages=messages)
                )
        return "OK"

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
