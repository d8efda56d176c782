"""Fixtures for configuration tests: a small valid configuration written to a folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.config.helpers import CAMPAIGNS, MUNICIPALITY, PROGRAMS

Writer = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> Writer:
    """Write the three files (the valid defaults unless given); None leaves a file out."""

    def write(
        municipality: str | None = MUNICIPALITY,
        programs: str | None = PROGRAMS,
        campaigns: str | None = CAMPAIGNS,
    ) -> Path:
        texts = {
            "municipality.yaml": municipality,
            "programs.yaml": programs,
            "campaigns.yaml": campaigns,
        }
        for name, text in texts.items():
            path = tmp_path / name
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text, encoding="utf-8")
        return tmp_path

    return write
