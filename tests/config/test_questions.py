"""municipality.contact and questions.*.ask_if: optional, validated, explained by config check."""

from __future__ import annotations

from bot.cli import config_check_command
from bot.config import check_config, load_config
from tests.config.helpers import KAHOKU, MUNICIPALITY, SAMPLE

ASK_IF = (
    MUNICIPALITY
    + """\
questions:
  pregnant:
    ask_if:
      not: {all: [{age: {min: 60}}, {district: [楯岡]}]}
"""
)


def test_the_sample_sets_a_contact_and_an_ask_if_for_pregnancy():
    config = load_config(SAMPLE)
    assert config.municipality.contact.phone == "0237-55-2111"
    assert "総合案内" in config.municipality.contact.counter
    assert set(config.questions) == {"pregnant"}


def test_both_are_optional(write_config):
    config = load_config(write_config())
    assert config.municipality.contact is None and config.questions == {}


def test_ask_if_uses_the_rule_language_with_this_files_names(write_config):
    assert load_config(write_config(municipality=ASK_IF)).questions["pregnant"].ask_if
    bad = ASK_IF.replace("[楯岡]", "[本町]")
    [problem] = check_config(write_config(municipality=bad))
    assert problem.file.endswith("municipality.yaml")
    assert "unknown district '本町'" in problem.message
    wrong = "      not: {all: [{age: {min: 60}}, {district: [本町]}]}"
    assert problem.line == bad.splitlines().index(wrong) + 1


def test_an_unknown_question_or_key_is_a_problem(write_config):
    typo = MUNICIPALITY + "questions:\n  pregnancy:\n    ask_if: {age: {max: 59}}\n"
    [problem] = check_config(write_config(municipality=typo))
    assert "pregnancy" in problem.key and "'pregnant'" in problem.message
    key = MUNICIPALITY + "questions:\n  pregnant:\n    ask_when: {age: {max: 59}}\n"
    problems = check_config(write_config(municipality=key))
    assert any("unknown key 'ask_when'" in p.message for p in problems)


def test_a_bad_phone_number_is_a_problem(write_config):
    topics = "  topics: [子育て, 高齢者]\n"
    bad = MUNICIPALITY.replace(topics, topics + "  contact: {phone: 市役所}\n")
    [problem] = check_config(write_config(municipality=bad))
    assert problem.key == "municipality.contact.phone" and "0237-55-2111" in problem.expected


def test_config_check_explains_the_questions(capsys):
    assert config_check_command(str(SAMPLE)) == 0
    out = capsys.readouterr().out
    assert "pregnant (妊娠): asked only of residents for whom ask_if holds" in out
    assert '"household_size": {"max": 1}' in out
    assert "warning" not in out


def test_config_check_warns_when_no_contact_exists(capsys):
    """Kahoku sets no municipality.contact and two programs name none: a warning, exit 0."""
    assert config_check_command(str(KAHOKU)) == 0
    out = capsys.readouterr().out
    assert "warning: municipality.yaml: municipality.contact is not set" in out
    assert "iju-teiju, kenko-mileage" in out
    assert "household_size (家族の人数): not asked (no rule reads it)" in out


def test_config_check_warns_when_ask_if_reads_a_later_answer(write_config, capsys):
    later = MUNICIPALITY + "questions:\n  district:\n    ask_if: {interest: [子育て]}\n"
    assert config_check_command(str(write_config(municipality=later))) == 0
    assert "questions.district.ask_if reads interests" in capsys.readouterr().out
