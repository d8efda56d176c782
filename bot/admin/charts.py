"""The dashboard's monthly charts as server-side SVG (pygal): the browser needs no script.

Each chart comes in two sizes: desktop, and phone (drawn narrow with large text, so the
labels stay legible when a 390 px screen shows it at its own width). Targets are drawn
as a dashed line; the y axis has commas and starts at zero.
"""

from __future__ import annotations

import pygal
from pygal.style import Style

FONT = '"Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif'
# Blue and orange stay apart for the common colour-vision deficiencies; the target is grey.
COLORS = ("#1f5fa8", "#e07b00", "#555555")
TARGET_STROKE = {"width": 2, "dasharray": "8, 5"}


def _style(phone: bool) -> Style:
    big = 20 if phone else 14
    return Style(
        font_family=FONT,
        background="white",
        plot_background="white",
        foreground="#222",
        foreground_strong="#111",
        foreground_subtle="#888",
        colors=COLORS,
        label_font_size=big,
        major_label_font_size=big,
        legend_font_size=big,
        title_font_size=big + 2,
        value_font_size=big - 2,
        guide_stroke_color="#ccc",
        major_guide_stroke_color="#bbb",
    )


def _options(title: str, phone: bool) -> dict:
    # js=[]: no script from the internet (the office browser has none, and the CSP forbids it).
    return {
        "title": title,
        "style": _style(phone),
        "js": [],
        # Phone: 480 wide is shown at ~360 px, so 20 px text stays ~15 px on screen.
        "width": 480 if phone else 760,
        "height": 420 if phone else 340,
        "explicit_size": True,  # width/height in the SVG: its natural size for the browser
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 1 if phone else 3,
        "show_minor_y_labels": False,
        "include_x_axis": True,  # the axis starts at zero: bars are not exaggerated
        "min_scale": 4,
        "max_scale": 6 if phone else 8,
        "value_formatter": lambda v: f"{v:,.0f}",
        "y_labels_major_every": None,
        "truncate_legend": -1,
        "truncate_label": -1,  # 10月 stays 10月, not 1…
        "print_values": False,
        "show_x_guides": False,
    }


def _labels(d, phone: bool) -> list[str]:
    # On a phone every other month is named (4月, 6月, …) so the labels do not overlap.
    return [
        f"{m.first_day.month}月" if not phone or i % 2 == 0 else "" for i, m in enumerate(d.months)
    ]


def _y_axis(chart, values: list[int | None], target: int | None) -> None:
    # Five or six round steps from zero to above the highest value or the target.
    top = max([v for v in values if v is not None] + [target or 0, 4])
    step = 10 ** (len(str(int(top))) - 1)
    for factor in (1, 2, 5, 10):
        if top / (step * factor) <= 6:
            step *= factor
            break
    chart.y_labels = list(range(0, int(top) + step, step))
    chart.range = (0, chart.y_labels[-1])
    chart.show_minor_y_labels = True  # every step labelled, not only the "major" ones


def _target_line(chart, label: str, value: int | None, count: int) -> None:
    if value:
        chart.add(
            label,
            [value] * count,
            stroke_style=TARGET_STROKE,
            show_dots=False,
            fill=False,
            allow_interruptions=False,
        )


def registrations_chart(d, phone: bool = False) -> bytes:
    """Cumulative registrations at each month's end, with the plan's target."""
    title = f"{d.fiscal_year}年度 登録者数（月末の累計）"
    chart = pygal.Line(**_options(title, phone), dots_size=4)
    chart.x_labels = _labels(d, phone)
    values = [m.registrations_cumulative for m in d.months]
    chart.add("登録者数", values)
    target = d.registrations.target if d.registrations else None
    _y_axis(chart, values, target)
    _target_line(chart, f"目標 {target:,} 人" if target else "", target, len(d.months))
    return chart.render()


def visitors_chart(d, phone: bool = False) -> bytes:
    """The city website's visitors per month (entered), the target, and visits via LINE."""
    title = f"{d.fiscal_year}年度 HP訪問者数（月別・人）"
    chart = pygal.Line(**_options(title, phone), dots_size=4)
    chart.x_labels = _labels(d, phone)
    chart.add("HP訪問者数（アクセス解析）", [m.visitors for m in d.months])
    chart.add("うちLINEの通知から（回）", [m.homepage for m in d.months])
    target = d.visits_target
    _y_axis(chart, [m.visitors for m in d.months] + [m.homepage for m in d.months], target)
    _target_line(chart, f"目標 月{target:,} 人" if target else "", target, len(d.months))
    return chart.render()


def clicks_chart(d, phone: bool = False) -> bytes:
    """Taps on notices' links per month: to the homepage and to the application form."""
    chart = pygal.Bar(**_options(f"{d.fiscal_year}年度 通知からのクリック（月別・回）", phone))
    chart.x_labels = _labels(d, phone)
    chart.add("HP訪問", [m.homepage for m in d.months])
    chart.add("申込フォーム", [m.apply for m in d.months])
    _y_axis(chart, [m.homepage for m in d.months] + [m.apply for m in d.months], None)
    return chart.render()
