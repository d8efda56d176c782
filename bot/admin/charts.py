"""The dashboard's monthly charts as server-side SVG (pygal): the browser needs no script."""

from __future__ import annotations

import pygal
from pygal.style import Style

from bot.admin.report import Month

FONT = '"Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif'
# Blue and orange stay apart for the common colour-vision deficiencies.
STYLE = Style(
    font_family=FONT,
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#666",
    colors=("#1f5fa8", "#e07b00"),
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=15,
    value_font_size=12,
)


def _options(title: str) -> dict:
    # js=[]: no script from the internet (the office browser has none, and the CSP forbids it).
    return {
        "title": title,
        "style": STYLE,
        "js": [],
        "width": 760,
        "height": 340,
        "legend_at_bottom": True,
        "show_minor_y_labels": False,
        "min_scale": 4,
        "max_scale": 8,
        "value_formatter": lambda v: f"{v:,.0f}",
    }


def _labels(months: list[Month]) -> list[str]:
    return [f"{m.first_day.month}月" for m in months]


def registrations_chart(months: list[Month], year: int) -> bytes:
    """Cumulative registrations at each month's end (months not yet begun are left empty)."""
    chart = pygal.Line(**_options(f"{year}年度 登録者数（月末時点の累計）"), dots_size=4)
    chart.x_labels = _labels(months)
    chart.add("登録者数", [m.registrations_cumulative for m in months])
    return chart.render()


def clicks_chart(months: list[Month], year: int) -> bytes:
    """Taps on notices' links per month: to the homepage and to the application form."""
    chart = pygal.Bar(**_options(f"{year}年度 通知からのクリック（月別）"))
    chart.x_labels = _labels(months)
    chart.add("HP訪問", [m.homepage for m in months])
    chart.add("申込フォーム", [m.apply for m in months])
    return chart.render()
