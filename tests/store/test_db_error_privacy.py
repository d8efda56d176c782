"""Database errors reach the logs by class and constraint name only (issue 9, item 4).

PostgreSQL's message quotes the refused row (``Key (line_user_id)=(U…)``) and SQLAlchemy's
adds the statement's parameters; neither may reach a log line, whoever logs the error
(Flask's handler for a failed request, our own ``log.exception``).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.exc import IntegrityError

from bot.logs import configure_logging, get_logger
from bot.store.models import Resident
from tests.helpers import mentions_year
from tests.webhooks import new_user_id

BIRTH = dt.date(1958, 7, 3)


def _twins(wiring, user: str) -> None:
    """Insert the same resident twice: the unique LINE user id refuses the second."""
    with wiring.session_factory() as session, session.begin():
        for _ in range(2):
            session.add(Resident(line_user_id=user, following=True, birth_date=BIRTH))
            session.flush()


def _assert_private(logged: str, user: str, wiring) -> None:
    assert user not in logged
    assert BIRTH.isoformat() not in logged and not mentions_year(logged, BIRTH.year)
    assert "IntegrityError" in logged
    constraint = (
        "uq_residents_line_user_id"
        if wiring.engine.dialect.name == "postgresql"
        else "residents.line_user_id"
    )
    assert constraint in logged
    for line in logged.strip().splitlines():
        json.loads(line)  # JSON lines only


def test_a_failed_request_logs_the_constraint_not_the_row(app, wiring, capsys):
    """Flask logs a request's unhandled IntegrityError: class and constraint, no id or date."""
    user = new_user_id()

    @app.get("/_twins")
    def twins():
        _twins(wiring, user)
        return "unreachable"

    app.testing = False  # a 500 as in production, logged by Flask
    capsys.readouterr()
    configure_logging("INFO")  # onto pytest's captured stderr
    assert app.test_client().get("/_twins").status_code == 500
    _assert_private(capsys.readouterr().err, user, wiring)


def test_log_exception_hides_the_row(wiring, capsys):
    """Our own log.exception of a database error: the same."""
    user = new_user_id()
    configure_logging("INFO")
    with pytest.raises(IntegrityError) as info:
        _twins(wiring, user)
    try:
        raise info.value
    except IntegrityError:
        get_logger("todoku.test").exception("resident_insert_failed")
    _assert_private(capsys.readouterr().err, user, wiring)
    # SQLAlchemy's own text never carries the parameters (hide_parameters on the engine).
    assert "parameters hidden" in str(info.value)
