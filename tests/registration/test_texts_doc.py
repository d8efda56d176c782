"""docs/texts.md lists every resident-facing text in every language and where it is used, for
the city to proofread. It is generated from the catalogue (messages/catalogue/*.po) and the
code that says each text; this test fails when the two drift apart. Regenerate with:

    TODOKU_WRITE_DOCS=1 .venv/bin/python -m pytest -q tests/registration/test_texts_doc.py
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

from messages.languages import LANGUAGES
from messages.texts import CATALOGUE, SECTIONS, TEXTS

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "texts.md"
SOURCES = sorted([*REPO.glob("messages/*.py"), *REPO.glob("bot/**/*.py")])
# Texts named by a computed key (f"label_{answer}", "field_" + step, ...): where they are said.
COMPUTED = {
    "feedback_applied": "messages/notice.py build_feedback_thanks",
    "feedback_not_needed": "messages/notice.py build_feedback_thanks",
    "label_applied": "messages/notice.py _feedback",
    "label_not_needed": "messages/notice.py _feedback",
    **{
        f"field_{s}": "messages/review.py _row"
        for s in (
            "birth_date",
            "district",
            "household_size",
            "children",
            "pregnant",
            "single_parent",
            "interests",
        )
    },
}
SECTION_JA = {
    "welcome and consent": "友だち追加・同意",
    "questions": "登録の質問",
    "re-prompts: kind, and always followed by the question again": (
        "聞き直し（このあと同じ質問をもう一度出します）"
    ),
    "finishing and reviewing": "登録の完了・登録内容の確認",
    "programs": "使える制度を見る（カード）",
    "program notices (messages/notice.py)": "制度のお知らせ（配信）",
    "notices on / off": "配信の停止・再開",
    "deletion": "登録情報の削除",
    "the rich menu (labels are read aloud by screen readers; at most 20 characters)": (
        "メニュー（リッチメニュー。読み上げにも使われます）"
    ),
    "free text: the analog route and the menu, never a dead end": (
        "文字で送られたとき（電話・窓口のご案内とメニュー）"
    ),
}
HEADER = """# 住民の方に表示する文言の一覧

LINE で住民の方に表示する文言（メッセージ・ボタン・カード）を、4つのことば（日本語・
やさしい日本語・English・Tiếng Việt）で並べた表です。市で読み合わせ（校正）をするときに
使ってください。文言は `messages/catalogue/` のことばごとのファイル（`ja.po` `ja-easy.po`
`en.po` `vi.po`）にまとまっています。直し方は docs/staff-guide.md の「ことば（多言語）」の
章を見てください。

- `{city}` `{program}` などの `{ }` の部分には、市の名前・制度の名前・日付などが入ります。
- 名前が `label_` `menu_` で始まるものはボタンの文字です（LINE の決まりで 20 文字まで）。
- 「使われる場所」は、その文言を出すプログラムの場所です（ファイルと関数の名前）。
- この表はテストで作っています（`tests/registration/test_texts_doc.py`）。文言を変えたら
  `TODOKU_WRITE_DOCS=1 .venv/bin/python -m pytest -q tests/registration/test_texts_doc.py`
  で作り直してください。
"""


def usages() -> dict[str, list[str]]:
    """For each text name, the functions (file and name) whose code names it."""
    found: dict[str, set[str]] = {name: set() for name in TEXTS}
    for path in SOURCES:
        if path.name == "texts.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(REPO))
        scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        inner = set()
        for scope in scopes:
            for node in ast.walk(scope):
                if isinstance(node, ast.Constant) and node.value in found:
                    found[node.value].add(f"{where} {scope.name}")
                    inner.add(id(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in found and id(node) not in inner:
                found[node.value].add(f"{where} (module)")
    for name, place in COMPUTED.items():
        found[name].add(place)
    return {name: sorted(places) for name, places in found.items()}


def sections() -> list[tuple[str, list[str]]]:
    """The groups of texts as ja.po's `# section:` comments mark them, in order."""
    return SECTIONS


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render() -> str:
    used = usages()
    out = [HEADER]
    for title, names in sections():
        out += [
            f"\n## {SECTION_JA.get(title, title)}\n",
            "| 名前 | 日本語 | やさしい日本語 | English | Tiếng Việt | 使われる場所 |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        out += [
            f"| `{n}` | "
            + " | ".join(cell(CATALOGUE[lang].get(n, "")) for lang in LANGUAGES)
            + f" | {'<br>'.join(used[n])} |"
            for n in names
        ]
    return "\n".join(out) + "\n"


def test_every_text_is_used_somewhere():
    unused = [name for name, places in usages().items() if not places]
    assert unused == []


def test_docs_texts_md_is_up_to_date():
    expected = render()
    if os.environ.get("TODOKU_WRITE_DOCS"):
        DOC.write_text(expected, encoding="utf-8")
    assert DOC.read_text(encoding="utf-8") == expected, "regenerate docs/texts.md (see above)"
