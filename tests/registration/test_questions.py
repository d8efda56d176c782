"""Only what the configured rules read is asked (plus topics), derived from the configuration."""

from __future__ import annotations

import shutil
import textwrap

from bot.config import load_config
from bot.registration.steps import questions_for
from tests.conftest import SAMPLE_CONFIG

PROGRAM = """\
  - id: {id}
    name: 制度{id}
    summary: 説明です。
    topic: 高齢者
    homepage: https://www.city.murayama.lg.jp/{id}
    period: {{opens: 2026-04-01, closes: 2027-03-31}}
"""


def config_with(tmp_path, eligible: list[str | None], audience: str | None = None):
    """A configuration whose programs have the given rules (YAML, or None for none)."""
    shutil.copy(SAMPLE_CONFIG / "municipality.yaml", tmp_path / "municipality.yaml")
    programs = ["programs:"]
    for i, rule in enumerate(eligible):
        programs.append(PROGRAM.format(id=f"p{i}"))
        if rule:
            programs.append(f"    eligible: {rule}\n")
    (tmp_path / "programs.yaml").write_text("\n".join(programs), encoding="utf-8")
    campaign = textwrap.dedent("""\
        campaigns:
          - id: c0
            program: p0
            send: [{at: 2026-05-01 10:00}]
        """)
    if audience:
        campaign += f"    audience: {audience}\n"
    (tmp_path / "campaigns.yaml").write_text(campaign, encoding="utf-8")
    return load_config(tmp_path)


def test_sample_configuration_asks_everything(wiring):
    """The Murayama sample uses every attribute, so every question is asked."""
    assert questions_for(wiring.config) == (
        "birth_date",
        "district",
        "household_size",
        "children",
        "pregnant",
        "single_parent",
        "interests",
    )


def test_only_attributes_some_rule_reads_are_asked(tmp_path):
    """Age and district rules: birth date and district, and topics always."""
    config = config_with(tmp_path, ["{age: {min: 65}}", "{district: [楯岡]}", None])
    assert questions_for(config) == ("birth_date", "district", "interests")


def test_nested_rules_and_campaign_audiences_count(tmp_path):
    """Attributes inside all/any/not and in campaign audiences are found too."""
    audience = "{any: [{household_size: {max: 1}}, {interest: [防災]}]}"
    config = config_with(tmp_path, ["{not: {pregnant: true}}"], audience=audience)
    assert questions_for(config) == ("household_size", "pregnant", "interests")


def test_no_rules_asks_only_topics(tmp_path):
    """Programs for everyone: nothing personal is asked, only topics."""
    assert questions_for(config_with(tmp_path, [None, None])) == ("interests",)
