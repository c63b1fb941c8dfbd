"""The READMEs are the front door and the site (``docs/``) holds the rest; both tell the same
facts in Chinese and English.

- README.md is under 8 KB; README.zh-CN.md has the same sections; both give the same install
  command, name the same configs, and their lesson tables name every lesson config.
- Every page of the site has a twin under the same name in the other language, and links it.
- Every lecture 2-13 has a page in both languages that links its notebook, a config of its
  own and its episode of the course's videos; together the lecture pages link every config.
- The running guide names every Trainer preset and every preset of ``configs/presets/``.
- The README's test command, followed on a fresh clone with no ``../shared`` beside it and the
  data served by a mirror on 127.0.0.1 (``LESSONS_MIRROR``), passes and downloads each file once.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from helpers import CONFIGS, REPO

ENGLISH = REPO / "README.md"
CHINESE = REPO / "README.zh-CN.md"
READMES = [ENGLISH, CHINESE]
#: Each README's sections, in order: (English heading, its Chinese twin).
SECTIONS = [
    ("## The two commands", "## 两条命令"),
    ("## The lessons", "## 各讲内容"),
    ("## The course site", "## 课程网站"),
    ("## Data, offline", "## 离线数据"),
    ("## Lightning's private API", "## Lightning 的私有 API"),
    ("## Where to go next", "## 接下来"),
]
LESSON_TABLE = {ENGLISH: "## The lessons", CHINESE: "## 各讲内容"}
COURSE_VIDEOS = "https://www.bilibili.com/video/BV1Y7411d7Ys"
DOCS = REPO / "docs"
CHINESE_PAGES = sorted(DOCS.glob("*.md"))
ENGLISH_PAGES = sorted((DOCS / "en").glob("*.md"))
LECTURES = range(2, 14)


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def section(readme, heading: str) -> str:
    """The text under ``heading`` down to the next heading of the same level."""
    level = heading.split()[0]
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^{level} |\Z)", text(readme), re.S | re.M)
    assert match, f"{readme.name} has no section {heading!r}"
    return match.group(1)


def config_paths(markdown: str) -> set[str]:
    return set(re.findall(r"configs/[\w/]+\.yaml", markdown))


def links(markdown: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", markdown)


def test_the_english_readme_is_a_front_door_under_8_kb():
    assert len(ENGLISH.read_bytes()) <= 8 * 1024


def test_both_readmes_have_the_same_sections():
    for readme, language in ((ENGLISH, 0), (CHINESE, 1)):
        headings = re.findall(r"^## .*$", text(readme), re.M)
        assert headings == [pair[language] for pair in SECTIONS], readme.name


def test_both_readmes_name_the_same_configs():
    assert config_paths(text(ENGLISH)) == config_paths(text(CHINESE))


@pytest.mark.parametrize("readme", READMES, ids=lambda path: path.name)
def test_the_lesson_table_names_every_lesson_config_and_links_what_exists(readme):
    table = "\n".join(
        line for line in section(readme, LESSON_TABLE[readme]).splitlines() if line.startswith("|")
    )
    assert {f"configs/{path.name}" for path in CONFIGS.glob("*.yaml")} <= config_paths(table)
    targets = [link for link in links(table) if not link.startswith("https://")]
    assert targets, f"{readme.name}: the lesson table links nothing"
    for target in targets:
        assert (REPO / target).is_file(), f"{readme.name} links {target}, which does not exist"
    for lecture in LECTURES:
        assert f"{COURSE_VIDEOS}?p={lecture})" in table, f"{readme.name}: no episode {lecture}"


def test_the_same_install_command():
    commands = [  # without the comments, which are in each README's language
        re.findall(r"^(pip install [^#\n]*?)\s*(?:#.*)?$", text(readme), re.M) for readme in READMES
    ]
    assert commands[0] and commands[0] == commands[1]


def test_each_links_the_other_and_the_course():
    assert text(ENGLISH).splitlines()[0].endswith("(README.zh-CN.md)")
    assert "(README.md)" in text(CHINESE).splitlines()[0]
    for readme in READMES:
        assert COURSE_VIDEOS in text(readme) and "LESSONS_DATA_DIR" in text(readme)
        assert "mkdocs serve" in text(readme), f"{readme.name} does not say how to open the site"


def test_every_page_has_a_twin_in_the_other_language_and_links_it():
    assert [page.name for page in CHINESE_PAGES] == [page.name for page in ENGLISH_PAGES]
    for page in CHINESE_PAGES:
        assert f"(en/{page.name})" in text(page), f"docs/{page.name} does not link its twin"
        assert f"(../{page.name})" in text(DOCS / "en" / page.name), f"docs/en/{page.name}"


@pytest.mark.parametrize("lecture", LECTURES)
def test_each_lecture_page_links_its_notebook_configs_and_episode(lecture: int):
    (notebook,) = (REPO / "notebooks").glob(f"lecture{lecture:02d}_*.ipynb")
    name = f"lecture{lecture:02d}.md"
    for page, prefix in ((DOCS / name, ""), (DOCS / "en" / name, "../")):
        page_links = links(text(page))
        assert f"{COURSE_VIDEOS}?p={lecture}" in page_links, f"{page}: no episode {lecture}"
        assert f"{prefix}notebooks/{notebook.name}" in page_links, f"{page}: no notebook"
        configs = [link for link in page_links if re.fullmatch(rf"{prefix}configs/\w+\.yaml", link)]
        assert configs, f"{page} links no config"
        for link in configs:
            assert (REPO / link.removeprefix(prefix)).is_file(), f"{page} links {link}"


def test_the_lecture_pages_link_every_lesson_config():
    linked = set()
    for lecture in LECTURES:
        linked |= config_paths(text(DOCS / f"lecture{lecture:02d}.md"))
    assert {f"configs/{path.name}" for path in CONFIGS.glob("*.yaml")} <= linked


@pytest.mark.parametrize("page", [DOCS / "running.md", DOCS / "en" / "running.md"], ids=str)
def test_the_running_guide_names_every_preset(page):
    for preset in (CONFIGS / "trainer").glob("*.yaml"):
        assert f"`{preset.stem}`" in text(page), f"{page} does not name {preset.stem}"
    for preset in (CONFIGS / "presets").glob("*.yaml"):
        assert f"configs/presets/{preset.name}" in text(REPO / "docs" / "data.md")
        assert f"configs/presets/{preset.name}" in text(page.parent / "data.md")


def readme_test_command(readme) -> str:
    """The README's test command: the code block of its first section that runs pytest."""
    blocks = re.findall(
        r"```bash\n(.*?)\n```", section(readme, SECTIONS[0][readme == CHINESE]), re.S
    )
    (command,) = [block for block in blocks if "pytest" in block]
    return command


