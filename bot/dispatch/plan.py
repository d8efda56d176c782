"""`todoku plan` and `todoku send`: preview the coming slots, run one now, or test-send.

Services for the CLI and the dashboard: they compute and return data (bot/cli.py prints
it); errors the staff can fix are UserErrors (exit 1) with a message that says what to do.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from bot.dispatch.run import RunSummary, run_slot
from bot.dispatch.send import SendPolicy
from bot.dispatch.window import inside, to_minute, tokyo
from bot.errors import OutsideWindow, UserError
from bot.store import queries as audience
from bot.store.engine import transaction
from bot.store.models import AuditEntry, DeliveryStatus

USER_ID = re.compile(r"U[0-9a-f]{32}")
# The order `todoku send` reports counts in: what happened first, what is still open last.
STATUS_ORDER = tuple(DeliveryStatus)[2:] + tuple(DeliveryStatus)[:2]


def slot_audience_size(wiring, campaign, at: dt.datetime, reminder: bool) -> int:
    """How many residents a slot of `campaign` at `at` would reach if it fired now."""
    program = wiring.config.program(campaign.program)
    query = audience.slot_audience(
        [program.eligible, campaign.audience],
        tokyo(at).date(),
        program.id,
        campaign.id,
        reminder=reminder,
    )
    with wiring.engine.connect() as conn:
        audience.make_room(conn)
        return conn.scalar(audience.slot_audience_count(query)) or 0


def coming_slots(wiring, after: dt.datetime) -> list[tuple[object, list[tuple[object, int]]]]:
    """Each campaign with its slots after `after` and their audience sizes."""
    config = wiring.config
    plan = []
    for campaign in config.campaigns:
        slots = [p for p in config.planned_slots(campaign) if p.at > after]
        plan.append(
            (
                campaign,
                [(p, slot_audience_size(wiring, campaign, p.at, p.is_reminder)) for p in slots],
            )
        )
    return plan


def catchup_so_far(wiring) -> dict[str, dict[str, int]]:
    """Catch-up deliveries so far per campaign and status (bot.dispatch.catchup)."""
    found: dict[str, dict[str, int]] = {}
    with wiring.engine.connect() as conn:
        for campaign_id, status, n in conn.execute(audience.catchup_counts()):
            found.setdefault(campaign_id, {})[str(status)] = int(n)
    return found


def parse_at(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--at '{text}' is not an ISO date-time; write e.g. 2026-12-01T09:00"
        ) from None
    return tokyo(moment)


def notice_preview(program, lead: str | None, on: dt.date) -> list[str]:
    """The notice's texts and button labels, as lines (no links: a preview writes nothing).

    Read from the notice as LINE's JSON, as the dispatcher sends it: the SDK's models took
    ~2 s to import, most of `todoku plan` and `todoku send --dry-run` (benchmarks/startup.py).
    """
    from messages import NoticeLinks, notice_object

    links = NoticeLinks("https://example.invalid/", "https://example.invalid/")
    bubble = notice_object(program, lead, links, on)
    lines = [f"[通知] {bubble['altText']}".replace("\n", " ")]
    for node in _walk(bubble["contents"]):
        if node.get("type") == "text":
            lines.append(node["text"])
        elif node.get("type") == "button":
            lines.append(f"[{node['action']['label']}]")
    return lines


def _walk(node):
    yield node
    for key in ("body", "footer"):
        if isinstance(node.get(key), dict):
            yield from _walk(node[key])
    for child in node.get("contents", []) if isinstance(node.get("contents"), list) else []:
        yield from _walk(child)


@dataclass(frozen=True)
class DryRun:
    """What `todoku send --dry-run` would do: how many residents, and the notice's lines."""

    campaign_id: str
    audience: int
    preview: list[str]


def dry_run(wiring, campaign) -> DryRun:
    """The audience size if the campaign's slot ran now, and its notice; writes nothing."""
    now = wiring.clock.now()
    program = wiring.config.program(campaign.program)
    size = slot_audience_size(wiring, campaign, now, reminder=False)
    return DryRun(campaign.id, size, notice_preview(program, campaign.lead, now.date()))


def send_now(wiring, campaign, actor: str) -> RunSummary:
    """Run the campaign's slot at this minute (staff's manual trigger), audited as `actor`.

    OutsideWindow when the delivery window is closed; the summary says whether this call
    ran the slot (it may have run already) and the counts per status.
    """
    now = wiring.clock.now()
    window = wiring.config.delivery.window
    if not inside(window, now):
        end = window.end.strftime("%H:%M") if window.end else "24:00"
        raise OutsideWindow(f"{window.start:%H:%M}-{end}", window.next_inside(now))
    summary = run_slot(wiring, campaign.id, to_minute(now))
    detail = f"campaign={campaign.id} run={summary.run_id} status={summary.status}"
    _audit(wiring, "manual_send", detail, actor)
    return summary


@dataclass(frozen=True)
class TestSent:
    """A staff test send that LINE accepted: to how many ids, LINE's request id."""

    campaign_id: str
    recipients: int
    request_id: str | None


def staff_test_send(
    wiring,
    campaign,
    to: Sequence[str],
    *,
    sender=None,
    policy: SendPolicy | None = None,
    actor: str,
) -> TestSent:
    """Send the notice, marked 【テスト配信】, only to staff's LINE ids; no Delivery rows."""
    from bot.links import notice_links
    from messages import city_of, notice_object, say

    bad = [u for u in to if not USER_ID.fullmatch(u)]
    if bad:
        raise UserError(f"not a LINE user id: {', '.join(bad)} (U followed by 32 hex digits)")
    program = wiring.config.program(campaign.program)
    lead = say("notice_test_lead") + (campaign.lead or "")
    # run None: taps on a test notice redirect but are not counted as clicks.
    links = notice_links(wiring.settings, program, None, campaign.id)
    city = city_of(wiring.config.municipality)
    notice = notice_object(program, lead, links, wiring.clock.now().date(), city)
    # A fresh key per test send: staff may send the same test twice on purpose.
    key = str(uuid.uuid4())
    outcome = wiring.dispatcher.using(sender, policy).multicast(list(to), [notice], key)
    detail = f"campaign={campaign.id} recipients={len(to)} request_id={outcome.request_id}"
    detail += f" error={outcome.error}" if outcome.error else ""
    _audit(wiring, "test_send", detail, actor)
    if outcome.error is not None:
        raise UserError(f"test send failed: {outcome.error}")
    return TestSent(campaign.id, len(to), outcome.request_id)


def _audit(wiring, action: str, detail: str, actor: str) -> None:
    # `actor`: the staff member on the dashboard; the operating-system user on the CLI.
    with transaction(wiring.session_factory) as session:
        session.add(AuditEntry(at=wiring.clock.now(), actor=actor, action=action, detail=detail))
