"""Every resident-facing text, in every language, from the gettext catalogue.

The catalogue is messages/catalogue/<language>.po (one file per language in
messages.languages.LANGUAGES), read with Babel when this module is imported; a translator
edits those files, never code. Each entry is

    msgctxt "welcome"          the text's key, as code names it in say("welcome")
    msgid "…"                  the Japanese source text (ja.po is the source)
    msgstr "…"                 the text in this language (empty in ja.po: the msgid is used)

Japanese is polite and plain; やさしい日本語 uses short sentences and few kanji. Button
labels are keys starting `label_` or `menu_`: LINE allows at most 20 characters in a quick
reply label (tests/registration/test_catalogue.py checks every language). `{name}`
placeholders are filled by `say()` and must be the same in every translation.
"""

from __future__ import annotations

from importlib.resources import files

from babel.messages.pofile import read_po

from messages.languages import DEFAULT, LANGUAGES, known

CATALOGUE_DIR = files("messages") / "catalogue"


def read_catalogue(lang: str) -> tuple[dict[str, str], dict[str, str], list[tuple[str, list[str]]]]:
    """One language's texts by key, the Japanese source of each, and the groups (sections)."""
    with (CATALOGUE_DIR / f"{lang}.po").open("rb") as handle:
        catalog = read_po(handle, charset="utf-8")
    texts: dict[str, str] = {}
    sources: dict[str, str] = {}
    sections: list[tuple[str, list[str]]] = []
    for message in catalog:
        if not message.id or not message.context:
            continue  # the header
        for comment in message.user_comments:
            if comment.startswith("section: "):
                sections.append((comment.removeprefix("section: "), []))
        key = message.context
        sources[key] = message.id
        text = message.string or (message.id if lang == DEFAULT else "")
        if text:
            texts[key] = text
        if sections:
            sections[-1][1].append(key)
    return texts, sources, sections


_READ = {lang: read_catalogue(lang) for lang in LANGUAGES}
# Every text by language and key; a key missing in a language falls back to Japanese
# (tests keep every language complete, so this is only a guard).
CATALOGUE: dict[str, dict[str, str]] = {lang: read[0] for lang, read in _READ.items()}
# The Japanese source each translation was made from (msgid), to spot stale translations.
SOURCES: dict[str, dict[str, str]] = {lang: read[1] for lang, read in _READ.items()}
# The groups of texts, in order, as ja.po's `# section:` comments mark them (docs/texts.md).
SECTIONS: list[tuple[str, list[str]]] = _READ[DEFAULT][2]
TEXTS: dict[str, str] = CATALOGUE[DEFAULT]


def say(name: str, /, lang: str = DEFAULT, **values: object) -> str:
    """The text named `name` in `lang`, with its placeholders filled in."""
    text = CATALOGUE[known(lang)].get(name) or TEXTS[name]
    return text.format(**values) if values else text
