"""Notices per language: one message variant per language, batched apart, each batch's
variant recorded with its retry key so every attempt sends the same message."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.dispatch import outbox
from bot.dispatch.run import notice_for, run_slot
from bot.dispatch.variant import JAPANESE, Variant, variant_of
from bot.store import queries
from bot.store.models import Resident, SendBatch
from messages import LANGUAGES, say
from tests.dispatch.conftest import FAST, NOW, PROGRAMS, multicasts, write_config

TRANSLATED = PROGRAMS.replace(
    """    eligible:
      age: {min: 65}
""",
    """    eligible:
      age: {min: 65}
    translations:
      en: {name: Smartphone Start Subsidy for Seniors, summary: Part of the cost of a phone.}
      vi: {name: Hỗ trợ mua điện thoại thông minh}
""",
)


@pytest.fixture
def config_dir(tmp_path):
    """The dispatcher tests' configuration, senior-smartphone translated (vi: name only)."""
    return write_config(tmp_path / "config", programs=TRANSLATED)


def speak(wiring, resident_id: int, lang: str) -> None:
    with wiring.session_factory() as session, session.begin():
        session.execute(update(Resident).where(Resident.id == resident_id).values(language=lang))


def test_one_multicast_per_language_each_in_its_language(line, people, sim):
    residents = {lang: [people.add() for _ in range(2)] for lang in LANGUAGES}
    for lang, pairs in residents.items():
        for resident_id, _ in pairs:
            speak(line, resident_id, lang)
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.counts == {"sent": 2 * len(LANGUAGES)}
    sent = multicasts(sim)
    assert len(sent) == len(LANGUAGES)
    by_recipients = {frozenset(r["body"]["to"]): r["body"]["messages"] for r in sent}
    for lang, pairs in residents.items():
        [notice] = by_recipients[frozenset(user for _, user in pairs)]
        alt, body = notice["altText"], str(notice["contents"])
        assert say("notice_feedback_hint", lang) in body
        if lang == "en":
            assert "Smartphone Start Subsidy" in alt
            assert say("translation_missing", lang) not in body
        elif lang == "vi":
            assert "Hỗ trợ mua điện thoại thông minh" in alt
            # only the name is translated: the Japanese summary, with the note
            assert say("translation_missing", lang) in body and "65歳以上の方" in body
        else:
            assert "シニア世代スマホスタート応援補助金" in alt
            assert (say("translation_missing", lang) in body) is (lang == "ja-easy")
    with line.session_factory() as session:
        variants = sorted(session.scalars(select(SendBatch.variant)))
    assert variants == sorted(LANGUAGES)


def test_a_batch_keeps_its_recorded_variant_whatever_the_resident_does_later(line, people):
    """Formed in English: a retry after the resident switched to Vietnamese is still the
    English notice, to the same ids under the same key (what LINE may have accepted)."""
    resident_id, user_id = people.add()
    speak(line, resident_id, "en")
    factory = line.session_factory
    run_id = outbox.claim_run(factory, "senior-2026", "senior-smartphone", NOW, False, NOW)
    recording = outbox.Recording(factory, line.config, outbox.get_run(factory, run_id))
    assert recording.next_chunk(NOW)
    [batch] = recording.formed
    assert batch.variant == Variant("en") and batch.user_ids == [user_id]
    speak(line, resident_id, "vi")
    with factory() as session:
        stored = session.get(SendBatch, batch.key)
        again = outbox.load_batch(factory, stored)
    assert (again.key, again.user_ids, again.variant) == (batch.key, [user_id], Variant("en"))
    [notice] = notice_for(line, run_id, NOW.date(), again.variant)
    assert "Smartphone Start Subsidy" in notice["altText"]


def test_variant_keys_round_trip_and_unknown_languages_read_as_japanese(line):
    for lang in LANGUAGES:
        assert Variant.from_key(Variant(lang).key) == Variant(lang) == variant_of(lang)
    assert variant_of(None) == Variant.from_key("") == JAPANESE
    assert variant_of("fr") == Variant("fr")  # kept as stored; read as Japanese when built
    run_id = outbox.claim_run(
        line.session_factory, "senior-2026", "senior-smartphone", NOW, False, NOW
    )
    [notice] = notice_for(line, run_id, NOW.date(), Variant("fr"))
    assert "シニア世代スマホスタート応援補助金" in notice["altText"]


def test_chunks_of_a_run_share_one_statement_and_each_gets_its_own_keys(
    line, people, sim, monkeypatch
):
    """A run recorded in four chunks builds its choose statement twice (the chunks with a
    top bound, and the last without), not once per chunk; every chunk still numbers its
    own keys, so each language of each chunk is one multicast, everyone reached once."""
    monkeypatch.setattr(outbox, "RECORD_CHUNK", 2)
    built = []
    chooser = queries.chunk_chooser

    def counted(*args, **kwargs):
        built.append(kwargs["last"])
        return chooser(*args, **kwargs)

    monkeypatch.setattr(queries, "chunk_chooser", counted)
    languages = ["ja", "en", "en", "vi", "ja", "ja", "vi"]  # chunks: ja+en, en+vi, ja+ja, vi
    residents = [people.add() for _ in languages]
    for (resident_id, _), lang in zip(residents, languages, strict=True):
        speak(line, resident_id, lang)
    summary = run_slot(line, "senior-2026", NOW, policy=FAST)
    assert summary.counts == {"sent": len(residents)}
    assert sorted(built) == [False, True]
    sent = multicasts(sim)
    reached = [user for r in sent for user in r["body"]["to"]]
    assert sorted(reached) == sorted(user for _, user in residents)
    language_of = {user: lang for (_, user), lang in zip(residents, languages, strict=True)}
    for request in sent:
        assert len({language_of[user] for user in request["body"]["to"]}) == 1
    # Japanese in two chunks at least: two multicasts, keys numbered per chunk.
    ja = [r for r in sent if language_of[r["body"]["to"][0]] == "ja"]
    assert len(ja) >= 2
    with line.session_factory() as session:
        keys = list(session.scalars(select(SendBatch.key)))
    assert len(keys) == len(set(keys)) == len(sent)
