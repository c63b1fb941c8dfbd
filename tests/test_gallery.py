"""The gallery: ``docs/gallery.py`` writes every figure that the lecture pages of the site show
(run here at reduced settings), and the committed figures are the script's, from runs at the
course's settings."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from helpers import REPO, run_command

SCRIPT = REPO / "docs" / "gallery.py"
COMMITTED = REPO / "docs" / "gallery"


def shown_figures(folder: Path = REPO / "docs") -> list[str]:
    """The PNG names the lecture pages in ``folder`` show, in lecture order."""
    names = []
    for page in sorted(folder.glob("lecture*.md")):
        names += re.findall(r"\]\((?:\.\./)?gallery/([\w.-]+\.png)\)", page.read_text("utf-8"))
    return names


def test_both_languages_show_the_same_figures():
    assert shown_figures() and shown_figures() == shown_figures(REPO / "docs" / "en")


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # a process that runs every lesson, briefly
def test_the_script_writes_every_figure_the_pages_show(tmp_path: Path):
    shown = shown_figures()
    assert len(shown) == len(set(shown)) >= 12
    result = run_command(
        sys.executable, str(SCRIPT), "--quick", "--output", str(tmp_path / "gallery"),
        cwd=tmp_path, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(path.name for path in (tmp_path / "gallery").glob("*.png"))
    assert written == sorted(shown)
    for name in written:
        assert is_png(tmp_path / "gallery" / name)
    record = json.loads((tmp_path / "gallery" / "gallery.json").read_text())
    assert sorted(f"{name}.png" for name in record) == sorted(shown)
    assert all(run["quick"] for run in record.values())


def test_the_committed_figures_are_small_and_from_the_courses_settings():
    record = json.loads((COMMITTED / "gallery.json").read_text())
    for name in shown_figures():
        path = COMMITTED / name
        assert is_png(path) and path.stat().st_size < 100_000, name
        run = record[name.removesuffix(".png")]
        assert not run["quick"], f"{name} comes from a reduced run"
