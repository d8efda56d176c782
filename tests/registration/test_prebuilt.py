"""Prebuilt replies (messages.prebuilt): the same JSON the SDK model gives, valid for LINE."""

from __future__ import annotations

import json

import pytest

from bot.registration.outbox import messages_json
from linesim.validation import validate_messages
from messages import LANGUAGES, conversation, prebuilt
from messages.style import CityContact

CITIES = (
    CityContact("村山市", "0237-55-2111", "市民課"),
    CityContact("村山市"),
)


def cases():
    """(name, arguments) of every prebuilt builder in every language."""
    for lang in LANGUAGES:
        yield "build_not_registered", (lang,), {}
        yield "build_start_again", (lang,), {}
        yield "build_note", ("deleted", lang), {}
        yield "build_welcome", ("村山市", lang), {}
        for city in CITIES:
            for registered in (False, True):
                for understood in (False, True):
                    kwargs = {"registered": registered, "understood": understood, "lang": lang}
                    yield "build_contact", (city,), kwargs


@pytest.mark.parametrize(("name", "args", "kwargs"), list(cases()))
def test_prebuilt_equals_the_sdk_model_and_linesim_accepts_it(name, args, kwargs):
    """A prebuilt reply is exactly what its SDK model serialises to, and valid for LINE."""
    model = getattr(conversation, name)(*args, **kwargs)
    built = getattr(prebuilt, name)(*args, **kwargs)
    models = model if isinstance(model, list) else [model]
    texts = built if isinstance(built, tuple) else (built,)
    assert [json.loads(t) for t in texts] == [m.to_dict() for m in models]
    assert validate_messages([t.to_dict() for t in texts]) == []


def test_outbox_json_is_what_json_dumps_gave_for_the_models():
    """Stored replies mixing prebuilt texts and SDK models: byte for byte the old JSON."""
    models = [conversation.build_not_registered("en"), conversation.build_note("deleted")]
    mixed = [prebuilt.build_not_registered("en"), conversation.build_note("deleted")]
    expected = json.dumps([m.to_dict() for m in models], ensure_ascii=False)
    assert messages_json(mixed) == expected
    assert messages_json(models) == expected


def test_a_new_city_name_is_a_new_entry_not_a_stale_one():
    """A staff edit of the city's name (the configuration) shows in the next welcome."""
    first = prebuilt.build_welcome("村山市", "ja")[0]
    second = prebuilt.build_welcome("東根市", "ja")[0]
    assert "村山市" in json.loads(first)["text"]
    assert "東根市" in json.loads(second)["text"]
