"""Message builders: pure, valid for LINE (linesim's validation), and in plain Japanese."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from types import SimpleNamespace

import pytest

import messages
from linesim.validation import validate_messages
from messages import (
    MAX_BUBBLES,
    STEPS,
    TEXTS,
    Ask,
    build_program_list,
    build_question,
    build_review,
    build_rich_menu,
    build_welcome,
    decode,
    encode,
    wareki,
)
from segments import Profile

TODAY = dt.date(2026, 11, 22)
DISTRICTS = ("楯岡", "西郷", "大久保", "冨本", "戸沢", "袖崎", "大倉", "富並")
TOPICS = ("子育て", "高齢者", "健康・福祉", "住まい", "仕事・産業", "防災", "イベント")


def valid(*built) -> list[dict]:
    """The messages as LINE JSON, failing the test if linesim would refuse them."""
    bodies = [m.to_dict() for m in built]
    problems = validate_messages(bodies)
    assert problems == [], problems
    return bodies


def quick_labels(body: dict) -> list[str]:
    return [item["action"]["label"] for item in body["quickReply"]["items"]]


def test_public_surface_is_pinned():
    """messages/__init__.py exports exactly these names."""
    assert sorted(messages.__all__) == sorted(
        [
            "DEFAULT",
            "LANGUAGES",
            "LANGUAGE_ACTION",
            "NAMES",
            "build_language_choice",
            "build_privacy",
            "date_with_weekday",
            "from_line_profile",
            "known",
            "localized",
            "localized_lead",
            "long_date",
            "readback_date",
            "FEEDBACK_ACTION",
            "MAX_BUBBLES",
            "MAX_HOUSEHOLD",
            "MENU_ITEMS",
            "PARENT_MIN_AGE",
            "STEPS",
            "TEXTS",
            "Ask",
            "CityContact",
            "NoticeLinks",
            "both_calendars",
            "build_contact",
            "build_delete_confirm",
            "build_feedback_confirm",
            "build_feedback_thanks",
            "build_feedback_undone",
            "build_finished",
            "build_help",
            "build_later",
            "build_not_registered",
            "build_note",
            "build_notice",
            "build_paused",
            "build_program_list",
            "build_question",
            "build_review",
            "build_rich_menu",
            "build_start_again",
            "build_welcome",
            "city_of",
            "decode",
            "describe",
            "earliest_birth",
            "earliest_child_birth",
            "encode",
            "notice_alt_text",
            "notice_object",
            "parse_date",
            "phone_in",
            "program_bubble",
            "say",
            "seireki",
            "tel_uri",
            "wants_contact",
            "wareki",
            "wareki_with_year",
            "years_before",
        ]
    )
    for name in messages.__all__:
        assert hasattr(messages, name)


def test_every_button_label_fits_in_twenty_characters():
    """LINE refuses quick reply labels longer than 20 characters."""
    widest = {
        "era": "大正",
        "a": 11,
        "b": 15,
        "wa": 1922,
        "wb": 1926,
        "phone": "0237-55-2111",
        "m": 12,
    }
    for name, text in TEXTS.items():
        if name.startswith(("label_", "menu_")):
            assert len(text.format(**widest)) <= 20, name


def test_welcome_says_what_and_asks_consent():
    """The welcome explains the account, the privacy note, and offers 同意して登録する / あとで."""
    welcome, privacy = valid(*build_welcome("村山市"))
    assert "村山市" in welcome["text"] and "補助金" in welcome["text"]
    for must in ("使い方", "保存するもの", "消し方", "登録情報の削除"):
        assert must in privacy["text"]
    assert quick_labels(privacy) == ["同意して登録する", "あとで", "Language / 言語"]


@pytest.mark.parametrize("step", STEPS)
def test_every_question_is_valid_with_a_skip_button_and_progress(step):
    """Each question shows its progress and offers 答えない, with the step token in its data."""
    ask = Ask(
        step=step,
        token=7,
        today=TODAY,
        progress=(2, 5),
        choices=TOPICS if step == "interests" else DISTRICTS,
    )
    [body] = valid(build_question(ask))
    assert body["text"].startswith("（2/5）")
    assert "答えない" in quick_labels(body)
    for item in body["quickReply"]["items"]:
        assert decode(item["action"]["data"])["t"] == "7"


def _picker(body: dict) -> dict:
    [picker] = [
        i["action"] for i in body["quickReply"]["items"] if i["action"]["type"] == "datetimepicker"
    ]
    return picker


def test_birth_date_is_typed_or_tapped_by_era_or_picked():
    """Typed (the text says how), 元号 buttons, or the calendar opening 70 years back."""
    [body] = valid(build_question(Ask(step="birth_date", token=1, today=TODAY)))
    assert "昭和21年5月3日" in body["text"]
    assert quick_labels(body) == [
        "昭和生まれ",
        "大正生まれ",
        "平成生まれ",
        "カレンダーで選ぶ",
        "答えない",
    ]
    picker = _picker(body)
    assert picker["mode"] == "date"
    assert picker["max"] == "2026-11-22" and picker["min"] == "1906-11-22"
    assert picker["initial"] == "1956-11-22"  # 70 years back: where most residents are


def test_the_era_path_needs_no_scrolling():
    """昭和 → 昭和21〜30年 → 昭和21年 → 5月 → a picker confined to May 1946."""
    ask = Ask(step="birth_date", token=1, today=TODAY, era="昭和")
    [ranges] = valid(build_question(ask))
    assert quick_labels(ranges)[:2] == ["昭和1〜10年（1926〜1935）", "昭和11〜20年（1936〜1945）"]
    assert quick_labels(ranges)[-1] == "選び直す"
    [years] = valid(
        build_question(Ask(step="birth_date", token=1, today=TODAY, era="昭和", decade=21))
    )
    assert quick_labels(years)[0] == "昭和21年（1946）" and len(quick_labels(years)) == 11
    [months] = valid(
        build_question(
            Ask(step="birth_date", token=1, today=TODAY, era="昭和", decade=21, year=1946)
        )
    )
    assert quick_labels(months) == [f"{m}月" for m in range(1, 13)] + ["選び直す"]
    assert "昭和21年（1946年）" in months["text"]
    [day] = valid(
        build_question(
            Ask(step="birth_date", token=1, today=TODAY, era="昭和", decade=21, year=1946, month=5)
        )
    )
    picker = _picker(day)
    assert (picker["initial"], picker["min"], picker["max"]) == (
        "1946-05-01",
        "1946-05-01",
        "1946-05-31",
    )
    assert "昭和21年5月" in day["text"]


def test_child_picker_starts_when_the_parent_was_twelve():
    """A child cannot be born before the parent was 12: the picker's min says so."""
    ask = Ask(step="children", token=1, today=TODAY, parent_birth=dt.date(1990, 6, 1))
    [body] = valid(build_question(ask))
    picker = _picker(body)
    assert picker["min"] == "2002-06-01" and picker["initial"] == "2021-11-22"
    assert quick_labels(body) == [
        "いない",
        "令和生まれ",
        "平成生まれ",
        "カレンダーで選ぶ",
        "答えない",
    ]


