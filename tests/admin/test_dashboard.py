"""The KPI page shows the figures of the rows in the database, with small counts hidden."""

from __future__ import annotations

import json

import pytest

from tests.admin import scenario
from tests.admin.scenario import table_rows, text_of


@pytest.fixture
def page(staff_client, rows) -> str:
    """The KPI page after one fiscal year of activity (see scenario.build)."""
    with rows as r:
        scenario.build(r)
    response = staff_client.get("/admin/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_registrations_against_the_target_with_the_pace_needed(page):
    """16 of 5,500 by 2027年3月31日: about 1,294 more a month from today."""
    card = text_of(page, 'id="kpi-registrations"', "</article>")
    assert f"{scenario.REGISTRATIONS} 人 ／ 目標 5,500 人" in card
    assert "期限 2027年3月31日" in card
    assert "目標まであと 5,484 人" in card
    assert f"1か月あたり約 {scenario.PACE}" in card
    assert '<progress max="5500" value="16"' in page


def test_programs_distributed_lists_the_programs(page):
    """Two programs reached residents this fiscal year, named with their first day."""
    card = text_of(page, 'id="kpi-programs"', "</article>")
    assert "2 制度 ／ 目標 10 制度" in card
    assert "子育て応援給付金（初回 2026年10月1日 10:00）" in card
    assert "妊婦健康診査費助成・出産応援給付金（初回 2026年10月1日 10:00）" in card


def test_homepage_visits_from_notices_this_month_and_last(page):
    """30 taps to the HP in November so far, 12 in October; labelled as visits via notices."""
    card = text_of(page, 'id="kpi-visits"', "</article>")
    assert "30 回 （11月、22日まで） ／ 目標 月 5,000 人" in card
    assert "先月（10月）: 12 回" in card
    assert "ホームページ全体の訪問者数（アクセス解析の数字）ではありません" in card


def test_followers_blocks_and_deletions(page):
    """Followers now; blocks and deletions this fiscal year and in all."""
    card = text_of(page, 'id="kpi-followers"', "</article>")
    assert f"友だち数 {scenario.FOLLOWERS} 人" in card
    assert "ブロック 今年度 2 件（累計 2 件）" in card
    assert "削除 今年度 1 件（累計 1 件）" in card


def test_monthly_table_counts_by_japanese_months(page):
    """A follow at 00:00 on 1 April counts in April, one a minute earlier does not."""
    months = {row[0]: row[1:] for row in table_rows(page, 'id="months"')[1:]}
    assert len(months) == 12
    assert months["2026年4月"] == ["1", "0", "0", "0", "0", "0", "0", "0", "1"]
    assert months["2026年5月"] == ["4", "0", "0", "0", "0", "0", "0", "0", "13"]
    assert months["2026年10月"] == ["0", "0", "0", "0", "65", "2", "12", "0", "13"]
    assert months["2026年11月"] == ["0", "0", "3", "0", "5", "2", "30", "4", "16"]
    assert months["2027年3月"] == ["—"] * 9


def test_counts_from_1_to_9_by_district_or_campaign_show_as_under_10(page):
    """西郷 has 3 residents and one run sent 5: both read「10未満」; 0 and 12 are shown."""
    districts = dict(table_rows(page, 'id="districts"')[1:])
    assert districts == {"楯岡": "12", "西郷": "10未満", "未回答": "10未満"}
    kosodate = table_rows(page, 'id="campaign-kosodate-ouen-2026"')
    assert kosodate[0] == [
        "kosodate-ouen-2026 子育て応援給付金", "次回 2026年11月25日 12:00",
        "30", "10未満", "0", "12", "30", "10未満",
    ]  # fmt: skip
    assert kosodate[1] == [
        "2026年10月1日 10:00", "完了", "25", "10未満", "0", "12", "30", "10未満",
    ]  # fmt: skip
    assert kosodate[2][2] == "10未満"
    ninpu = table_rows(page, 'id="campaign-ninpu-shussan-2026"')
    assert ninpu[1][2:] == ["40", "0", "0", "0", "12", "0"]


def test_charts_are_svg_images_with_a_table_alternative(page, staff_client):
    """Two <img> charts whose alt text points at the table; each is an SVG without script."""
    assert page.count('src="/admin/charts/') == 2
    assert "数字は下の表「月別の数字」にあります" in page
    for name in ("registrations", "clicks"):
        response = staff_client.get(f"/admin/charts/{name}.svg")
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert "script-src" not in response.headers["Content-Security-Policy"]
        svg = response.get_data(as_text=True)
        assert "<svg" in svg and "2026年度" in svg
    assert staff_client.get("/admin/charts/other.svg").status_code == 404


def test_todoku_kpi_json_prints_the_figures_of_the_page(page, wiring, capsys):
    """`todoku kpi --json` and the page agree on registrations, programs and HP visits."""
    from bot.kpi import kpi_command

    capsys.readouterr()
    assert kpi_command(wiring, as_json=True) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["registrations"] == scenario.REGISTRATIONS
    assert figures["followers"] == scenario.FOLLOWERS
    assert figures["programs_distributed"] == 2
    assert figures["homepage_visits_this_month"] == 30
    assert figures["homepage_visits_per_month_target"] == 5000


def test_an_empty_database_shows_zeros(staff_client):
    """Before any resident: the page still opens and says nothing was sent yet."""
    page = staff_client.get("/admin/").get_data(as_text=True)
    assert "0 人 ／ 目標 5,500 人" in text_of(page, 'id="kpi-registrations"', "</article>")
    assert "今年度はまだ配信していません" in page
    assert "まだ登録者がいません" in page
