"""Family profiles (代理受信): matched on their own, sent to the guardian, one message per
account and run naming whose notices it carries, exactly once through crashes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.dispatch import outbox
from bot.dispatch.resume import resume_unfinished
from bot.dispatch.run import run_slot
from bot.store.models import Delivery, SendBatch
from messages import decode
from tests.dispatch.conftest import FAST, NOW, multicasts, notices

LEAD = "スマートフォンを買う費用の補助があります。"


class Crash(BaseException):
    """The process dies (not an Exception: nothing may catch it on the way)."""


class CrashingSender:
    """The real LINE client; the process dies at the first call, before or after sending it."""

    def __init__(self, client, after_send: bool) -> None:
        self.client, self.after_send = client, after_send

    def multicast(self, user_ids, messages, retry_key):
        if not self.after_send:
            raise Crash
        self.client.multicast(user_ids, messages, retry_key)
        raise Crash  # LINE has it; this process never records it


def feedback_whose(notice: dict) -> list[str | None]:
    """The `w` (whose) of every 申請しました button of a notice, in order."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            action = node.get("action")
            if action and action.get("type") == "postback":
                fields = decode(action["data"])
                if fields.get("v") == "confirm":
                    found.append(fields.get("w"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(notice["contents"])
    return found


def first_line(notice: dict) -> str:
    return notice["contents"]["body"]["contents"][0]["text"]


def test_a_parent_only_eligible_gets_a_notice_naming_them_at_the_guardians_line(line, people, sim):
    holder, user = people.add(age=30)  # not eligible themself
    people.add_profile(holder, "母", age=80)
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.counts == {"sent": 1}
    [notice] = notices(sim, user)
    assert first_line(notice) == "お母さま（母）向けのお知らせです。"
    assert notice["altText"].startswith("お母さま（母）向けのお知らせです。\n" + LEAD)
    assert feedback_whose(notice) == ["母"]
    sim.assert_no_problems()


def test_holder_and_parent_both_eligible_get_one_message_naming_both(line, people, sim):
    holder, user = people.add(age=70)
    people.add_profile(holder, "母", age=92)
    alone = people.add(age=70)[1]
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.counts == {"sent": 3}  # a delivery per person...
    [notice] = notices(sim, user)  # ...one message per LINE account
    assert first_line(notice) == "ご本人とお母さま（母）向けのお知らせです。"
    assert feedback_whose(notice) == [None, "母"]
    [plain] = notices(sim, alone)
    assert plain["altText"].startswith(LEAD) and feedback_whose(plain) == [None]


def test_an_uncommon_label_is_named_plainly_and_each_profile_is_matched_on_its_own(
    line, people, sim
):
    holder, user = people.add(age=70)
    people.add_profile(holder, "ハナコ", age=40)  # not eligible: not named
    people.add_profile(holder, "祖父", age=95)
    other, other_user = people.add(age=20)
    people.add_profile(other, "ハナコ", age=66)
    run_slot(line, "senior-2026", NOW, policy=FAST)
    [notice] = notices(sim, user)
    assert first_line(notice) == "ご本人とおじいさま（祖父）向けのお知らせです。"
    [notice] = notices(sim, other_user)
    assert first_line(notice) == "ご家族（ハナコ）向けのお知らせです。"


def test_a_profile_of_an_unfollowed_or_paused_account_gets_nothing(line, people, sim):
    gone, gone_user = people.add(age=30, following=False)
    people.add_profile(gone, "母", following=False)  # mirrored from the account
    paused, paused_user = people.add(age=30, paused=True)
    people.add_profile(paused, "父", paused=True)
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.counts == {}
    assert notices(sim, gone_user) == [] and notices(sim, paused_user) == []


def test_far_apart_rows_of_one_account_still_make_one_message_per_run(
    line, people, sim, monkeypatch
):
    """Profiles added long after their holders; small chunks and pages: still one each."""
    monkeypatch.setattr(outbox, "RECORD_CHUNK", 3)
    monkeypatch.setattr(outbox, "BATCH", 2)
    holders = [people.add(age=70) for _ in range(7)]
    for n, (holder, _) in enumerate(holders):
        if n % 2 == 0:
            people.add_profile(holder, "母")
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.counts == {"sent": 11}
    for n, (_, user) in enumerate(holders):
        [notice] = notices(sim, user)
        expected = "ご本人とお母さま（母）向けのお知らせです。" if n % 2 == 0 else None
        assert (first_line(notice) if n % 2 == 0 else None) == expected
        assert feedback_whose(notice) == ([None, "母"] if n % 2 == 0 else [None])
    for request in multicasts(sim):
        assert len(request["body"]["to"]) == len(set(request["body"]["to"]))
    sim.assert_no_problems()


def test_a_chunk_that_leaves_rows_pending_gets_them_sent_and_holders_alone_cost_no_lookups(
    line, people, sim, monkeypatch
):
    """Chunks of holders alone are batched as recorded: send_pending looks for pending rows
    (to batch them itself) at the start and after a chunk that left some — a profile in a
    middle chunk — not after every chunk; everyone still gets one notice."""
    monkeypatch.setattr(outbox, "RECORD_CHUNK", 2)
    holders = [people.add(age=70) for _ in range(8)]
    people.add_profile(holders[4][0], "母")  # the third chunk: holders 4 and 5
    looks = []
    form_batches = outbox.form_batches

    def counted(*args, **kwargs):
        batches = form_batches(*args, **kwargs)
        looks.append(len(batches))
        return batches

    monkeypatch.setattr(outbox, "form_batches", counted)
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.counts == {"sent": 9}
    for n, (_, user) in enumerate(holders):
        [notice] = notices(sim, user)
        assert feedback_whose(notice) == ([None, "母"] if n == 4 else [None])
    # At the start (none), after the third chunk (the account's batch), then none again:
    # three looks for four chunks, where every chunk used to cost one.
    assert looks == [0, 1, 0]
    sim.assert_no_problems()


@pytest.mark.parametrize("after_send", [False, True], ids=["before-http", "after-http"])
def test_a_crash_resends_the_same_named_message_with_the_stored_key(line, people, sim, after_send):
    """Whose a batch names is stored with its key: the resend is the same message, once."""
    holder, user = people.add(age=70)
    people.add_profile(holder, "母")
    with pytest.raises(Crash):
        run_slot(
            line,
            "senior-2026",
            NOW,
            sender=CrashingSender(line.dispatcher.sender, after_send),
            policy=FAST,
        )
    with line.session_factory() as session:
        [batch] = session.scalars(select(SendBatch)).all()
        assert batch.status == "pending" and batch.whose == '["", "母"]'
    done = resume_unfinished(line, policy=FAST)
    assert done["batches_resent"] == 1
    [notice] = notices(sim, user)
    assert first_line(notice) == "ご本人とお母さま（母）向けのお知らせです。"
    requests = multicasts(sim)
    assert {r["retry_key"] for r in requests} == {batch.key}
    assert all(r["body"]["to"] == [user] for r in requests)
    with line.session_factory() as session:
        [batch] = session.scalars(select(SendBatch)).all()
        assert batch.status == "sent" and batch.whose is None  # labels not kept once sent
        assert set(session.scalars(select(Delivery.status))) == {"sent"}
