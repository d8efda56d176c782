"""Resident-facing texts in polite, plain Japanese (やさしい日本語), kept in one place."""

from __future__ import annotations

from linebot.v3.messaging import TextMessage


def build_welcome(municipality_name: str) -> TextMessage:
    """The first message after a resident adds the account."""
    return TextMessage(
        text=(
            f"{municipality_name}の公式アカウントです。友だち追加ありがとうございます。\n"
            "あなたに関係のある補助金や助成のお知らせを、申し込みの期間に合わせてお届けします。"
        )
    )
