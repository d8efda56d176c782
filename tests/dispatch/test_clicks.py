"""GET /r/<token>: an anonymous click per run, then a 302 to the configured URL only."""

from __future__ import annotations

from sqlalchemy import select

from bot.clicks import click_token, notice_links
from bot.dispatch.run import run_slot
from bot.store.models import Click
from tests.dispatch.conftest import FAST, NOW, notices


def token_of(url: str) -> str:
    return url.rsplit("/r/", 1)[1]


def test_a_tap_is_counted_and_redirected_to_the_configured_url(line, people, sim):
    """The notice's apply link → the LoGoフォーム URL from programs.yaml, and one Click row."""
    from bot.app import create_app

    people.add()
    run_slot(line, "senior-2026", NOW, policy=FAST)
    [notice] = notices(sim, sim.users()[0]["user_id"])
    buttons = [b for b in notice["contents"]["footer"]["contents"] if b.get("action")]
    apply = next(
        b["action"]["uri"] for b in buttons if b["action"]["label"] == "オンラインで申し込む"
    )
    client = create_app(wiring=line).test_client()
    response = client.get("/r/" + token_of(apply))
    assert response.status_code == 302
    assert response.headers["Location"] == "https://logoform.jp/form/murayama/100108"
    with line.session_factory() as session:
        [click] = session.scalars(select(Click))
    assert (click.campaign_id, click.program_id, click.link) == (
        "senior-2026",
        "senior-smartphone",
        "apply",
    )
    assert click.run_id is not None


def test_a_forged_or_tampered_token_is_404_with_a_link_home(line):
    """No signature, no redirect: a short Japanese page linking the city's homepage."""
    from bot.app import create_app

    client = create_app(wiring=line).test_client()
    forged = click_token("not-the-secret", 1, "senior-2026", "senior-smartphone", "apply")
    for token in (forged, "https:%2F%2Fevil.example", "abc"):
        response = client.get("/r/" + token)
        assert response.status_code == 404
        assert "https://www.city.murayama.lg.jp/" in response.get_data(as_text=True)
    with line.session_factory() as session:
        assert session.scalars(select(Click)).all() == []


def test_a_program_removed_from_the_config_redirects_home(line):
    """A token for a program no longer configured → the municipality's homepage."""
    from bot.app import create_app

    secret = line.settings.secret_key.get_secret_value()
    token = click_token(secret, None, "old-campaign", "gone-program", "homepage")
    response = create_app(wiring=line).test_client().get("/r/" + token)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://www.city.murayama.lg.jp/"


def test_the_token_carries_no_url_and_no_resident(line):
    """Links are built on TODOKU_PUBLIC_URL and decode to ids only."""
    from bot.clicks import read_token

    program = line.config.program("senior-smartphone")
    links = notice_links(line.settings, program, 7, "senior-2026")
    secret = line.settings.secret_key.get_secret_value()
    assert read_token(secret, token_of(links.apply)) == (
        7,
        "senior-2026",
        "senior-smartphone",
        "apply",
    )
    assert "logoform" not in links.apply and links.apply.startswith("https://todoku.example.jp/r/")


def test_a_replayed_link_counts_one_visit_per_visitor_and_day(line):
    """Replays of one link from one address count once a day; another address, or the next
    day, is another visit (issue 9: a replay must not inflate the HP visits)."""
    import datetime as dt

    from bot.app import create_app

    secret = line.settings.secret_key.get_secret_value()
    token = click_token(secret, None, "menu", "senior-smartphone", "homepage")
    client = create_app(wiring=line).test_client()

    def tap(address: str) -> None:
        response = client.get("/r/" + token, environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 302

    for _ in range(5):
        tap("203.0.113.7")
    tap("198.51.100.2")
    line.clock.advance(dt.timedelta(days=1))
    tap("203.0.113.7")
    tap("203.0.113.7")
    with line.session_factory() as session:
        clicks = session.scalars(select(Click)).all()
    assert len(clicks) == 3
    assert all(c.visit_key and "203.0.113.7" not in c.visit_key for c in clicks)


def test_the_404_page_is_not_sniffed(line):
    """The /r/ 404 page says what it is (X-Content-Type-Options: nosniff)."""
    from bot.app import create_app

    response = create_app(wiring=line).test_client().get("/r/abc")
    assert response.status_code == 404
    assert response.headers["X-Content-Type-Options"] == "nosniff"
