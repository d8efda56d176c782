"""Campaign results staff can act on: per campaign and per send, rates, answers, reasons."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot import kpi
from bot.admin.report import CampaignLine
from bot.clock import tokyo
from bot.store import dashboard_queries as q
from bot.store.models import DeliveryStatus

ANSWER_LABELS = {"applied": "申請済み", "not_needed": "対象外・不要"}
WHY = (DeliveryStatus.DEFERRED, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


@dataclass
class RunDetail:
    """What the counts of one run do not say: answers, reasons, the actual send time."""

    answers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ANSWER_LABELS, 0))
    reasons: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    first_sent: datetime | None = None
    last_sent: datetime | None = None


def rate(part: int, whole: int) -> float | None:
    """`part` of `whole` in percent with one decimal (None when nothing was sent)."""
    return round(part * 100 / whole, 1) if whole else None


def run_details(
    session: Session, lines: list[CampaignLine], year: int | None = None
) -> dict[int, RunDetail]:
    """Answers, reasons and send times of every run listed, by run id.

    `year`: the fiscal year the lines are of; then the send times (a pass over every sent
    notice: 2-3 s at 10,000,000) are kept under bot.kpi's data version, as they change
    only when a notice becomes sent. Answers and reasons are read each time (an answer,
    or a deferred notice's new reason, changes no delivery status).
    """
    run_ids = [run.run_id for line in lines for run in line.runs]
    details: dict[int, RunDetail] = {run_id: RunDetail() for run_id in run_ids}
    if not run_ids:
        return details
    sent = DeliveryStatus.SENT
    for run_id, answer, n in session.execute(q.run_answers(run_ids, sent)):
        details[run_id].answers[answer] = details[run_id].answers.get(answer, 0) + int(n)
    for run_id, status, reason, n in session.execute(q.run_reasons(run_ids, WHY)):
        details[run_id].reasons[status].append((reason or "（理由の記録なし）", int(n)))
    if year is None:
        times = session.execute(q.run_send_times(run_ids, sent)).all()
    else:
        times = kpi.cached(
            session,
            "run-send-times",
            year,
            lambda: session.execute(q.run_send_times(run_ids, sent)).all(),
        )
    for run_id, first, last in times:
        details[run_id].first_sent = tokyo(first) if first else None
        details[run_id].last_sent = tokyo(last) if last else None
    for detail in details.values():
        for found in detail.reasons.values():
            found.sort(key=lambda item: -item[1])
    return details
