"""programs.yaml / campaigns.yaml `translations:` (add-only) and `config check --strict`."""

from __future__ import annotations

from pathlib import Path

from bot.cli import config_check_command
from bot.config import check_folder
from bot.config.check import missing_translations
from bot.config.models import TRANSLATION_LANGUAGES
from messages import LANGUAGES
from tests.config.helpers import (
    CAMPAIGNS,
    MUNICIPALITY,
    PROGRAMS,
    SAMPLE,
    edit,
    line_of,
    only_problem,
)

TRANSLATED = edit(
    PROGRAMS,
    "    eligible:\n      age: {min: 65}\n",
    "    eligible:\n      age: {min: 65}\n"
    "    translations:\n"
    "      en: {name: Smartphone Subsidy for Seniors, summary: Part of the cost of a phone.}\n"
    "      vi: {name: Hỗ trợ mua điện thoại, summary: Hỗ trợ một phần chi phí.}\n"
    "      ja-easy: {name: スマホの おかねの たすけ}\n",
)


CITY = edit(
    MUNICIPALITY,
    "  topics: [子育て, 高齢者]\n",
    "  topics: [子育て, 高齢者]\n"
    "  translations:\n"
    "    en: {name: Murayama City, topics: {子育て: Parenting, 高齢者: Seniors}}\n"
    "    vi: {name: Thành phố Murayama, topics: {子育て: Nuôi dạy con, 高齢者: Người cao tuổi}}\n"
    "    ja-easy: {name: むらやまし, topics: {子育て: こそだて, 高齢者: おとしより}}\n",
)


def write(
    folder: Path, programs: str = PROGRAMS, campaigns: str = CAMPAIGNS, city: str = MUNICIPALITY
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "municipality.yaml").write_text(city, encoding="utf-8")
    (folder / "programs.yaml").write_text(programs, encoding="utf-8")
    (folder / "campaigns.yaml").write_text(campaigns, encoding="utf-8")
    return folder


def test_the_translation_languages_are_ours_without_japanese():
    assert tuple(lang for lang in LANGUAGES if lang != "ja") == TRANSLATION_LANGUAGES


def test_translations_are_optional_and_read(tmp_path):
    config, problems = check_folder(write(tmp_path / "plain"))
    assert problems == [] and config.find_program("senior-smartphone").translations == {}
    config, problems = check_folder(write(tmp_path / "translated", TRANSLATED))
    assert problems == []
    translations = config.find_program("senior-smartphone").translations
    assert translations["en"].name == "Smartphone Subsidy for Seniors"
    assert translations["ja-easy"].summary is None


def test_an_unknown_language_or_key_is_a_problem_with_its_line(tmp_path):
    problem = only_problem(write(tmp_path / "fr", edit(TRANSLATED, "      vi:", "      fr:")))
    assert problem.file.endswith("programs.yaml") and "translations" in problem.key
    assert problem.line is not None
    typo = edit(TRANSLATED, "en: {name:", "en: {nmae:")
    problem = only_problem(write(tmp_path / "typo", typo))
    assert "nmae" in str(problem)


def test_missing_translations_are_listed_per_program_and_campaign(tmp_path):
    folder = write(tmp_path / "c", TRANSLATED)
    config, _ = check_folder(folder)
    found = {p.key: p for p in missing_translations(config, folder)}
    assert set(found) == {
        "municipality.translations",
        "programs[0].translations",
        "programs[1].translations",
        "campaigns[0].translations",
    }
    assert "ja-easy (name, topics)" in found["municipality.translations"].message
    assert "ja-easy (summary)" in found["programs[0].translations"].message
    assert "ja-easy, en, vi" in found["programs[1].translations"].message
    assert found["programs[1].translations"].line == line_of(TRANSLATED, "id: kosodate-ouen")


def test_config_check_notes_them_and_strict_fails_on_them(tmp_path, capsys):
    folder = write(tmp_path / "c", TRANSLATED)
    assert config_check_command(str(folder)) == 0
    out = capsys.readouterr().out
    assert "Translations missing (4" in out and "kosodate-ouen" in out
    assert config_check_command(str(folder), strict=True) == 1
    assert "kosodate-ouen" in capsys.readouterr().err
    complete = edit(
        TRANSLATED,
        "ja-easy: {name: スマホの おかねの たすけ}",
        "ja-easy: {name: スマホの たすけ, summary: スマホの おかねを たすけます。}",
    )
    complete = complete.replace(
        "  - id: kosodate-ouen",
        "  - id: kosodate-ouen\n"
        "    translations: {en: {name: a, summary: b}, vi: {name: c, "
        "summary: d}, ja-easy: {name: e, summary: f}}",
        1,
    )
    campaigns = CAMPAIGNS.replace(
        "    lead: 申請期限が近づいています。\n",
        "    lead: 申請期限が近づいています。\n    translations: "
        "{en: {lead: x}, vi: {lead: y}, ja-easy: {lead: z}}\n",
    )
    folder = write(tmp_path / "d", complete, campaigns, CITY)
    assert config_check_command(str(folder), strict=True) == 0


def test_the_sample_configuration_is_valid_and_partly_translated():
    config, problems = check_folder(SAMPLE)
    assert problems == []
    assert config.find_program("kosodate-ouen").translations.keys() == {"ja-easy", "en", "vi"}
    missing = {p.key for p in missing_translations(config, SAMPLE)}
    assert "programs[0].translations" not in missing and missing


def test_the_city_and_its_topics_may_be_named_in_each_language(tmp_path):
    config, problems = check_folder(write(tmp_path / "c", city=CITY))
    assert problems == []
    city = config.municipality
    assert city.name_in("en") == "Murayama City" and city.name_in("ja") == "村山市"
    assert city.topic_names("vi") == {"子育て": "Nuôi dạy con", "高齢者": "Người cao tuổi"}
    problem = only_problem(write(tmp_path / "d", city=edit(CITY, "高齢者: Seniors", "介護: Care")))
    assert "介護" in str(problem) and problem.file.endswith("municipality.yaml")
