"""Valid configurations load into typed models; send slots expand to concrete moments."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from bot.cli import config_check_command
from bot.config import TOKYO, check_config, load_config
from segments import rules
from tests.config.helpers import CAMPAIGNS, KAHOKU, MUNICIPALITY, SAMPLE, edit

TODAY = dt.date(2026, 11, 22)


def jst(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=TOKYO)


def rule_kinds(rule: object) -> set[str]:
    """The rule keys used anywhere inside `rule`."""
    kinds = {type(rule).KEY}
    if isinstance(rule, rules.AllRule | rules.AnyRule):
        for sub in rule.root:
            kinds |= rule_kinds(sub)
    if isinstance(rule, rules.NotRule):
        kinds |= rule_kinds(rule.root)
    return kinds


def test_the_sample_configuration_passes_the_check(capsys):
    """config/ (Murayama City) is valid, and the command says so on stdout."""
    assert check_config(SAMPLE) == []
    assert config_check_command(str(SAMPLE)) == 0
    out, err = capsys.readouterr()
    config = load_config(SAMPLE)
    slots = sum(len(config.slot_times(c)) for c in config.campaigns)
    counts = f"{len(config.programs)} programs, {len(config.campaigns)} campaigns"
    assert out.splitlines()[0] == f"OK: {counts}, {slots} send slots"
    assert "Questions (each asked only when" in out and "warning" not in out  # test_questions
    assert err == ""


def test_the_sample_is_murayama_with_the_plans_targets():
    """Districts, topics, delivery and the DX plan's KPI targets."""
    config = load_config(SAMPLE)
    assert config.municipality.name == "村山市"
    assert config.municipality.districts == [
        "楯岡",
        "西郷",
        "大久保",
        "冨本",
        "戸沢",
        "袖崎",
        "大倉",
        "富並",
    ]
    assert (config.delivery.send_time, config.delivery.max_per_week) == (dt.time(10), 3)
    assert config.kpi.registrations.target == 5500
    assert config.kpi.programs_distributed.target == 10
    assert config.kpi.homepage_visits_per_month == 5000


def test_the_sample_has_enough_programs_for_the_demo():
    """At least 12 programs, several open today, some opening or closing this winter."""
    config = load_config(SAMPLE)
    assert len(config.programs) >= 12
    assert sum(p.is_open(TODAY) for p in config.programs) >= 6
    winter = [
        p
        for p in config.programs
        if p.period.opens > TODAY or p.period.closes < dt.date(2027, 3, 31)
    ]
    assert len(winter) >= 4
    assert any(p.apply_url is None for p in config.programs), "some programs are counter-only"
    assert all(p.department and p.contact and "0237-55-2111" in p.contact for p in config.programs)
    assert all(config.campaigns_for(p.id) for p in config.programs), "every program has a campaign"


def test_the_sample_uses_every_kind_of_rule():
    """The sample shows staff each rule of the language at least once."""
    config = load_config(SAMPLE)
    used: set[str] = set()
    for rule in [p.eligible for p in config.programs] + [c.audience for c in config.campaigns]:
        if rule is not None:
            used |= rule_kinds(rule)
    assert used == set(rules.KEYS)


def test_the_school_entry_program_targets_next_aprils_first_graders():
    """小学校入学祝い金 uses the grade on 2027-04-01, not on the send day."""
    rule = load_config(SAMPLE).program("shougaku-nyugaku").eligible
    assert (rule.grade, rule.on) == (["小1"], dt.date(2027, 4, 1))


def test_a_different_municipality_with_its_own_names_passes():
    """Kahoku Town: other districts, topics, an always-open window and an unquoted 9:30."""
    config = load_config(KAHOKU)
    assert config.municipality.districts == ["谷地", "溝延", "西里", "北谷地"]
    assert config.delivery.window.always
    assert config.delivery.send_time == dt.time(9, 30)
    assert config.kpi.programs_distributed is None
    taxi = config.campaign("taxi-josei-2026")
    # 00:00-24:00: a 07:00 slot is not moved.
    assert config.slot_times(taxi) == [jst(2026, 4, 1, 9, 30), jst(2026, 12, 1, 7, 0)]


