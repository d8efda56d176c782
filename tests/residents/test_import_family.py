"""`todoku residents import` with family profiles (代理受信): a line's `family` list becomes
profiles of that account, matched on their own answers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.residents.importer import BadResidentsFile, import_residents
from bot.store.models import Resident, ResidentChild, ResidentInterest
from tests.residents.lines import uid, write


def family_of(engine) -> dict[str, list[tuple]]:
    """Each account's profiles: (label, birth date, district, children, topics)."""
    with engine.connect() as conn:
        accounts = dict(conn.execute(select(Resident.id, Resident.line_user_id)).all())
        found: dict[str, list[tuple]] = {}
        rows = conn.execute(
            select(Resident).where(Resident.guardian_id.is_not(None)).order_by(Resident.id)
        ).all()
        for row in rows:
            kids = conn.scalars(
                select(ResidentChild.birth_date).where(ResidentChild.resident_id == row.id)
            ).all()
            topics = conn.scalars(
                select(ResidentInterest.topic).where(ResidentInterest.resident_id == row.id)
            ).all()
            assert row.line_user_id is None and row.following and row.registered_at
            found.setdefault(accounts[row.guardian_id], []).append(
                (row.label, row.birth_date, row.district, list(kids), sorted(topics))
            )
        return found


@pytest.mark.parametrize("chunk,worker", [(20_000, False), (2, False), (3, True)])
def test_family_profiles_are_imported_with_their_own_answers(
    engine, tmp_path, config, chunk, worker, monkeypatch
):
    if worker:
        monkeypatch.setattr("bot.residents.importer.WORKER_FROM_BYTES", 0)
    lines = [
        {
            "line_user_id": uid(1),
            "birth_date": "1980-01-01",
            "family": [
                {
                    "label": "母",
                    "birth_date": "1950-03-03",
                    "district": "楯岡",
                    "interests": ["高齢者"],
                },
                {"label": "子", "children": [{"birth_date": "2024-04-04"}]},
            ],
        },
        {"line_user_id": uid(2)},
        {"line_user_id": uid(3), "family": []},
        {
            "line_user_id": uid(4),
            "children": [{"birth_date": "2020-01-01"}],
            "family": [{"label": "ハナコ"}],
        },
    ]
    assert import_residents(engine, write(tmp_path, *lines), config, chunk=chunk) == 4
    assert family_of(engine) == {
        uid(1): [
            ("母", date(1950, 3, 3), "楯岡", [], ["高齢者"]),
            ("子", None, None, [date(2024, 4, 4)], []),
        ],
        uid(4): [("ハナコ", None, None, [], [])],
    }
    with engine.connect() as conn:  # the accounts' own answers stay theirs
        own = conn.execute(
            select(Resident.line_user_id, Resident.birth_date)
            .where(Resident.guardian_id.is_(None))
            .order_by(Resident.line_user_id)
        ).all()
        children = conn.execute(
            select(Resident.line_user_id, ResidentChild.birth_date).join(ResidentChild)
        ).all()
    assert own[0] == (uid(1), date(1980, 1, 1)) and [b for _, b in own[1:]] == [None] * 3
    assert sorted(children, key=str) == sorted(
        [(uid(4), date(2020, 1, 1)), (None, date(2024, 4, 4))], key=str
    )


def test_bad_family_entries_are_reported_and_nothing_is_written(engine, tmp_path, config):
    path = write(
        tmp_path,
        {"line_user_id": uid(1), "family": [{"label": "母"}, {"label": "母"}]},
        {"line_user_id": uid(2), "family": [{"label": "とても長い呼び方のおばあちゃん"}]},
        {"line_user_id": uid(3), "family": [{"label": "母", "district": "楯丘"}]},
        {"line_user_id": uid(4), "family": [{"birth_date": "1950-01-01"}]},
        {"line_user_id": uid(5), "family": [{"label": "父", "line_user_id": uid(9)}]},
        {
            "line_user_id": uid(6),
            "family": [
                {
                    "label": "母",
                    "birth_date": "1990-01-01",
                    "children": [{"birth_date": "1995-01-01"}],
                }
            ],
        },
    )
    with pytest.raises(BadResidentsFile) as caught:
        import_residents(engine, path, config)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [f"line {n}" for n in range(1, 7)]
    assert "family.1.label" in problems[0] and "twice" in problems[0]
    assert "family.0.label" in problems[1]
    assert "family.0.district" in problems[2]
    assert "family.0.label" in problems[3]
    assert "family.0.line_user_id" in problems[4]
    assert "family.0.children.0.birth_date" in problems[5] and "1995" not in problems[5]
    with engine.connect() as conn:
        assert conn.scalars(select(Resident)).all() == []
