"""Fixtures of the residents import tests."""

from __future__ import annotations

import pytest

from bot.config import load_config
from tests.conftest import SAMPLE_CONFIG


@pytest.fixture(scope="module")
def config():
    """The sample configuration the imported lines are checked against."""
    return load_config(SAMPLE_CONFIG)