def test_both_readmes_give_a_test_command_a_fresh_clone_can_run():
    assert readme_test_command(ENGLISH) == readme_test_command(CHINESE) == "python -m pytest"
    for readme in READMES:  # and the variant for a machine without a network
        assert "`LESSONS_DATA_DIR=/path/to/data python -m pytest`" in text(readme)
        assert "shared" not in section(readme, SECTIONS[0][readme == CHINESE])


#: A few default-tier tests that read each data file (diabetes, names, MNIST): the README's
#: test command with ``-k`` stays a minute or two.
READS_THE_DATA = (
    "test_dataset_has_the_course_rows or test_the_files_hold_13374_and_6700_names_of_18_countries"
    " or test_both_ways_give_identical_first_batches"
)


class Mirror(http.server.ThreadingHTTPServer):
    """``python -m http.server -d DATA`` on 127.0.0.1, in a thread; ``requests`` lists the
    paths asked for."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.server_port}"
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)


@pytest.mark.slow
def test_the_readmes_test_command_passes_on_a_fresh_clone_downloading_each_file_once(tmp_path):
    """A learner's clone: no ../shared beside it, no LESSONS_DATA_DIR; the data comes from a
    loopback mirror (the public addresses come after it, and are never reached), into the
    clone's data/ folder, once for the session's two processes; a second run downloads none."""
    from datamodules.download import lesson_files

    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    data = Path(os.environ["LESSONS_DATA_DIR"])
    if not all((data / remote.name).is_file() for remote in lesson_files()):
        pytest.skip(f"the data files are not all in {data}; set LESSONS_DATA_DIR")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    assert not (clone.parent / "shared").exists()
    mirror = Mirror(data)
    mirror.thread.start()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LESSONS_DATA_DIR", "PYTHONPATH") and not key.startswith("PYTEST_")
    }
    environment["LESSONS_MIRROR"] = mirror.url
    python, *command = shlex.split(readme_test_command(ENGLISH))
    assert python == "python"
    command = [sys.executable, *command, "-k", READS_THE_DATA, "-n", "2", "-p", "no:cacheprovider"]
    try:
        runs = [
            subprocess.run(
                command, cwd=clone, env=environment, capture_output=True, text=True, timeout=900
            )
            for _ in range(2)
        ]
    finally:
        mirror.shutdown()
        mirror.server_close()
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert re.search(r"\b3 passed\b", run.stdout), run.stdout[-2000:]
    every_file = sorted(f"/{remote.name}" for remote in lesson_files())
    assert sorted(mirror.requests) == every_file  # each once, and none on the second run
    assert "downloading it into" in runs[0].stdout and "downloading" not in runs[1].stdout
    for remote in lesson_files():
        assert (clone / "data" / remote.name).read_bytes() == (data / remote.name).read_bytes()
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True)
    assert status.stdout == b"", status.stdout  # data/ is ignored; nothing else was written


#: A code block as Material renders one: its code scrolls sideways unless extra.css wraps it.
CODE_PAGE = """<html><head><meta name="viewport" content="width=device-width">{css}
<style>.md-typeset pre > code {{ display: block; overflow: auto; }}</style></head>
<body><article class="md-typeset"><pre><code>pip install -e ".[dev,notebooks]" &amp;&amp; \
python cli.py fit --config configs/diabetes.yaml --trainer.max_epochs 3</code></pre>
</article></body></html>"""


@pytest.mark.slow
def test_the_site_check_finds_code_that_scrolls_sideways_and_extra_css_wraps_it(tmp_path, capsys):
    """docs/check_site.py, which CI runs on the built site, on two pages: at a phone's width
    the install command scrolls sideways without docs/stylesheets/extra.css, wraps with it."""
    if shutil.which("chromium") is None:
        pytest.skip("no chromium (Debian's chromium and fonts-wqy-microhei; .ci/run installs it)")
    sys.path.insert(0, str(DOCS))
    try:
        import check_site
    finally:
        sys.path.remove(str(DOCS))
    stylesheet = DOCS / "stylesheets" / "extra.css"
    for name, css in (("wrapped", f"<style>{stylesheet.read_text()}</style>"), ("bare", "")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text(CODE_PAGE.format(css=css))
    assert check_site.check(tmp_path, tmp_path / "shots", ["wrapped/index.html"]) == 1
    wide = re.findall(r"^scrolls sideways: (\S+) at (\d+) px: (\w+)", capsys.readouterr().out, re.M)
    assert {page for page, _, _ in wide} == {"bare/index.html"}, wide
    assert ("bare/index.html", "390", "code") in wide
    assert (tmp_path / "shots" / "wrapped_390.png").stat().st_size > 0
