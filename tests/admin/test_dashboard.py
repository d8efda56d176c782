"""The KPI page shows the figures of the rows in the database, with small counts hidden."""

from __future__ import annotations

import json

import pytest

from tests.admin import scenario
from tests.admin.scenario import send_one_deferred, table_rows, text_of


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
    """No visitor figure entered yet: 未入力 against the target; 30 taps from LINE so far."""
    card = text_of(page, 'id="kpi-visits"', "</article>")
    assert "未入力 ／ 目標 月 5,000 人" in card
    assert "LINEの通知から（11月、22日まで）: 30 回" in card


def test_entered_visitors_show_against_the_target_with_the_line_share(staff_client, rows, wiring):
    """An entry for October: 4,321 of 5,000 (86%); 12 of them came from notices (0.3%)."""
    from bot.kpi import record_homepage_visits
    from tests.conftest import DEFAULT_NOW

    with rows as r:
        scenario.build(r)
    record_homepage_visits(
        wiring.session_factory, scenario.at("2026-10-01 00:00").date(), 4321, DEFAULT_NOW, "test"
    )
    page = staff_client.get("/admin/").get_data(as_text=True)
    card = text_of(page, 'id="kpi-visits"', "</article>")
    assert "4,321 人 （2026年10月） ／ 目標 月 5,000 人" in card
    assert "達成率 86%" in card
    assert "うちLINEの通知から 12 回 （0.3%）" in card
    months = {row[0]: row[1:] for row in table_rows(page, 'id="months"')[1:]}
    assert months["2026年10月"][-1] == "4,321" and months["2026年11月"][-1] == "—"


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
    assert months["2026年4月"] == ["1", "0", "0", "0", "0", "0", "0", "0", "1", "—"]
    assert months["2026年5月"] == ["4", "0", "0", "0", "0", "0", "0", "0", "13", "—"]
    assert months["2026年10月"] == ["0", "0", "0", "0", "65", "2", "12", "0", "13", "—"]
    assert months["2026年11月"] == ["0", "0", "3", "0", "5", "2", "30", "4", "16", "—"]
    assert months["2027年3月"] == ["—"] * 10


def test_counts_from_1_to_9_by_district_or_campaign_show_as_under_10(page, staff_client):
    """西郷 has 3 residents and one run sent 5: both read「10未満」; 0 and 12 are shown.
    Every district of the configuration is listed, even at zero."""
    districts = dict(table_rows(page, 'id="districts"')[1:])
    assert districts["楯岡"] == "12" and districts["西郷"] == "10未満"
    assert districts["未回答"] == "10未満" and districts["富並"] == "0"
    assert len(districts) == 9  # 8 districts and 未回答
    results = staff_client.get("/admin/campaigns").get_data(as_text=True)
    kosodate = table_rows(results, 'id="campaign-kosodate-ouen-2026"')
    assert kosodate[1][:4] == ["合計（2回）", "", "30", "30 100.0%"]
    assert kosodate[1][4] == "10未満 —"  # 4 form taps: hidden, and so is their rate
    assert kosodate[2][0] == "予定 2026年10月1日 10:00 実際 2026年10月1日 10:00"
    assert kosodate[2][1:4] == ["完了", "25", "30 120.0%"]
    ninpu = table_rows(results, 'id="campaign-ninpu-shussan-2026"')
    assert ninpu[2][2:5] == ["40", "12 30.0%", "0 0.0%"]
    assert "子育て応援給付金 （配信計画 kosodate-ouen-2026）" in text_of(
        results, 'id="title-kosodate-ouen-2026"', "</h2>"
    )


def test_charts_are_svg_images_with_a_table_alternative(page, staff_client):
    """Two <img> charts whose alt text points at the table; each is an SVG without script."""
    assert page.count('src="/admin/charts/') == 3
    assert page.count('srcset="/admin/charts/') == 3  # a narrow version for phones
    assert "数字は下の表「月別の数字」にあります" in page
    for name, size in [
        (n, s) for n in ("registrations", "visitors", "clicks") for s in ("", "phone")
    ]:
        response = staff_client.get(f"/admin/charts/{name}.svg?size={size}")
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert "script-src" not in response.headers["Content-Security-Policy"]
        svg = response.get_data(as_text=True)
        assert "<svg" in svg and "2026年度" in svg
        if name != "clicks":
            assert "目標" in svg and "stroke-dasharray" in svg  # the target line
    assert staff_client.get("/admin/charts/other.svg").status_code == 404


def test_todoku_kpi_json_prints_the_figures_of_the_page(page, wiring, capsys):
    """`todoku kpi --json` and the page agree on registrations, programs and HP visits."""
    from bot.cli import kpi_command

    capsys.readouterr()
    assert kpi_command(wiring, as_json=True) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["registrations"] == scenario.REGISTRATIONS
    assert figures["followers"] == scenario.FOLLOWERS
    assert figures["programs_distributed"] == 2
    assert figures["homepage_visits_this_month"] == 30
    assert figures["homepage_visits_per_month_target"] == 5000
    assert f"{figures['registrations']} 人" in text_of(page, 'id="kpi-registrations"', "</article>")
    assert f"{figures['followers']} 人" in text_of(page, 'id="followers"', "</dd>")
    assert f"{figures['programs_distributed']} 制度" in text_of(page, 'id="kpi-programs"', "</p>")
    line_visits = text_of(page, 'id="line-visits"', "</span>").split(">")[-1]
    assert line_visits == str(figures["homepage_visits_this_month"])


def test_an_empty_database_shows_zeros(staff_client):
    """Before any resident: the page still opens and says nothing was sent yet."""
    page = staff_client.get("/admin/").get_data(as_text=True)
    assert "0 人 ／ 目標 5,500 人" in text_of(page, 'id="kpi-registrations"', "</article>")
    assert "今年度はまだ配信していません" in page
    districts = dict(table_rows(page, 'id="districts"')[1:])
    assert set(districts.values()) == {"0"} and len(districts) == 8


def test_cached_figures_follow_every_change_of_the_deliveries(page, staff_client, wiring):
    """A deferred notice sent later: the next snapshot counts it (the per-process cache of
    delivery figures sees the change). Pages show the snapshot: see test_snapshot.py."""

    from bot.admin.snapshot import refresh

    def november_sent() -> str:
        html = staff_client.get("/admin/").get_data(as_text=True)
        return {row[0]: row[1:] for row in table_rows(html, 'id="months"')[1:]}["2026年11月"][4]

    assert november_sent() == "5"
    send_one_deferred(wiring)
    refresh(wiring)  # what the scheduler does every minute
    assert november_sent() == "6"
