"""The catalogue's cache: the same texts as the .po files say, never stale, never in the way.

Every process reads the catalogue when it starts; the cache saves Babel's parse (~35 ms).
A translator's edit must show at once, and a broken or unwritable cache must not matter.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import babel.messages.pofile
import pytest

from messages import texts
from messages.languages import LANGUAGES


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the shipped catalogue."""
    copy = tmp_path / "catalogue"
    shutil.copytree(texts.CATALOGUE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def from_po(folder: Path) -> dict:
    return {lang: texts.read_catalogue(lang, folder) for lang in LANGUAGES}


def without_babel(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the .po files were parsed again")

    monkeypatch.setattr(babel.messages.pofile, "read_po", refuse)


def test_the_imported_catalogue_is_what_the_po_files_say():
    """Whether the module read the cache or the files, it holds the files' texts."""
    read = from_po(texts.CATALOGUE_DIR)
    assert {lang: texts_ for lang, (texts_, _, _) in read.items()} == texts.CATALOGUE
    assert {lang: sources for lang, (_, sources, _) in read.items()} == texts.SOURCES
    assert read["ja"][2] == texts.SECTIONS


def test_a_second_read_comes_from_the_cache_with_the_same_texts(folder, monkeypatch):
    cache = folder / "cache.json"
    expected = from_po(folder)
    assert texts.read_all(folder, cache) == expected
    assert cache.exists()
    without_babel(monkeypatch)
    assert texts.read_all(folder, cache) == expected


def test_an_edited_translation_shows_at_once(folder):
    """The cache is keyed by the files' content: an edit is never hidden by it."""
    cache = folder / "cache.json"
    texts.read_all(folder, cache)
    po = folder / "en.po"
    old = texts.read_catalogue("en", folder)[0]["welcome"]
    po.write_text(
        po.read_text(encoding="utf-8").replace(old.splitlines()[0], "Welcome, edited!", 1),
        encoding="utf-8",
    )
    again = texts.read_all(folder, cache)
    assert again["en"][0]["welcome"].startswith("Welcome, edited!")
    assert again == from_po(folder)


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe not json", b'{"key": "x"', b"[]", b'{"key": 5, "languages": []}', b"null"],
    ids=["empty", "binary", "truncated", "a list", "wrong shape", "null"],
)
def test_a_broken_cache_is_rebuilt(folder, content):
    cache = folder / "cache.json"
    texts.read_all(folder, cache)
    cache.write_bytes(content)
    assert texts.read_all(folder, cache) == from_po(folder)
    assert cache.read_bytes() != content  # written anew


@pytest.mark.parametrize(
    "languages", [{"ja": [1, 2]}, {"ja": [{}, {}, []]}], ids=["wrong shape", "one language"]
)
def test_a_cache_with_the_right_key_but_not_every_language_is_rebuilt(folder, languages):
    """A cache under the right key that does not hold every language is not trusted."""
    import json

    cache = folder / "cache.json"
    texts.read_all(folder, cache)
    stored = json.loads(cache.read_text(encoding="utf-8"))
    stored["languages"] = languages
    cache.write_text(json.dumps(stored), encoding="utf-8")
    assert texts.read_all(folder, cache) == from_po(folder)


def test_an_unwritable_cache_only_costs_time(folder, tmp_path):
    """A read-only install: the files are read each time, nothing fails."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("", encoding="utf-8")
    cache = blocker / "cache.json"  # its parent is a file: nothing can be written there
    assert texts.read_all(folder, cache) == from_po(folder)
    assert not cache.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".catalogue-")] == []
