"""The dialog state is a typed model: validated on load, tolerant of stored older dicts."""

from __future__ import annotations

from bot.registration.state import DatePart, DialogState, load


def test_a_state_stored_by_the_older_dict_code_loads_unchanged():
    old = {
        "mode": "register",
        "step": "district",
        "t": 7,
        "queue": ["household_size"],
        "known": ["birth_date"],
        "n": 2,
        "total": 5,
        "exact": False,
        "kids": ["2019-05-10"],
        "sel": ["子育て"],
        "page": 1,
        "dp": {"era": "昭和", "dec": 21, "y": 1946, "m": 5},
        "again": True,
    }
    state = load(old)
    assert (state.mode, state.step, state.t, state.n, state.total) == (
        "register",
        "district",
        7,
        2,
        5,
    )
    assert state.dp == DatePart(era="昭和", dec=21, y=1946, m=5) and state.who is None
    # Written back as it was read (defaults, such as exact=False, left out).
    assert state.dump() == {k: v for k, v in old.items() if k != "exact"}
    assert load(state.dump()) == state


def test_unknown_keys_are_ignored_and_a_damaged_state_becomes_idle_keeping_its_token():
    assert load({"t": 3, "step": "district", "mode": "register", "future": 1}).step == "district"
    assert load({"t": 9, "n": "many", "step": "district"}) == DialogState(t=9)
    assert load({"t": "x"}) == DialogState(t=0)
    assert load(None) == DialogState() and load(["t"]) == DialogState()
    assert DialogState(t=4).dump() == {"t": 4}  # no question open: just the token


def test_idle_keeps_the_token_and_a_family_state_names_its_profile():
    state = DialogState(mode="register", step="birth_date", t=12, who=41, n=1, total=4)
    assert state.open and not state.idle().open and state.idle().t == 12
    assert load(state.dump()).who == 41
