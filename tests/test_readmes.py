"""README.md and README.zh-CN.md tell the same facts: the same install command, the same
configs, the same gallery; and each links the other.

"Every config" means: each lesson config ``configs/*.yaml`` is named in each README's lesson
table, each Trainer preset ``configs/trainer/*.yaml`` is named (as `` `cpu` ``, …) and each
preset ``configs/presets/*.yaml`` by its path; and the config paths either README names are
the same set.
"""

from __future__ import annotations

import re

import pytest
from helpers import CONFIGS, REPO

ENGLISH = REPO / "README.md"
CHINESE = REPO / "README.zh-CN.md"
READMES = [ENGLISH, CHINESE]
#: The heading of each README's lesson table.
LESSON_TABLE = {ENGLISH: "## The lessons", CHINESE: "## 各讲内容"}
COURSE_VIDEOS = "https://www.bilibili.com/video/BV1Y7411d7Ys"


def text(readme) -> str:
    return readme.read_text(encoding="utf-8")


def section(readme, heading: str) -> str:
    """The text under ``heading`` down to the next heading of the same level."""
    level = heading.split()[0]
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^{level} |\Z)", text(readme), re.S | re.M)
    assert match, f"{readme.name} has no section {heading!r}"
    return match.group(1)


def config_paths(readme_text: str) -> set[str]:
    return set(re.findall(r"configs/[\w/]+\.yaml", readme_text))


def test_both_readmes_name_the_same_configs():
    assert config_paths(text(ENGLISH)) == config_paths(text(CHINESE))


@pytest.mark.parametrize("readme", READMES, ids=lambda path: path.name)
def test_the_lesson_table_names_every_lesson_config(readme):
    table = section(readme, LESSON_TABLE[readme])
    named = config_paths("\n".join(line for line in table.splitlines() if line.startswith("|")))
    assert {f"configs/{path.name}" for path in CONFIGS.glob("*.yaml")} <= named


@pytest.mark.parametrize("readme", READMES, ids=lambda path: path.name)
def test_every_preset_is_named(readme):
    for preset in (CONFIGS / "trainer").glob("*.yaml"):
        assert f"`{preset.stem}`" in text(readme), f"{readme.name} does not name {preset.stem}"
    for preset in (CONFIGS / "presets").glob("*.yaml"):
        assert f"configs/presets/{preset.name}" in text(readme)


def test_the_same_install_command():
    commands = [re.findall(r"^pip install .*$", text(readme), re.M) for readme in READMES]
    assert commands[0] and commands[0] == commands[1]


def test_each_links_the_other_and_the_chinese_one_the_course():
    assert text(ENGLISH).splitlines()[0].endswith("(README.zh-CN.md)")
    assert "(README.md)" in text(CHINESE).splitlines()[0]
    assert COURSE_VIDEOS in text(CHINESE)
    assert "LESSONS_DATA_DIR" in text(CHINESE) and "--ckpt_path last" in text(CHINESE)


def test_the_same_gallery():
    def images(readme) -> list[str]:
        return re.findall(r"\((docs/gallery/[\w.-]+\.png)\)", text(readme))

    assert images(ENGLISH) and images(ENGLISH) == images(CHINESE)