def test_after_one_child_the_question_reads_it_back_and_offers_another_or_done():
    """After a child, its date is read back; the resident adds another or says that is all."""
    ask = Ask(
        step="children",
        token=1,
        today=TODAY,
        children=1,
        last_child=dt.date(2019, 5, 10),
        parent_birth=dt.date(1990, 6, 1),
    )
    [body] = valid(build_question(ask))
    assert "令和元年5月10日（2019年）生まれのお子さんを登録しました" in body["text"]
    assert "1人" in body["text"]
    assert quick_labels(body) == ["これで全部", "令和生まれ", "平成生まれ", "カレンダーで選ぶ"]


def test_topics_show_what_is_chosen_and_toggle():
    """Chosen topics carry a check mark; 完了 ends the question."""
    ask = Ask(step="interests", token=3, today=TODAY, choices=TOPICS, chosen=frozenset({"防災"}))
    [body] = valid(build_question(ask))
    labels = quick_labels(body)
    assert "✓防災" in labels and "子育て" in labels and labels[0] == "完了"
    assert "防災" in body["text"] and "いくつでも選べます" in body["text"]
    again = Ask(
        step="interests",
        token=4,
        today=TODAY,
        choices=TOPICS,
        progress=(5, 5),
        chosen=frozenset({"防災", "高齢者"}),
        repeat=True,
    )
    [short] = valid(build_question(again))
    assert short["text"].startswith("いま選んでいる分野：高齢者、防災")
    assert "いくつでも選べます" not in short["text"] and "（5/5）" not in short["text"]


