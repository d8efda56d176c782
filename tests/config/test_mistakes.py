"""Each mistake staff can make is reported with its file, line, key and what would be valid."""

from __future__ import annotations

import pytest

from bot.cli import config_check_command
from bot.config import ConfigError, check_config, load_config
from tests.config.helpers import (
    CAMPAIGNS,
    MUNICIPALITY,
    PROGRAMS,
    edit,
    line_of,
    only_problem,
)

ELIGIBLE_AGE = "      age: {min: 65}"


def test_the_small_valid_configuration_has_no_problems(write_config):
    """The base every other test here breaks in one place is itself valid."""
    assert check_config(write_config()) == []


def test_the_check_command_prints_every_problem_to_stderr_and_exits_1(write_config, capsys):
    """`todoku config check` on a broken folder: the compiler-style report, exit code 1."""
    programs = edit(PROGRAMS, "closes: 2027-02-26", "closes: 2026-03-01")
    folder = write_config(programs=programs)
    assert config_check_command(str(folder)) == 1
    out, err = capsys.readouterr()
    line = line_of(programs, "closes: 2026-03-01")
    assert out == ""
    assert err.splitlines() == [
        f"{folder}/programs.yaml:{line}: programs[0].period.closes: closes (2026-03-01) is "
        "before opens (2026-04-01); closes must be on or after opens",
        "1 problem in the configuration",
    ]


def test_load_config_raises_config_error_carrying_the_problems(write_config):
    """A process handed a broken folder gets every problem in the exception."""
    folder = write_config(programs=edit(PROGRAMS, "topic: 高齢者", "topic: 福祉"))
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert [p.key for p in caught.value.problems] == ["programs[0].topic"]
    assert "programs[0].topic: unknown topic '福祉'" in str(caught.value)


def test_an_unknown_district_in_a_rule(write_config):
    """A district that is not in municipality.districts is named, with the valid ones."""
    programs = edit(PROGRAMS, ELIGIBLE_AGE, "      district: [楯岡, 天童]")
    problem = only_problem(write_config(programs=programs))
    assert problem.file.endswith("programs.yaml")
    assert problem.line == line_of(programs, "district: [楯岡, 天童]")
    assert problem.key == "programs[0].eligible.district[1]"
    assert problem.message == "unknown district '天童'"
    assert problem.expected == "valid: 楯岡, 西郷, 大久保"


def test_an_unknown_topic_as_a_program_topic(write_config):
    """program.topic must be one of municipality.topics."""
    programs = edit(PROGRAMS, "topic: 子育て", "topic: 子育て支援")
    problem = only_problem(write_config(programs=programs))
    assert (problem.line, problem.key) == (line_of(programs, "子育て支援"), "programs[1].topic")
    assert problem.message == "unknown topic '子育て支援'"
    assert problem.expected == "valid: 子育て, 高齢者"


def test_an_unknown_topic_in_a_campaign_audience(write_config):
    """Rules in campaigns.yaml are checked against the municipality too."""
    campaigns = edit(CAMPAIGNS, "interest: [高齢者]", "interest: [シニア]")
    problem = only_problem(write_config(campaigns=campaigns))
    assert problem.file.endswith("campaigns.yaml")
    assert problem.line == line_of(campaigns, "interest: [シニア]")
    assert problem.key == "campaigns[0].audience.interest[0]"
    assert problem.message == "unknown topic 'シニア'"


def test_an_unknown_program_id_in_a_campaign(write_config):
    """A campaign must name a program id that programs.yaml defines; a near miss is guessed."""
    campaigns = edit(CAMPAIGNS, "program: senior-smartphone", "program: senior-smartfone")
    problem = only_problem(write_config(campaigns=campaigns))
    assert (problem.line, problem.key) == (line_of(campaigns, "smartfone"), "campaigns[0].program")
    assert problem.message == "unknown program 'senior-smartfone'"
    assert problem.expected == "did you mean 'senior-smartphone'?"


