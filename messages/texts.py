"""Every resident-facing text, in every language, from the gettext catalogue.

The catalogue is messages/catalogue/<language>.po (one file per language in
messages.languages.LANGUAGES), read with Babel when this module is imported (or from
a cache of what Babel read, made from the same files); a translator edits those files,
never code. Each entry is

    msgctxt "welcome"          the text's key, as code names it in say("welcome")
    msgid "…"                  the Japanese source text (ja.po is the source)
    msgstr "…"                 the text in this language (empty in ja.po: the msgid is used)

Japanese is polite and plain; やさしい日本語 uses short sentences and few kanji. Button
labels are keys starting `label_` or `menu_`: LINE allows at most 20 characters in a quick
reply label (tests/registration/test_catalogue.py checks every language). `{name}`
placeholders are filled by `say()` and must be the same in every translation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

from messages.languages import DEFAULT, LANGUAGES, known

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
# What `read_catalogue` returns for one language: its texts by key, the Japanese source of
# each, and the groups (sections).
Read = tuple[dict[str, str], dict[str, str], list[tuple[str, list[str]]]]
_CACHE_FORMAT = 1  # bump when `Read` changes shape


def read_catalogue(lang: str, folder: Path = CATALOGUE_DIR) -> Read:
    """One language's texts by key, the Japanese source of each, and the groups (sections)."""
    from babel.messages.pofile import read_po

    with (folder / f"{lang}.po").open("rb") as handle:
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


def read_all(folder: Path = CATALOGUE_DIR, cache: Path | None = None) -> dict[str, Read]:
    """Every language's catalogue, from `cache` when it was made from these very files.

    Reading the .po files with Babel took ~35 ms of every process start (docs/benchmarks.md);
    the cache (JSON, keyed by the files' content) takes ~1 ms. A missing, stale or broken
    cache is rebuilt, an unwritable one skipped: the .po files are always the truth.
    """
    cache = cache if cache is not None else folder / "__pycache__" / "catalogue.json"
    digest = hashlib.sha256(str(_CACHE_FORMAT).encode())
    for lang in LANGUAGES:
        digest.update(lang.encode() + b"\0" + (folder / f"{lang}.po").read_bytes() + b"\0")
    key = digest.hexdigest()
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        stored = json.loads(cache.read_bytes())
        if stored["key"] == key and set(stored["languages"]) == set(LANGUAGES):
            return {
                lang: (texts, sources, [(name, keys) for name, keys in sections])
                for lang, (texts, sources, sections) in stored["languages"].items()
            }
    read = {lang: read_catalogue(lang, folder) for lang in LANGUAGES}
    _store(cache, {"key": key, "languages": read})
    return read


def _store(cache: Path, content: dict) -> None:
    """Write the cache whole or not at all (a read-only install just reads the .po files)."""
    with contextlib.suppress(OSError):
        cache.parent.mkdir(exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=cache.parent, prefix=".catalogue-", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)  # readable as the .po files are (mkstemp makes it 0600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(content, handle, ensure_ascii=False)
            os.replace(temporary, cache)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


_READ = read_all()
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
