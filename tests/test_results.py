"""One source for every measured number: ``docs/results.json`` holds each figure with the
command, seed and machine that give it, and every percentage and loss figure that the site's
pages and the READMEs print is found there (at the precision the page shows it). A figure
typed by hand that drifts from the file, or that no run recorded, fails here.

A figure is a decimal number followed by ``%`` (``97.64 %``; in a list such as
``98.71 / 98.59 / 98.80 %`` each one), or a decimal number right after a word for loss
(``loss: 2.170``, ``train_loss 0.380``, ``损失 0.380``); the benchmarks' decimal seconds and
ratios (``76.4 s``, ``1.16×``) too. Whole percentages are settings (``20 %`` held out), not
measurements, and are not checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import REPO

RESULTS = REPO / "docs" / "results.json"
GALLERY = REPO / "docs" / "gallery" / "gallery.json"
#: The site's pages, the READMEs and the configs' comments.
PAGES = [
    *sorted(REPO.glob("docs/**/*.md")),
    REPO / "README.md",
    REPO / "README.zh-CN.md",
    *sorted(REPO.glob("configs/**/*.yaml")),
]

NUMBER = r"\d+\.\d+"
#: One decimal percentage or a list of them sharing the last one's ``%``.
PERCENTAGES = re.compile(rf"{NUMBER}(?:\s*(?:/|,|，|、|and|or|和|或)\s*{NUMBER})*\s?%")
LOSS = re.compile(rf"(?:\bloss\w*|损失)\W{{0,3}}?({NUMBER})(?![\d.])")
SECONDS = re.compile(rf"({NUMBER}) s\b")
RATIO = re.compile(rf"({NUMBER})×")


def results() -> list[dict]:
    return json.loads(RESULTS.read_text(encoding="utf-8"))["results"]


def figures(text: str) -> list[tuple[str, str]]:
    """(kind, number as written) for each percentage and loss figure in ``text``."""
    found = []
    for match in PERCENTAGES.finditer(text):
        found += [("%", number) for number in re.findall(NUMBER, match.group())]
    found += [("loss", number) for number in LOSS.findall(text)]
    found += [("s", number) for number in SECONDS.findall(text)]
    found += [("x", number) for number in RATIO.findall(text)]
    return found


def recorded(kind: str, written: str, entries: list[dict]) -> bool:
    """Whether some entry of ``kind`` rounds to ``written`` at the digits it is written with."""
    digits = len(written.split(".")[1])
    return any(
        entry["unit"] == kind and f"{entry['value']:.{digits}f}" == written for entry in entries
    )


def test_figures_are_found_in_text_as_the_pages_write_them():
    text = (
        "98.71 / 98.59 / 98.80 %, 97.64 和 97.69 %, `[1,   300] loss: 2.170`, 损失 0.380, 20 %, "
        "| 76.4 s | 88.9 s | 1.16× |"
    )
    assert figures(text) == [
        ("%", "98.71"), ("%", "98.59"), ("%", "98.80"), ("%", "97.64"), ("%", "97.69"),
        ("loss", "2.170"), ("loss", "0.380"), ("s", "76.4"), ("s", "88.9"), ("x", "1.16"),
    ]  # fmt: skip


def test_every_entry_says_what_how_and_where():
    entries = results()
    machines = json.loads(RESULTS.read_text(encoding="utf-8"))["machines"]
    assert len({entry["id"] for entry in entries}) == len(entries)
    for entry in entries:
        assert entry["what"] and entry["command"], entry["id"]
        assert isinstance(entry["seed"], int) and entry["machine"] in machines, entry["id"]
        assert isinstance(entry["value"], int | float), entry["id"]


def test_the_gallery_runs_figures_are_the_gallery_records():
    """An entry taken from a gallery run holds that run's metric (a fraction there is a
    percentage here) and its command."""
    gallery = json.loads(GALLERY.read_text(encoding="utf-8"))
    from_gallery = [entry for entry in results() if "gallery" in entry]
    assert len(from_gallery) >= 12
    for entry in from_gallery:
        run, metric = entry["gallery"].split("/")
        value = gallery[run]["metrics"][metric] * (100 if entry["unit"] == "%" else 1)
        assert entry["value"] == pytest.approx(value, abs=1e-6), entry["id"]
        assert entry["command"] == gallery[run]["command"], entry["id"]


@pytest.mark.parametrize("page", PAGES, ids=lambda path: str(path.relative_to(REPO)))
def test_every_figure_on_the_page_is_in_the_results_file(page: Path):
    entries = results()
    missing = [
        f"{number} ({kind})"
        for kind, number in figures(page.read_text(encoding="utf-8"))
        if not recorded(kind, number, entries)
    ]
    assert not missing, f"{page.name}: not in docs/results.json: {', '.join(missing)}"
