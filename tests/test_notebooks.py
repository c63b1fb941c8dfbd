"""The notebooks: one per lecture of the course (2 to 13), saved without outputs, each run top to
bottom in a fresh ``python3`` kernel (nbclient) that fails on the first error.

The kernel inherits this process's environment (``LESSONS_DATA_DIR``: the data offline) and
starts in an empty folder, so a notebook that writes beside itself or reads a file it should
not shows up here. nbclient comes with the ``notebooks`` extra; without it the runs are
skipped, the other checks are not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import REPO, execute_notebook

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
LECTURES = list(range(2, 14))


def lecture(path: Path) -> int:
    """``lecture09_softmax_classifier.ipynb`` → 9."""
    match = re.fullmatch(r"lecture(\d{2})_\w+\.ipynb", path.name)
    assert match, f"{path.name}: expected lectureNN_topic.ipynb"
    return int(match.group(1))


def test_one_notebook_per_lecture():
    assert [lecture(path) for path in NOTEBOOKS] == LECTURES


@pytest.mark.parametrize(
    "path",
    [
        path
        for path in sorted((REPO / "notebooks").rglob("*.ipynb"))
        if ".ipynb_checkpoints" not in path.parts  # Jupyter's own copies, not committed
    ],
    ids=lambda path: path.stem,
)
def test_every_notebook_is_saved_without_outputs(path: Path):
    """The lectures' and the exercises' notebooks alike: a learner opens a clean page."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_uses_the_lessons_and_no_data_path(path: Path):
    """A notebook imports its lesson (never reimplements it), trains it with a Trainer,
    reloads a checkpoint, and reads its data where the datamodules say (no path in it)."""
    source = "".join(
        "".join(cell["source"])
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
        if cell["cell_type"] == "code"
    )
    assert re.search(r"^from lessons\.\w+ import ", source, re.MULTILINE)
    assert "trainer.fit(" in source and ".load_from_checkpoint(" in source
    assert "data_dir" not in source and "shared/data" not in source


#: The notebook the default test run executes (a kernel costs 20-30 s): it trains, draws and
#: reloads, as each one does; every notebook runs in the ``slow`` tier.
REPRESENTATIVE = "lecture05_linear_regression"


@pytest.mark.parametrize(
    "path",
    [
        path if path.stem == REPRESENTATIVE else pytest.param(path, marks=pytest.mark.slow)
        for path in NOTEBOOKS
    ],
    ids=lambda path: path.stem,
)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path):
    nbformat = pytest.importorskip("nbformat")
    _, seconds = execute_notebook(nbformat.read(path, as_version=4), tmp_path)  # raises on an error
    print(f"{path.name}: {seconds:.1f} s")
