"""`todoku residents import`: JSON Lines in, registered residents out — or nothing at all."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from bot.cli import import_command
from bot.residents.importer import BadResidentsFile, import_residents
from bot.store.models import Resident, ResidentChild, ResidentInterest
from tests.residents.lines import uid, write


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_imported_residents_are_registered_with_their_answers(engine, tmp_path, config):
    path = write(
        tmp_path,
        {
            "line_user_id": uid(1),
            "birth_date": "1958-07-03",
            "district": "楯岡",
            "household_size": 2,
            "single_parent": False,
            "pregnant": False,
            "children": [{"birth_date": "2019-05-10"}],
            "interests": ["高齢者", "健康・福祉"],
        },
        {"line_user_id": uid(2)},
        {"line_user_id": uid(3), "children": None, "pregnant": None},
    )
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


def test_a_file_read_by_the_worker_process_gives_the_same_residents(engine, tmp_path, config):
    """Large files are validated in a worker process; the outcome is the same."""
    lines = [
        {
            "line_user_id": uid(n),
            "birth_date": "1980-02-29",
            "interests": ["防災", "防災"],
            "children": [{"birth_date": "2020-04-01"}] * (n % 3),
        }
        for n in range(1, 26)
    ]
    assert import_residents(engine, write(tmp_path, *lines), config, chunk=7, worker=True) == 25
    with engine.connect() as conn:
        births = conn.execute(select(Resident.birth_date).distinct()).scalars().all()
        kids = conn.execute(
            select(Resident.line_user_id, func.count()).join(ResidentChild).group_by(Resident.id)
        ).all()
    assert births == [date(1980, 2, 29)]
    assert dict(kids) == {uid(n): n % 3 for n in range(1, 26) if n % 3}
    assert count(engine, ResidentInterest.__table__) == 25


def test_the_worker_process_reports_every_bad_line(engine, tmp_path, config):
    path = write(tmp_path, {"line_user_id": uid(1)}, "{", {"line_user_id": uid(1)})
    with pytest.raises(BadResidentsFile) as caught:
        import_residents(engine, path, config, worker=True)
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 2", "line 3"]
    assert count(engine, Resident.__table__) == 0


def test_residents_already_in_the_database_are_reported_with_the_other_bad_lines(
    engine, tmp_path, config
):
    """Every clash is found, in any chunk, also after the file's first problem."""
    import_residents(
        engine, write(tmp_path, {"line_user_id": uid(3)}, {"line_user_id": uid(9)}), config
    )
    lines = [{"line_user_id": uid(n), "interests": ["防災"]} for n in range(1, 11)]
    lines[4] = {"line_user_id": "U5"}
    with pytest.raises(BadResidentsFile) as caught:
        import_residents(engine, write(tmp_path, *lines), config, chunk=2)
    assert [p.split(":")[0] for p in caught.value.problems] == ["line 3", "line 5", "line 9"]
    assert caught.value.problems[2] == f"line 9: line_user_id {uid(9)} is already in the database"
    assert count(engine, Resident.__table__) == 2
    assert count(engine, ResidentInterest.__table__) == 0


def test_a_second_import_attaches_children_and_interests_to_its_own_residents(
    engine, tmp_path, config
):
    first = [{"line_user_id": uid(n), "children": [{"birth_date": "2010-01-01"}]} for n in range(5)]
    import_residents(engine, write(tmp_path, *first), config, chunk=2)
    second = [
        {
            "line_user_id": uid(n),
            "children": [{"birth_date": "2021-01-01"}],
            "interests": ["子育て"],
        }
        for n in range(5, 12)
    ]
    import_residents(engine, write(tmp_path, *second), config, chunk=3)
    with engine.connect() as conn:
        pairs = conn.execute(
            select(Resident.line_user_id, ResidentChild.birth_date).join(ResidentChild)
        )
        births = {u: b.year for u, b in pairs}
        topics = conn.execute(select(Resident.line_user_id).join(ResidentInterest)).scalars().all()
    assert births == {uid(n): 2010 if n < 5 else 2021 for n in range(12)}
    assert sorted(topics) == [uid(n) for n in range(5, 12)]


def test_deleting_an_imported_resident_still_deletes_their_children_and_interests(
    engine, tmp_path, config
):
    """A large import keeps the foreign keys (ON DELETE CASCADE) in place afterwards."""
    lines = [
        {"line_user_id": uid(n), "children": [{"birth_date": "2019-05-10"}], "interests": ["防災"]}
        for n in range(1, 21)
    ]
    import_residents(engine, write(tmp_path, *lines), config, chunk=5)
    with engine.begin() as conn:
        conn.execute(Resident.__table__.delete().where(Resident.line_user_id == uid(1)))
    assert count(engine, ResidentChild.__table__) == 19
    assert count(engine, ResidentInterest.__table__) == 19


def test_the_dialogs_rules_and_strict_types_apply_to_imported_lines(engine, tmp_path, config):
    """What the dialog refuses, the import refuses too, each bad line by number (issue 9)."""
    from tests.conftest import DEFAULT_NOW

    ok = {"line_user_id": uid(1), "birth_date": "1958-07-03", "district": "楯岡"}
    path = write(
        tmp_path,
        ok,
        {"line_user_id": uid(2), "birth_date": "2999-01-01"},  # line 2: in the future
        {"line_user_id": uid(3), "birth_date": "1700-01-01"},  # line 3: before 120 years
        {
            "line_user_id": uid(4),
            "birth_date": "1990-01-01",
            "children": [{"birth_date": "2001-12-31"}],
        },  # line 4: parent was 11
        {"line_user_id": uid(5), "household_size": True},  # line 5
        {"line_user_id": uid(6), "household_size": 2.0},  # line 6
        {"line_user_id": uid(7), "pregnant": "yes"},  # line 7
        {"line_user_id": uid(8), "children": [{"birth_date": "2999-05-01"}]},  # line 8
        {
            "line_user_id": uid(9),
            "birth_date": "1990-01-01",
            "children": [{"birth_date": "2002-01-01"}],
            "household_size": 2,
        },  # 9: parent was 12
    )
    for worker in (False, True):
        with pytest.raises(BadResidentsFile) as info:
            import_residents(engine, path, config, now=DEFAULT_NOW, worker=worker)
        numbers = [int(p.split(":")[0].removeprefix("line ")) for p in info.value.problems]
        assert numbers == [2, 3, 4, 5, 6, 7, 8], info.value.problems
        assert "before the parent (birth_date) was 12" in info.value.problems[2]
        assert "2001" not in str(info.value)  # the rule is named, the dates stay unsaid
    assert count(engine, Resident) == 0


def test_a_utf8_byte_order_mark_is_accepted(engine, tmp_path, config):
    """A file saved by a Windows editor (UTF-8 with BOM) imports like any other."""
    path = tmp_path / "bom.jsonl"
    line = json.dumps({"line_user_id": uid(1), "district": "楯岡"}, ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + line.encode() + b"\n")
    assert import_residents(engine, path, config) == 1