def test_many_districts_are_paged_within_thirteen_buttons():
    """More districts than LINE's 13 quick replies: pages with a ほかの地区 button."""
    many = tuple(f"地区{i}" for i in range(30))
    first = valid(build_question(Ask(step="district", token=1, today=TODAY, choices=many)))[0]
    second = valid(
        build_question(Ask(step="district", token=1, today=TODAY, choices=many, page=1))
    )[0]
    assert len(first["quickReply"]["items"]) == 13
    assert "ほかの地区" in quick_labels(first)
    assert set(quick_labels(first)).isdisjoint(
        set(quick_labels(second)) - {"ほかの地区", "答えない"}
    )


def test_note_comes_before_the_question():
    """A kind re-prompt says what was wrong, then asks again."""
    ask = Ask(step="pregnant", token=1, today=TODAY, note="use_buttons")
    [body] = valid(build_question(ask))
    assert body["text"].startswith(TEXTS["use_buttons"])


def test_wareki_covers_showa_to_reiwa():
    """Dates read in the Japanese era, 元年 for the first year."""
    assert wareki(dt.date(1958, 7, 3)) == "昭和33年7月3日"
    assert wareki(dt.date(1989, 1, 8)) == "平成元年1月8日"
    assert wareki(dt.date(2019, 5, 1)) == "令和元年5月1日"
    assert wareki(dt.date(2026, 11, 22)) == "令和8年11月22日"


def test_review_shows_every_answer_in_plain_japanese_with_change_buttons():
    """Each configured answer is shown (dates in 和暦 and 西暦) with its own 変更 button."""
    profile = Profile(
        birth_date=dt.date(1988, 4, 2),
        district="楯岡",
        household_size=3,
        children=(dt.date(2019, 5, 10),),
        pregnant=None,
        single_parent=False,
        interests=frozenset({"子育て"}),
    )
    [body] = valid(build_review(profile, STEPS, paused=True))
    dumped = str(body)
    for shown in (
        "昭和63年4月2日（1988年4月2日）",
        "楯岡",
        "3人",
        "令和元年5月10日",
        "答えていません",
        "いいえ",
        "子育て",
        "止めています",
    ):
        assert shown in dumped, shown
    edits = [decode(a["data"]) for a in _actions(body) if a["type"] == "postback"]
    assert [e.get("q") for e in edits] == [*STEPS, None]  # the last row: the language
    assert edits[-1]["a"] == "lang"


def _actions(node):
    if isinstance(node, dict):
        if node.get("type") in ("postback", "uri") and "label" in node:
            yield node
        for value in node.values():
            yield from _actions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _actions(value)


def _program(i: int, apply_url: str | None = "https://logoform.jp/form/x") -> SimpleNamespace:
    period = SimpleNamespace(opens=dt.date(2026, 4, 1), closes=dt.date(2027, 1, 1 + i % 28))
    return SimpleNamespace(
        name=f"制度{i}",
        summary="説明です。",
        homepage="https://www.city.murayama.lg.jp/p",
        apply_url=apply_url,
        contact="0237-55-2111",
        department=None,
        period=period,
    )


def test_program_carousel_has_deadline_contact_and_links():
    """A card shows the period with its 締切, the counter, くわしく見る and オンラインで申し込む."""
    intro, carousel = valid(
        *build_program_list(
            [_program(1), _program(2, apply_url=None)],
            TODAY,
            "https://www.city.murayama.lg.jp/",
            skipped_some=False,
        )
    )
    assert "2件" in intro["text"]
    first, second = carousel["contents"]["contents"]
    assert "令和9年1月2日（土）まで・あと41日" in str(first)
    assert "0237-55-2111" in str(first)
    assert [a["label"] for a in _actions(first)] == [
        "オンラインで申し込む",
        "くわしく見る",
        "電話する 0237-55-2111",
    ]
    assert [a["label"] for a in _actions(second)] == ["くわしく見る", "電話する 0237-55-2111"]
    call = list(_actions(first))[-1]
    assert call["uri"] == "tel:0237552111"


def test_more_than_twelve_programs_end_with_a_link_to_the_city():
    """Over 12 matches: 11 cards and one that says how many more and links the city HP."""
    programs = [_program(i) for i in range(20)]
    _, carousel = valid(
        *build_program_list(programs, TODAY, "https://www.city.murayama.lg.jp/", skipped_some=False)
    )
    bubbles = carousel["contents"]["contents"]
    assert len(bubbles) == MAX_BUBBLES
    assert "ほかに9件" in str(bubbles[-1])
    assert [a["uri"] for a in _actions(bubbles[-1])] == ["https://www.city.murayama.lg.jp/"]


