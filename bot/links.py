"""Click-tracked links: the signed tokens a notice's buttons carry (bot.clicks serves them).

The token is signed with TODOKU_SECRET_KEY and names the run, campaign, program and link
kind — never a URL (so `GET /r/<token>` cannot be an open redirect) and never a resident: a
multicast sends the same bytes to up to 500 people, so clicks count per campaign run.

Apart from the route (bot.clicks, Flask) so that building a notice does not import Flask:
`todoku send` builds its first notice before its first multicast, and Flask's import alone
took ~0.1 s of that (docs/benchmarks.md).
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from messages import NoticeLinks

SALT = "todoku-click"  # separates click tokens from staff sessions signed with the same key
LINKS = ("homepage", "apply")
# The campaign field of links in 使える制度を見る (no run): counted, unlike staff test sends.
MENU_SOURCE = "menu"


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def click_token(
    secret: str, run_id: int | None, campaign_id: str, program_id: str, link: str
) -> str:
    """A signed token for one link of one run's notice (run None: a staff test send)."""
    return _serializer(secret).dumps([run_id, campaign_id, program_id, link])


def notice_links(settings, program, run_id: int | None, campaign_id: str) -> NoticeLinks:
    """The notice's tracked links, built on TODOKU_PUBLIC_URL."""
    secret = settings.secret_key.get_secret_value()
    base = settings.public_url.rstrip("/") + "/r/"

    def url(link: str) -> str:
        return base + click_token(secret, run_id, campaign_id, program.id, link)

    return NoticeLinks(details=url("homepage"), apply=url("apply") if program.apply_url else None)


def read_token(secret: str, token: str) -> tuple[int | None, str, str, str] | None:
    """(run_id, campaign_id, program_id, link) from a genuine token, else None."""
    try:
        run_id, campaign_id, program_id, link = _serializer(secret).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if link not in LINKS or not isinstance(program_id, str):
        return None
    return run_id, campaign_id, program_id, link