def test_closes_before_opens(write_config):
    """A period that ends before it starts."""
    programs = edit(PROGRAMS, "closes: 2027-01-29", "closes: 2026-06-30")
    problem = only_problem(write_config(programs=programs))
    assert (problem.line, problem.key) == (
        line_of(programs, "2026-06-30"),
        "programs[1].period.closes",
    )
    assert problem.message == "closes (2026-06-30) is before opens (2026-07-01)"
    assert problem.expected == "closes must be on or after opens"


def test_a_url_that_is_not_https(write_config):
    """Every link in a notice must be https."""
    programs = edit(
        PROGRAMS,
        "https://www.city.murayama.lg.jp/kosodate.html",
        "http://www.city.murayama.lg.jp/kosodate.html",
    )
    problem = only_problem(write_config(programs=programs))
    assert (problem.line, problem.key) == (line_of(programs, "http://"), "programs[1].homepage")
    assert "is not an https URL" in problem.message


def test_a_url_on_a_host_not_in_link_hosts(write_config):
    """Links may only point at hosts the municipality listed (HP, LoGoフォーム)."""
    programs = edit(PROGRAMS, "https://logoform.jp/form/murayama/1", "https://forms.example.com/1")
    problem = only_problem(write_config(programs=programs))
    assert (problem.line, problem.key) == (
        line_of(programs, "example.com"),
        "programs[0].apply_url",
    )
    assert problem.message == "host 'forms.example.com' is not in municipality.link_hosts"
    assert "www.city.murayama.lg.jp, logoform.jp" in problem.expected


def test_an_age_with_min_above_max(write_config):
    """age: {min: 70, max: 60} can never hold."""
    programs = edit(PROGRAMS, ELIGIBLE_AGE, "      age: {min: 70, max: 60}")
    problem = only_problem(write_config(programs=programs))
    assert (problem.line, problem.key) == (line_of(programs, "max: 60"), "programs[0].eligible.age")
    assert problem.message == "min (70) is greater than max (60)"
    assert problem.expected == "use min <= max"


@pytest.mark.parametrize(
    ("rule", "count"), [("{}", "0: none"), ("{age: {min: 65}, pregnant: true}", "2: age, pregnant")]
)
def test_a_rule_with_zero_or_two_keys(write_config, rule, count):
    """A rule is one mapping with exactly one key."""
    programs = edit(PROGRAMS, "    eligible:\n" + ELIGIBLE_AGE, f"    eligible: {rule}")
    problem = only_problem(write_config(programs=programs))
    assert (problem.line, problem.key) == (line_of(programs, "eligible: "), "programs[0].eligible")
    assert problem.message.startswith("a rule has exactly one key, one of: all, any, not, age")
    assert problem.expected == f"got {count}"


def test_a_duplicate_program_id(write_config):
    """Two programs with one id: the second is flagged, pointing at the first."""
    programs = edit(PROGRAMS, "- id: kosodate-ouen", "- id: senior-smartphone")
    campaigns = edit(CAMPAIGNS, "program: kosodate-ouen", "program: senior-smartphone")
    problem = only_problem(write_config(programs=programs, campaigns=campaigns))
    assert problem.key == "programs[1].id"
    assert problem.line == line_of(PROGRAMS, "- id: kosodate-ouen")
    assert problem.message == "duplicate id 'senior-smartphone' (also programs[0], line 2)"


def test_a_duplicate_campaign_id(write_config):
    """Campaign ids are unique too."""
    campaigns = edit(CAMPAIGNS, "- id: kosodate-ouen-2026", "- id: senior-smartphone-2026")
    problem = only_problem(write_config(campaigns=campaigns))
    assert (problem.key, problem.line) == (
        "campaigns[1].id",
        line_of(CAMPAIGNS, "kosodate-ouen-2026"),
    )
    assert problem.message.startswith("duplicate id 'senior-smartphone-2026'")


