"""`todoku residents import`: JSON Lines in, registered residents out — or nothing at all."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from bot.config import load_config
from bot.models import Resident, ResidentChild, ResidentInterest
from bot.residents_import import BadResidentsFile, import_command, import_residents
from tests.conftest import SAMPLE_CONFIG


@pytest.fixture(scope="module")
def config():
    return load_config(SAMPLE_CONFIG)


def uid(n: int) -> str:
    return f"U{n:032x}"


def write(tmp_path, *lines) -> str:
    path = tmp_path / "residents.jsonl"
    path.write_text(
        "".join(
            (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines
        ),
        encoding="utf-8",
    )
    return str(path)


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_imported_residents_are_registered_with_their_answers(engine, tmp_path, config):
    path = write(
        tmp_path,
        {"line_user_id": uid(1), "birth_date": "1958-07-03", "district": "楯岡",
         "household_size": 2, "single_parent": False, "pregnant": False,
         "children": [{"birth_date": "2019-05-10"}], "interests": ["高齢者", "健康・福祉"]},
        {"line_user_id": uid(2)},
        {"line_user_id": uid(3), "children": None, "pregnant": None},
    )  # fmt: skip
    assert import_residents(engine, path, config) == 3
    with engine.connect() as conn:
        rows = conn.execute(select(Resident).order_by(Resident.line_user_id)).all()
        first, bare, skipped = rows
        assert (first.birth_date, first.district, first.household_size) == (
            date(1958, 7, 3),
            "楯岡",
            2,
        )
        assert first.following and first.consented_at and first.registered_at
        assert not first.notices_paused
        # Defaults from contracts.md: household of one, not pregnant, no children.
        assert (bare.birth_date, bare.district, bare.household_size) == (None, None, 1)
        assert (bare.pregnant, bare.single_parent, bare.children_answered) == (False, False, True)
        # An explicit null is a skipped question.
        assert (skipped.pregnant, skipped.children_answered) == (None, False)
        children = conn.execute(select(ResidentChild.birth_date)).scalars().all()
        topics = conn.execute(select(ResidentInterest.topic).order_by("topic")).scalars().all()
    assert children == [date(2019, 5, 10)]
    assert topics == ["健康・福祉", "高齢者"]


def test_household_size_defaults_to_one_plus_the_children(engine, tmp_path, config):
    kids = [{"birth_date": "2020-01-01"}, {"birth_date": "2022-02-02"}]
    import_residents(engine, write(tmp_path, {"line_user_id": uid(1), "children": kids}), config)
    with engine.connect() as conn:
        assert conn.scalar(select(Resident.household_size)) == 3


def test_every_bad_line_is_reported_and_nothing_is_written(engine, tmp_path, config):
    path = write(
        tmp_path,
        {"line_user_id": uid(1), "district": "楯岡"},
        {"line_user_id": "U123", "district": "楯丘"},
        "{not json",
        {"line_user_id": uid(4), "interests": ["趣味"], "birth_date": "1990-02-30"},
        {"line_user_id": uid(1)},
        {"line_user_id": uid(6), "colour": "blue"},
    )
    with pytest.raises(BadResidentsFile) as caught:
        import_residents(engine, path, config)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert "line_user_id" in problems[0] and "楯岡" in problems[0]  # names the valid districts
    assert "Invalid JSON" in problems[1]
    assert "interests.0" in problems[2] and "birth_date" in problems[2]
    assert problems[3] == f"line 5: line_user_id {uid(1)} is also on line 1"
    assert "colour" in problems[4]
    assert count(engine, Resident.__table__) == 0


def test_a_resident_already_in_the_database_is_a_bad_line(engine, tmp_path, config):
    import_residents(engine, write(tmp_path, {"line_user_id": uid(1)}), config)
    again = write(tmp_path, {"line_user_id": uid(2)}, {"line_user_id": uid(1)})
    with pytest.raises(BadResidentsFile) as caught:
        import_residents(engine, again, config)
    assert caught.value.problems == [f"line 2: line_user_id {uid(1)} is already in the database"]
    assert count(engine, Resident.__table__) == 1


def test_a_large_file_is_imported_in_chunks(engine, tmp_path, config):
    child = [{"birth_date": "2020-04-01"}]
    lines = [
        {"line_user_id": uid(n), "interests": ["防災"], "children": child} for n in range(1, 31)
    ]
    assert import_residents(engine, write(tmp_path, *lines), config, chunk=7) == 30
    with engine.connect() as conn:
        pairs = conn.execute(
            select(Resident.line_user_id, ResidentChild.birth_date).join(ResidentChild)
        ).all()
    assert len(pairs) == 30 and {u for u, _ in pairs} == {uid(n) for n in range(1, 31)}
    assert count(engine, ResidentInterest.__table__) == 30


def test_the_command_prints_the_count_and_exits_0(wiring, tmp_path, capsys):
    path = write(tmp_path, {"line_user_id": uid(1)}, {"line_user_id": uid(2)})
    assert import_command(wiring, path) == 0
    assert capsys.readouterr().out == f"imported 2 residents from {path}\n"


def test_the_command_reports_bad_lines_on_stderr_and_exits_1(wiring, tmp_path, capsys):
    path = write(tmp_path, {"line_user_id": uid(1)}, {"line_user_id": "nope"})
    assert import_command(wiring, path) == 1
    err = capsys.readouterr().err
    assert f"{path}: line 2: line_user_id" in err
    assert "nothing was imported" in err


def test_the_command_refuses_a_missing_file(wiring, tmp_path, capsys):
    assert import_command(wiring, str(tmp_path / "missing.jsonl")) == 1
    assert "no such file" in capsys.readouterr().err
