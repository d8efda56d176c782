"""Shared pieces of the configuration tests: a small valid configuration and helpers."""

from __future__ import annotations

from pathlib import Path

from bot.config import Problem, check_config

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "config"
KAHOKU = Path(__file__).parent / "fixtures" / "kahoku"

MUNICIPALITY = """\
municipality:
  name: 村山市
  homepage: https://www.city.murayama.lg.jp/
  link_hosts: [www.city.murayama.lg.jp, logoform.jp]
  districts: [楯岡, 西郷, 大久保]
  topics: [子育て, 高齢者]
delivery:
  window: "08:00-20:00"
  send_time: "10:00"
  max_per_week: 3
"""

PROGRAMS = """\
programs:
  - id: senior-smartphone
    name: シニア世代スマホスタート応援補助金
    summary: 65歳以上の方のスマートフォン購入費を補助します。
    topic: 高齢者
    homepage: https://www.city.murayama.lg.jp/senior.html
    apply_url: https://logoform.jp/form/murayama/1
    period: {opens: 2026-04-01, closes: 2027-02-26}
    eligible:
      age: {min: 65}
  - id: kosodate-ouen
    name: 子育て応援給付金
    summary: 18歳までのお子さんを育てている世帯に給付金をお支払いします。
    topic: 子育て
    homepage: https://www.city.murayama.lg.jp/kosodate.html
    period: {opens: 2026-07-01, closes: 2027-01-29}
    eligible:
      child: {age: {max: 17}}
"""

CAMPAIGNS = """\
campaigns:
  - id: senior-smartphone-2026
    program: senior-smartphone
    audience: {interest: [高齢者]}
    send:
      - at: 2026-05-01 10:00
      - before_close: 7d
    lead: 申請期限が近づいています。
  - id: kosodate-ouen-2026
    program: kosodate-ouen
    send:
      - after_open: 0d
"""


def edit(text: str, old: str, new: str) -> str:
    """`text` with the one occurrence of `old` replaced by `new`."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """The 1-based number of the first line of `text` containing `fragment`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in text")


def only_problem(folder: Path) -> Problem:
    """The single problem the folder has (fails if there are none or several)."""
    problems = check_config(folder)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]
