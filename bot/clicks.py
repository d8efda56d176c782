"""Click tracking: `GET /r/<token>` records an anonymous Click and redirects to the config's URL.

The token (bot.links) names the run, campaign, program and link kind — never a URL (so the
route cannot be an open redirect) and never a resident: clicks count per campaign run.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape

from flask import Blueprint, Response, current_app, redirect, request

from bot.clock import tokyo
from bot.links import MENU_SOURCE, click_token, notice_links, read_token
from bot.logs import get_logger
from bot.store import queries
from bot.store.engine import transaction
from bot.store.models import CampaignRun

log = get_logger("todoku.clicks")
blueprint = Blueprint("clicks", __name__)
__all__ = ["blueprint", "click_token", "notice_links", "read_token", "visit_key"]


@blueprint.get("/r/<path:token>")  # path: a mangled token still gets the kind 404 page
def follow(token: str) -> Response:
    """Record the tap and redirect to the program's URL in the current configuration."""
    wiring = current_app.extensions["todoku"]
    wiring.refresh_config()
    fields = read_token(wiring.settings.secret_key.get_secret_value(), token)
    config = wiring.config
    if fields is None:
        return _not_found(config.municipality)
    run_id, campaign_id, program_id, link = fields
    target = _target(config, program_id, link)
    # Staff test sends (no run) are not counted; notices and the 使える制度を見る list are.
    if run_id is not None or campaign_id == MENU_SOURCE:
        _record(wiring, token, run_id, campaign_id, program_id, link)
    return redirect(target, code=302)


def _target(config, program_id: str, link: str) -> str:
    # Only URLs from the checked configuration (https, on link_hosts); a program removed
    # since the notice went out sends the resident to the city's homepage.
    program = config.find_program(program_id)
    if program is None:
        return config.municipality.homepage
    if link == "apply" and program.apply_url:
        return program.apply_url
    return program.homepage


def visit_key(secret: str, token: str, client: str, day) -> str:
    """One visit: this link, from this client address, on this Tokyo day (a keyed digest).

    A multicast sends the same token to up to 500 residents, so the token alone cannot be
    the visitor; the address tells them apart without storing it. Residents behind one
    address (a household's router) who tap the same notice on one day count once.
    """
    message = f"{token}\n{client}\n{day.isoformat()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def _record(
    wiring, token: str, run_id: int | None, campaign_id: str, program_id: str, link: str
) -> None:
    now = wiring.clock.now()
    secret = wiring.settings.secret_key.get_secret_value()
    key = visit_key(secret, token, request.remote_addr or "", tokyo(now).date())
    with transaction(wiring.session_factory) as session:
        # The run may be gone (deleted with its data): keep the click, without the link.
        known = run_id is not None and session.get(CampaignRun, run_id) is not None
        values = {
            "run_id": run_id if known else None,
            "campaign_id": campaign_id,
            "program_id": program_id,
            "link": link,
            "clicked_at": now,
            "visit_key": key,
        }
        counted = queries.record_click(session.connection(), values)
    log.info("click", run_id=run_id, link=link, counted=counted)


def _not_found(municipality) -> Response:
    page = (
        '<!doctype html><html lang="ja"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<title>ページが見つかりません</title>"
        "<p>このリンクは使えません。お手数ですが、"
        f'<a href="{escape(municipality.homepage)}">{escape(municipality.name)}のホームページ</a>'
        "からご覧ください。</p></html>"
    )
    return Response(page, status=404, mimetype="text/html")