def test_lookups_by_id():
    """program() and campaign() find by id and raise KeyError for an unknown one."""
    config = load_config(SAMPLE)
    assert config.program("senior-smartphone").name == "シニア世代スマホスタート応援補助金"
    assert config.campaign("senior-smartphone-2026").program == "senior-smartphone"
    with pytest.raises(KeyError):
        config.program("nothing")
    with pytest.raises(KeyError):
        config.campaign("nothing")


def test_the_models_are_frozen():
    """A loaded configuration cannot be changed by accident."""
    program = load_config(SAMPLE).program("senior-smartphone")
    with pytest.raises(ValidationError):
        program.name = "x"


def test_relative_slots_fire_at_send_time_and_absolute_ones_as_written(write_config):
    """before_close 7d: 10:00 seven days before closes; at: as written, in Japan time."""
    config = load_config(write_config())
    campaign = config.campaign("senior-smartphone-2026")
    assert config.slot_times(campaign) == [jst(2026, 5, 1, 10, 0), jst(2027, 2, 19, 10, 0)]
    assert [p.is_reminder for p in config.planned_slots(campaign)] == [False, True]
    assert config.slot_times(config.campaign("kosodate-ouen-2026")) == [jst(2026, 7, 1, 10, 0)]
    assert all(t.utcoffset() == dt.timedelta(hours=9) for t in config.slot_times(campaign))


@pytest.mark.parametrize(
    ("written", "fires"),
    [
        ("2026-05-01 06:30", jst(2026, 5, 1, 8, 0)),  # before the window: later that morning
        ("2026-05-01 20:00", jst(2026, 5, 2, 8, 0)),  # the window's end is outside it
        ("2026-05-01 19:59", jst(2026, 5, 1, 19, 59)),  # inside: unchanged
    ],
)
def test_a_slot_outside_the_window_moves_to_the_next_moment_inside(write_config, written, fires):
    """Nobody is pushed at night: the slot waits for the window to open."""
    campaigns = edit(CAMPAIGNS, "at: 2026-05-01 10:00", f"at: {written}")
    config = load_config(write_config(campaigns=campaigns))
    assert config.slot_times(config.campaign("senior-smartphone-2026"))[0] == fires


def test_a_send_time_before_the_window_moves_relative_slots(write_config):
    """send_time 07:00 with window 08:00-20:00: relative slots fire at 08:00."""
    municipality = edit(MUNICIPALITY, 'send_time: "10:00"', 'send_time: "07:00"')
    config = load_config(write_config(municipality=municipality))
    assert config.slot_times(config.campaign("kosodate-ouen-2026")) == [jst(2026, 7, 1, 8, 0)]


def test_an_always_open_window_never_moves_a_slot(write_config):
    """ "00:00-24:00" means always: 23:30 stays 23:30."""
    municipality = edit(MUNICIPALITY, '"08:00-20:00"', '"00:00-24:00"')
    campaigns = edit(CAMPAIGNS, "at: 2026-05-01 10:00", "at: 2026-05-01 23:30")
    config = load_config(write_config(municipality=municipality, campaigns=campaigns))
    assert config.delivery.window.always
    assert config.slot_times(config.campaign("senior-smartphone-2026"))[0] == jst(
        2026, 5, 1, 23, 30
    )


def test_an_absolute_slot_with_an_offset_is_converted_to_japan_time(write_config):
    """A written UTC offset is honoured and the result is in Asia/Tokyo."""
    campaigns = edit(CAMPAIGNS, "at: 2026-05-01 10:00", 'at: "2026-05-01T01:00:00+00:00"')
    config = load_config(write_config(campaigns=campaigns))
    first = config.slot_times(config.campaign("senior-smartphone-2026"))[0]
    assert first == jst(2026, 5, 1, 10, 0)
    assert first.tzinfo == TOKYO
