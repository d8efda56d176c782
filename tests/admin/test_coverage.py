"""population.csv: coverage by district and age band, least reached first; config check."""

from __future__ import annotations

import shutil

import pytest

from bot.cli import config_check_command
from tests.admin import scenario
from tests.admin.scenario import table_rows
from tests.conftest import SAMPLE_CONFIG

GOOD = """district,ages,residents
楯岡,0-14,400
楯岡,15-64,3000
楯岡,65-,1600
西郷,0-14,100
西郷,15-64,900
西郷,65-,600
大久保,15-64,800
"""


@pytest.fixture
def config_dir(tmp_path):
    """A copy of the sample configuration to add population.csv to."""
    folder = tmp_path / "config"
    shutil.copytree(SAMPLE_CONFIG, folder)
    return folder


def test_config_check_accepts_a_good_file_and_names_every_problem(config_dir, capsys):
    """Unknown district, overlapping bands, a bad number: each reported with its line."""
    (config_dir / "population.csv").write_text("\ufeff" + GOOD, encoding="utf-8")
    assert config_check_command(str(config_dir)) == 0
    assert "population.csv: 7 figures" in capsys.readouterr().out
    bad = GOOD + "山形,0-14,5\n楯岡,60-70,10\n西郷,75-,many\n"
    (config_dir / "population.csv").write_text(bad, encoding="utf-8")
    assert config_check_command(str(config_dir)) == 1
    err = capsys.readouterr().err
    assert "population.csv:9: district: unknown district '山形'" in err
    assert "bands 15〜64歳 and 60〜70歳 overlap" in err or "overlap" in err
    assert "population.csv:11: residents: 'many' is not a whole number" in err


def test_coverage_by_district_and_band_least_reached_first(engine, clock, rows, config_dir):
    """楯岡 12 of 5,000 (0.2%), 西郷 3 (10未満, no rate), 大久保 0 of 800; bands by age."""
    from bot.app import create_app
    from bot.wiring import wire
    from tests.admin.conftest import log_in
    from tests.conftest import make_settings

    (config_dir / "population.csv").write_text(GOOD, encoding="utf-8")
    url = engine.url.render_as_string(hide_password=False)
    wiring = wire(make_settings(url, config_dir=config_dir), clock=clock, engine=engine)
    from bot.admin.staff import create_staff

    create_staff(wiring.session_factory, "広報", "a-long-password-1", clock.now(), "viewer")
    with rows as r:
        scenario.build(r)
    client = create_app(wiring=wiring).test_client()
    log_in(client, "広報", "a-long-password-1")
    page = client.get("/admin/").get_data(as_text=True)
    districts = table_rows(page, 'id="districts"')[1:]
    assert districts[:3] == [
        ["大久保", "0", "800", "0.0%"],
        ["西郷", "10未満", "1,600", "—"],
        ["楯岡", "12", "5,000", "0.2%"],
    ]
    assert [row[0] for row in districts[3:]] == ["冨本", "大倉", "富並", "戸沢", "袖崎", "未回答"]
    assert all(row[2] == "—" for row in districts[3:])
    # The scenario's residents have no birth dates: every band reads 0.
    bands = table_rows(page, 'id="bands"')[1:]
    assert [row[0] for row in bands] == ["0〜14歳", "15〜64歳", "65歳以上"]
    assert [row[2] for row in bands] == ["500", "4,700", "2,200"]
