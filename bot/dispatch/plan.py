"""`todoku plan` and `todoku send`: preview the coming slots, run one now, or test-send.

Thin services for the CLI: they compute, print and return an exit code; errors the staff
can fix are UserErrors (exit 1) with a message that says what to do.
"""

from __future__ import annotations

import datetime as dt
import getpass
import re
import uuid
from collections.abc import Sequence

from bot.dispatch.run import campaign_of, run_slot
from bot.dispatch.send import SendPolicy
from bot.dispatch.window import inside, to_minute, tokyo
from bot.errors import OutsideWindow, UserError
from bot.store import queries as audience
from bot.store.engine import transaction
from bot.store.models import AuditEntry, DeliveryStatus, RunStatus

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
    """The notice's texts and button labels, as lines (no links: a preview writes nothing)."""
    from messages import NoticeLinks, build_notice  # the SDK: see run.notice_for

    links = NoticeLinks("https://example.invalid/", "https://example.invalid/")
    bubble = build_notice(program, lead, links, on).to_dict()
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


def send_command(wiring, campaign_id: str, dry_run: bool, to: Sequence[str]) -> int:
    """`todoku send CAMPAIGN [--dry-run] [--to USER_ID ...]`."""
    campaign = campaign_of(wiring.config, campaign_id)
    now = wiring.clock.now()
    if to:
        return staff_test_send(wiring, campaign, to)
    if dry_run:
        program = wiring.config.program(campaign.program)
        size = slot_audience_size(wiring, campaign, now, reminder=False)
        print(f"{campaign.id}: {size:,} 人に送ります（dry run: 何も書き込まず、送りません）")
        for line in notice_preview(program, campaign.lead, now.date()):
            print(f"  {line}")
        return 0
    window = wiring.config.delivery.window
    if not inside(window, now):
        end = window.end.strftime("%H:%M") if window.end else "24:00"
        raise OutsideWindow(f"{window.start:%H:%M}-{end}", window.next_inside(now))
    summary = run_slot(wiring, campaign.id, to_minute(now))
    _audit(
        wiring,
        "manual_send",
        f"campaign={campaign.id} run={summary.run_id} status={summary.status}",
    )
    if not summary.claimed:
        print(f"{campaign.id}: この時刻（{summary.slot_at:%H:%M}）の送信は、もう実行されています。")
    print(_counts_line(summary))
    if summary.reason:
        print(f"理由: {summary.reason}")
    if summary.status == RunStatus.SENDING:
        raise UserError(
            "some notices are not confirmed by LINE yet; `todoku scheduler` "
            "retries them with the same retry keys (no duplicates)"
        )
    return 0


def format_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{s} {counts[s]}" for s in STATUS_ORDER if counts.get(s)) or "0"


def _counts_line(summary) -> str:
    parts = [f"{s} {summary.counts[s]}" for s in STATUS_ORDER if summary.counts.get(s)]
    return f"run {summary.run_id} ({summary.status}): " + (", ".join(parts) or "0 notices")


def staff_test_send(
    wiring,
    campaign,
    to: Sequence[str],
    *,
    sender=None,
    policy: SendPolicy | None = None,
    actor: str | None = None,
) -> int:
    """Send the notice, marked 【テスト配信】, only to staff's LINE ids; no Delivery rows."""
    from bot.clicks import notice_links  # the SDK: see run.notice_for
    from messages import build_notice, city_of, say

    bad = [u for u in to if not USER_ID.fullmatch(u)]
    if bad:
        raise UserError(f"not a LINE user id: {', '.join(bad)} (U followed by 32 hex digits)")
    program = wiring.config.program(campaign.program)
    lead = say("notice_test_lead") + (campaign.lead or "")
    # run None: taps on a test notice redirect but are not counted as clicks.
    links = notice_links(wiring.settings, program, None, campaign.id)
    city = city_of(wiring.config.municipality)
    notice = build_notice(program, lead, links, wiring.clock.now().date(), city)
    # A fresh key per test send: staff may send the same test twice on purpose.
    key = str(uuid.uuid4())
    outcome = wiring.dispatcher.using(sender, policy).multicast(list(to), [notice], key)
    detail = f"campaign={campaign.id} recipients={len(to)} request_id={outcome.request_id}"
    detail += f" error={outcome.error}" if outcome.error else ""
    _audit(wiring, "test_send", detail, actor)
    if outcome.error is not None:
        raise UserError(f"test send failed: {outcome.error}")
    print(f"{campaign.id}: テスト配信を {len(to)} 人に送りました（{outcome.request_id}）")
    return 0


def _audit(wiring, action: str, detail: str, actor: str | None = None) -> None:
    # `actor`: the staff member on the dashboard; the operating-system user on the CLI.
    who = actor or _actor()
    with transaction(wiring.session_factory) as session:
        session.add(AuditEntry(at=wiring.clock.now(), actor=who, action=action, detail=detail))


def _actor() -> str:
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"
