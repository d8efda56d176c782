"""A family profile (代理受信) counts once, as a registration of its own: `todoku kpi --json`
and the dashboard split registrations into self and family and agree on both."""

from __future__ import annotations

import json

from bot.store.models import Resident
from tests.admin.scenario import at, text_of


def test_registrations_split_into_self_and_family_on_the_page_and_in_kpi_json(
    staff_client, rows, wiring, capsys
):
    from bot.cli import kpi_command

    registered = at("2026-11-01 09:00")
    with rows as r:
        holders = [r.resident(district="楯岡", registered_at=registered) for _ in range(3)]
        gone = r.resident(registered_at=registered, following=False)
        unfinished = r.resident(registered_at=None)
        r.session.flush()

        def profile(holder: Resident, label: str, registered_at=registered) -> None:
            r.session.add(
                Resident(
                    guardian_id=holder.id,
                    label=label,
                    following=holder.following,
                    consented_at=holder.consented_at,
                    registered_at=registered_at,
                )
            )

        profile(holders[0], "母")
        profile(holders[0], "父")
        profile(holders[1], "祖母")
        profile(holders[2], "母", registered_at=None)  # still answering: not counted
        profile(gone, "母")  # mirrors its blocked account: not counted
        profile(unfinished, "母")  # no consent mirrored (cannot happen in the chat)
    capsys.readouterr()
    assert kpi_command(wiring, as_json=True) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["registrations_self"], figures["registrations_family"]) == (3, 3)
    assert figures["registrations"] == 6  # each profile once, beside its holder
    assert figures["followers"] == 4  # LINE accounts only: profiles follow nobody
    page = staff_client.get("/admin/").get_data(as_text=True)
    card = text_of(page, 'id="kpi-registrations"', "</article>")
    assert f"{figures['registrations']} 人" in card
    split = text_of(page, '<p id="registrations-split">', "</p>")
    assert split == (
        f"うち ご本人 {figures['registrations_self']} 人・"
        f"ご家族（代理受信） {figures['registrations_family']} 人"
    )
    assert f"{figures['followers']} 人" in text_of(page, 'id="followers"', "</dd>")