def test_a_send_slot_outside_the_programs_period(write_config):
    """before_close: 400d would fall before the period opens."""
    campaigns = edit(CAMPAIGNS, "before_close: 7d", "before_close: 400d")
    problem = only_problem(write_config(campaigns=campaigns))
    assert (problem.line, problem.key) == (line_of(campaigns, "400d"), "campaigns[0].send[1]")
    assert problem.message == (
        "send slot falls on 2026-01-22 10:00, outside the application "
        "period of 'senior-smartphone' (2026-04-01 to 2027-02-26)"
    )


def test_a_slot_moved_past_the_window_can_leave_the_period(write_config):
    """21:00 on the closing day moves to 08:00 the next day, after the period."""
    campaigns = edit(CAMPAIGNS, "- before_close: 7d", "- at: 2027-02-26 21:00")
    problem = only_problem(write_config(campaigns=campaigns))
    assert problem.key == "campaigns[0].send[1]"
    assert "falls on 2027-02-27 08:00" in problem.message


def test_a_missing_file(write_config):
    """A missing file is one problem naming the file, with no line."""
    problem = only_problem(write_config(campaigns=None))
    assert problem.file.endswith("campaigns.yaml")
    assert (problem.line, problem.key, problem.message) == (None, "", "file is missing")
    assert str(problem) == f"{problem.file}: file is missing; create campaigns.yaml"


def test_an_unknown_key_is_a_typo_with_a_suggestion(write_config):
    """`eligble` is not silently ignored (which would send to everyone)."""
    programs = edit(PROGRAMS, "    eligible:\n" + ELIGIBLE_AGE, "    eligble:\n" + ELIGIBLE_AGE)
    problem = only_problem(write_config(programs=programs))
    assert (problem.line, problem.key) == (line_of(programs, "eligble"), "programs[0].eligble")
    assert problem.message == "unknown key 'eligble'"
    assert problem.expected.startswith("did you mean 'eligible'? valid keys: id, name, summary")


def test_an_unknown_key_inside_municipality(write_config):
    """Nested sections list their own valid keys."""
    municipality = edit(MUNICIPALITY, "max_per_week: 3", "max_per_weak: 3")
    problem = only_problem(write_config(municipality=municipality))
    assert problem.key == "delivery.max_per_weak"
    assert (
        problem.expected
        == "did you mean 'max_per_week'? valid keys: window, send_time, max_per_week"
    )


def test_a_missing_required_key(write_config):
    """A program without a name: the key is named, the line is the program's."""
    programs = edit(PROGRAMS, "    name: 子育て応援給付金\n", "")
    problem = only_problem(write_config(programs=programs))
    assert (problem.key, problem.line) == ("programs[1].name", line_of(programs, "- id: kosodate"))
    assert problem.message == "required key 'name' is missing"


def test_a_yaml_syntax_error_is_a_problem_with_a_line(write_config):
    """Broken YAML gives file and line, not a traceback."""
    programs = edit(PROGRAMS, "    topic: 子育て", "    topic: [子育て")
    problem = only_problem(write_config(programs=programs))
    assert problem.file.endswith("programs.yaml")
    assert problem.message.startswith("YAML syntax error")
    assert line_of(programs, "[子育て") <= problem.line <= line_of(programs, "[子育て") + 2


def test_a_duplicate_yaml_key_is_not_silently_dropped(write_config):
    """PyYAML keeps the last of two equal keys; we report the second."""
    programs = edit(PROGRAMS, "    topic: 子育て\n", "    topic: 子育て\n    topic: 高齢者\n")
    problem = only_problem(write_config(programs=programs))
    assert (problem.key, problem.line) == (
        "programs[1].topic",
        line_of(programs, "topic: 子育て") + 1,
    )
    first = line_of(programs, "topic: 子育て")
    assert problem.message == f"duplicate key 'topic' (first on line {first})"


