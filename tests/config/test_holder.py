"""A running process keeps the last valid configuration; a broken start is refused."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.config import ConfigError, ConfigHolder
from tests.config.helpers import PROGRAMS, edit


def save(folder: Path, name: str, text: str) -> None:
    """Write a file and move its mtime forward, as an editor saving it later would."""
    path = folder / name
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    later = before + 2_000_000_000
    os.utime(path, ns=(later, later))


def test_a_valid_edit_is_picked_up(write_config):
    """Changing a program's name shows up after reload_if_changed."""
    holder = ConfigHolder(write_config())
    assert holder.reload_if_changed() is False, "nothing changed yet"
    save(
        holder.folder,
        "programs.yaml",
        edit(PROGRAMS, "name: 子育て応援給付金", "name: 子育て応援金"),
    )
    assert holder.reload_if_changed() is True
    assert holder.config.program("kosodate-ouen").name == "子育て応援金"


def test_a_broken_edit_is_logged_and_the_last_valid_config_kept(write_config, caplog):
    """A typo saved while running: the report is logged once, service continues."""
    holder = ConfigHolder(write_config())
    before = holder.config
    broken = edit(PROGRAMS, "topic: 子育て", "topic: 子育てXX")
    save(holder.folder, "programs.yaml", broken)
    with caplog.at_level(logging.ERROR, logger="todoku.config"):
        assert holder.reload_if_changed() is False
        assert holder.reload_if_changed() is False
    assert holder.config is before
    errors = [r for r in caplog.records if r.name == "todoku.config" and r.levelno == logging.ERROR]
    assert len(errors) == 1, "one bad edit is reported once, not on every poll"
    assert "programs[1].topic: unknown topic '子育てXX'" in errors[0].getMessage()


def test_fixing_a_broken_edit_brings_the_new_config_in(write_config):
    """After a broken save, the next good save is used."""
    holder = ConfigHolder(write_config())
    save(holder.folder, "programs.yaml", "programs: [")
    assert holder.reload_if_changed() is False
    save(
        holder.folder, "programs.yaml", edit(PROGRAMS, "name: 子育て応援給付金", "name: 直しました")
    )
    assert holder.reload_if_changed() is True
    assert holder.config.program("kosodate-ouen").name == "直しました"


def test_a_deleted_file_keeps_the_last_valid_config(write_config):
    """Removing a file mid-run is a broken edit like any other."""
    holder = ConfigHolder(write_config())
    (holder.folder / "campaigns.yaml").unlink()
    assert holder.reload_if_changed() is False
    assert holder.config.campaign("kosodate-ouen-2026")


def test_an_invalid_configuration_at_start_is_fatal(write_config):
    """A process must not start on a broken configuration: ConfigError with the report."""
    folder = write_config(programs=edit(PROGRAMS, "topic: 子育て", "topic: 子育てXX"))
    with pytest.raises(ConfigError) as caught:
        ConfigHolder(folder)
    assert [p.key for p in caught.value.problems] == ["programs[1].topic"]