def test_a_program_without_contact_shows_the_city_phone_and_counter():
    """municipality.contact stands in where a program names no contact of its own."""
    bare = SimpleNamespace(**{**vars(_program(1)), "contact": None})
    city = messages.CityContact("村山市", "0237-55-2111", "市役所1階 総合案内")
    _, carousel = valid(
        *build_program_list([bare], TODAY, "https://x.jp/", skipped_some=False, city=city)
    )
    [card] = carousel["contents"]["contents"]
    assert "市役所1階 総合案内" in str(card) and "tel:0237552111" in str(card)
    _, carousel = valid(*build_program_list([bare], TODAY, "https://x.jp/", skipped_some=False))
    assert "市役所の窓口や電話でも" in str(carousel) and "tel:" not in str(carousel)


def test_no_programs_is_a_kind_note_with_a_hint_to_answer_more():
    """Nothing fits: a kind message, and a hint when some questions were skipped."""
    [plain] = valid(*build_program_list([], TODAY, "https://x.jp/", skipped_some=False))
    [hinted] = valid(*build_program_list([], TODAY, "https://x.jp/", skipped_some=True))
    assert "ありません" in plain["text"] and "答えていない" not in plain["text"]
    assert "答えていない質問" in hinted["text"]


def test_postback_data_round_trips_and_ignores_junk():
    """Postback data decodes to its fields; malformed data decodes to nothing harmful."""
    data = encode("ans", q="district", v="楯岡", t=3)
    assert decode(data) == {"a": "ans", "q": "district", "v": "楯岡", "t": "3"}
    assert decode("x=1&&&=") == {}
    assert decode(None) == {}


def test_rich_menu_has_four_items_within_limits():
    """The menu: 2500×843, four postback areas covering the image, within LINE's limits."""
    menu = build_rich_menu("todoku-menu-test").to_dict()
    assert menu["size"] == {"width": 2500, "height": 843}
    labels = [a["action"]["label"] for a in menu["areas"]]
    assert labels == [
        "登録内容の確認・変更",
        "使える制度を見る",
        "配信の停止・再開",
        "登録情報の削除",
    ]
    assert sum(a["bounds"]["width"] * a["bounds"]["height"] for a in menu["areas"]) == 2500 * 843
    assert len(menu["chatBarText"]) <= 14


@pytest.mark.parametrize("whose", [(), ("", "母")], ids=["holder", "holder-and-mother"])
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_notice_sent_as_json_is_the_notice_the_sdk_validates(whose, lang):
    """The dispatcher sends `notice_object` as it is (no SDK model): it must be exactly
    what the SDK's model of the same notice serialises to, and valid for LINE."""
    program = SimpleNamespace(**{**vars(_program(3)), "id": "p3"})
    links = messages.NoticeLinks("https://t.example/r/d", "https://t.example/r/a")
    city = messages.CityContact("村山市", "0237-55-2111", "市役所1階 総合案内")
    args = (program, "締切まであと少し", links, TODAY, city, lang)
    sent = messages.notice_object(*args, whose=whose)
    built = messages.build_notice(*args, whose=whose)
    [model] = valid(built)
    assert sent == model
    assert validate_messages([sent]) == []
    assert "p3" in str(sent) and "https://t.example/r/a" in str(sent)


def test_a_notice_is_built_without_importing_the_line_sdk_or_flask():
    """`todoku send` must not wait for the SDK's import (over a second) or Flask's (~0.1 s)
    before its first multicast: the dispatch path, its notice with its tracked links and
    its HTTP client load without them."""
    code = (
        "import sys, datetime as dt\n"
        "from types import SimpleNamespace as N\n"
        "import bot.cli, bot.dispatch.run, bot.line.http, bot.wiring\n"
        "from bot.links import notice_links\n"
        "from messages import notice_object\n"
        "p = N(id='p', name='n', summary='s', apply_url='https://x/a', contact=None,"
        " department=None, period=N(opens=dt.date(2026, 4, 1), closes=dt.date(2027, 1, 1)))\n"
        "s = N(secret_key=N(get_secret_value=lambda: 'k' * 32), public_url='https://t.example')\n"
        "links = notice_links(s, p, 7, 'c')\n"
        "notice = notice_object(p, None, links, dt.date(2026, 12, 1))\n"
        "assert notice['type'] == 'flex', notice\n"
        "assert 'https://t.example/r/' in str(notice), notice\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('linebot', 'flask')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