def test_a_bad_id_a_bad_window_and_bad_days(write_config):
    """Ids, the window and relative slots say how to write them."""
    municipality = edit(MUNICIPALITY, '"08:00-20:00"', '"20:00-08:00"')
    programs = edit(PROGRAMS, "id: kosodate-ouen", "id: Kosodate_Ouen")
    campaigns = edit(CAMPAIGNS, "before_close: 7d", "before_close: 1 week")
    messages = [p.message for p in check_config(write_config(municipality, programs, campaigns))]
    assert messages[0] == "'20:00-08:00' is not a time window"
    assert messages[1] == "id 'Kosodate_Ouen' may only use a-z, 0-9 and '-'"
    assert "'1 week' is not a number of days" in messages


def test_five_mistakes_in_one_file_are_five_problems_in_line_order(write_config):
    """Every problem is reported at once, not only the first."""
    programs = PROGRAMS
    for old, new in [
        ("topic: 高齢者", "topic: 福祉"),
        ("https://logoform.jp", "http://logoform.jp"),
        (ELIGIBLE_AGE, "      age: {min: 9, max: 1}"),
        ("id: kosodate-ouen", "id: X"),
        ("closes: 2027-01-29", "closes: 2026-01-29"),
    ]:
        programs = edit(programs, old, new)
    campaigns = edit(CAMPAIGNS, "program: kosodate-ouen", "program: X")
    problems = check_config(write_config(programs=programs, campaigns=campaigns))
    assert [p.key for p in problems] == [
        "programs[0].topic",
        "programs[0].apply_url",
        "programs[0].eligible.age",
        "programs[1].id",
        "programs[1].period.closes",
    ]
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_mistakes_in_all_three_files_are_reported_together(write_config):
    """A broken municipality.yaml does not hide mistakes in the other files."""
    municipality = edit(MUNICIPALITY, "max_per_week: 3", "max_per_week: many")
    programs = edit(PROGRAMS, ELIGIBLE_AGE, "      district: [天童]")
    campaigns = edit(CAMPAIGNS, "program: kosodate-ouen", "program: nothing")
    problems = check_config(write_config(municipality, programs, campaigns))
    assert [(p.file.rsplit("/", 1)[1], p.key) for p in problems] == [
        ("municipality.yaml", "delivery.max_per_week"),
        ("programs.yaml", "programs[0].eligible.district[0]"),
        ("campaigns.yaml", "campaigns[1].program"),
    ]


def test_unquoted_times_and_the_on_key_read_as_staff_mean_them(write_config):
    """YAML 1.1 reads 10:00 as 600 and `on` as true; the loader reads the text instead."""
    municipality = edit(MUNICIPALITY, 'send_time: "10:00"', "send_time: 10:00")
    programs = edit(PROGRAMS, ELIGIBLE_AGE, "      age: {min: 65, on: 2027-04-01}")
    config = load_config(write_config(municipality=municipality, programs=programs))
    assert config.delivery.send_time.isoformat() == "10:00:00"
    assert config.program("senior-smartphone").eligible.on.isoformat() == "2027-04-01"


def test_the_json_report(write_config, capsys):
    """`--json` prints one JSON document with every problem's parts."""
    import json

    folder = write_config(campaigns=None)
    assert config_check_command(str(folder), as_json=True) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["problems"] == [
        {
            "file": f"{folder}/campaigns.yaml",
            "line": None,
            "key": "",
            "message": "file is missing",
            "expected": "create campaigns.yaml",
        }
    ]


def test_an_empty_rule_is_not_read_as_everyone(write_config):
    """`eligible:` with nothing under it is a half-finished edit, not "every resident"."""
    programs = edit(PROGRAMS, "    eligible:\n" + ELIGIBLE_AGE, "    eligible:")
    problem = only_problem(write_config(programs=programs))
    assert (problem.key, problem.line) == ("programs[0].eligible", line_of(programs, "eligible:"))
    assert problem.message == "the rule is empty"
