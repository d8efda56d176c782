"""Audience queries and `todoku audience`: exactly the registered residents a program concerns."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from pydantic import TypeAdapter
from sqlalchemy import insert, update

from bot.cli import audience_command
from bot.store.models import Resident, ResidentInterest
from bot.store.queries import (
    eligible_count,
    eligible_residents,
    stream,
    target_rules,
)
from segments.rules import Rule

RULE = TypeAdapter(Rule)
NOW = datetime(2026, 4, 1, tzinfo=UTC)
ON = date(2026, 11, 22)


def uid(n: int) -> str:
    return f"U{n:032x}"


def add(conn, n: int, birth: date | None, **state) -> int:
    """A registered resident (unless `state` says otherwise) born on `birth`."""
    row = {
        "line_user_id": uid(n),
        "following": True,
        "consented_at": NOW,
        "registered_at": NOW,
        "birth_date": birth,
        **state,
    }
    return conn.execute(insert(Resident).values(row).returning(Resident.id)).scalar_one()


def ids(conn, query) -> list[str]:
    return [u for _, u in conn.execute(query)]


def test_only_registered_following_unpaused_residents_are_eligible(engine):
    senior = RULE.validate_python({"age": {"min": 65}})
    with engine.begin() as conn:
        add(conn, 1, date(1950, 1, 1))
        add(conn, 2, date(1950, 1, 1), following=False)
        add(conn, 3, date(1950, 1, 1), consented_at=None)
        add(conn, 4, date(1950, 1, 1), registered_at=None)
        add(conn, 5, date(1950, 1, 1), notices_paused=True)
        add(conn, 6, date(1990, 1, 1))
        assert ids(conn, eligible_residents(senior, ON)) == [uid(1)]
        assert conn.scalar(eligible_count(senior, ON)) == 1


def test_a_program_without_a_rule_concerns_every_registered_resident(engine):
    with engine.begin() as conn:
        add(conn, 1, None)
        add(conn, 2, date(2000, 1, 1))
        add(conn, 3, None, following=False)
        assert ids(conn, eligible_residents(None, ON)) == [uid(1), uid(2)]


def test_a_campaign_audience_narrows_the_program(engine):
    program = RULE.validate_python({"age": {"min": 65}})
    audience = RULE.validate_python({"interest": ["高齢者"]})
    with engine.begin() as conn:
        interested = add(conn, 1, date(1950, 1, 1))
        add(conn, 2, date(1950, 1, 1))
        young = add(conn, 3, date(1990, 1, 1))
        conn.execute(
            insert(ResidentInterest),
            [
                {"resident_id": interested, "topic": "高齢者"},
                {"resident_id": young, "topic": "高齢者"},
            ],
        )
        assert ids(conn, eligible_residents([program, audience], ON)) == [uid(1)]


def test_stream_yields_the_audience_in_chunks(engine):
    with engine.begin() as conn:
        for n in range(1, 8):
            add(conn, n, None)
    with engine.connect() as conn:
        chunks = list(stream(conn, eligible_residents(None, ON), chunk=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [u for c in chunks for _, u in c] == [uid(n) for n in range(1, 8)]


def test_target_rules_of_a_campaign_are_the_programs_and_the_audience(wiring):
    config = wiring.config
    campaign = next(c for c in config.campaigns if c.audience is not None)
    program = next(p for p in config.programs if p.id == campaign.program)
    assert target_rules(config, campaign.id) == [program.eligible, campaign.audience]
    assert target_rules(config, program.id) == [program.eligible]


def test_audience_json_lists_the_matching_line_user_ids(wiring, engine, capsys):
    with engine.begin() as conn:
        add(conn, 1, date(1950, 1, 1))
        add(conn, 2, date(1990, 1, 1))
        add(conn, 3, date(1961, 11, 23))  # 65 on 2026-11-22: the day before the birthday
    assert audience_command(wiring, "senior-smartphone", ON, as_json=True) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {
        "target": "senior-smartphone",
        "on": "2026-11-22",
        "count": 2,
        "line_user_ids": [uid(1), uid(3)],
    }
    assert out.startswith('{"target": "senior-smartphone", "on": "2026-11-22", "count": 2,')


def test_audience_json_of_nobody_is_an_empty_list(wiring, capsys):
    assert audience_command(wiring, "senior-smartphone", ON, as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["line_user_ids"] == []


def test_audience_prints_the_count_then_one_id_per_line(wiring, engine, capsys):
    with engine.begin() as conn:
        add(conn, 1, date(1950, 1, 1))
        conn.execute(update(Resident).values(district="楯岡"))
    assert audience_command(wiring, "senior-smartphone", ON, as_json=False) == 0
    assert capsys.readouterr().out == f"senior-smartphone: 1 residents on 2026-11-22\n{uid(1)}\n"


def test_an_unknown_target_lists_the_valid_ids_and_exits_1(wiring, capsys):
    assert audience_command(wiring, "senior-smartfone", ON, as_json=True) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unknown program or campaign 'senior-smartfone'" in captured.err
    assert "senior-smartphone" in captured.err and "senior-smartphone-2026" in captured.err
