"""The exercise notebooks (``notebooks/exercises/``): every lecture's ``*_exercises.ipynb`` has
its ``*_solutions.ipynb`` twin, the same notebook with the TODO cells filled in; both are saved
without outputs; the solutions, run top to bottom, pass every check, and the exercises, run
untouched, reach every check and say "not yet" to each (never "wrong", never a crash).

Twins: the same cells in the same order; the markdown cells and every cell that calls
``check(`` or ``summary(`` are the same text; the cells that differ are TODO cells, whose
exercises side holds a ``TODO`` and whose solutions side does not, each followed by a check.

The notebooks are found by glob, so a lecture's pair is tested as soon as it is added. The
runs start a kernel each (20-30 s with the training): they are ``slow``; the rest is cheap.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from helpers import REPO

FOLDER = REPO / "notebooks" / "exercises"
EXERCISES = sorted(FOLDER.glob("*_exercises.ipynb"))
SOLUTIONS = sorted(FOLDER.glob("*_solutions.ipynb"))
#: Seconds one cell may take on a slow, busy CPU before the run counts as failed.
CELL_TIMEOUT = 300
#: What ``exercises.check`` and ``exercises.summary`` print.
CHECK_LINE = re.compile(r"^\[check\] (?P<name>.*?): (?P<outcome>right|wrong|not yet) / ", re.M)
SUMMARY_LINE = re.compile(
    r"^\[summary\] right / 正确 (?P<right>\d+), wrong / 不对 (?P<wrong>\d+), "
    r"not yet / 尚未完成 (?P<not_yet>\d+)",
    re.M,
)
TODO_WORD = re.compile(r"\bTODO\b")


def twin_of(path: Path) -> Path:
    """``lecture02_linear_model_exercises.ipynb`` ↔ ``lecture02_linear_model_solutions.ipynb``."""
    stem, kind = path.stem.rsplit("_", 1)
    other = {"exercises": "solutions", "solutions": "exercises"}[kind]
    return path.with_name(f"{stem}_{other}.ipynb")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def is_check(text: str) -> bool:
    return "check(" in text or "summary(" in text


def test_every_exercise_notebook_has_its_solutions_twin():
    assert EXERCISES, f"no *_exercises.ipynb in {FOLDER}"
    names = {path.name for path in FOLDER.glob("*.ipynb")}
    assert names == {p.name for p in EXERCISES} | {p.name for p in SOLUTIONS}, names
    for path in EXERCISES + SOLUTIONS:
        assert twin_of(path).exists(), f"{path.name} has no twin {twin_of(path).name}"


@pytest.mark.parametrize("path", EXERCISES, ids=lambda path: path.stem)
def test_named_after_the_lecture_notebook(path: Path):
    """``lectureNN_<topic>_exercises`` goes with the lecture's ``lectureNN_<topic>.ipynb``."""
    lecture = path.name.removesuffix("_exercises.ipynb") + ".ipynb"
    assert (REPO / "notebooks" / lecture).exists(), f"{path.name}: no notebooks/{lecture}"


@pytest.mark.parametrize("path", EXERCISES + SOLUTIONS, ids=lambda path: path.stem)
def test_saved_without_outputs(path: Path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", EXERCISES, ids=lambda path: path.stem)
def test_twins_differ_only_in_their_todo_cells(path: Path):
    exercise, solution = cells(path), cells(twin_of(path))
    assert [c["cell_type"] for c in exercise] == [c["cell_type"] for c in solution], path.name
    todo_cells = []
    for index, (ours, theirs) in enumerate(zip(exercise, solution)):
        asked, answered = source(ours), source(theirs)
        if asked == answered:
            continue
        where = f"{path.name}, cell {index}"
        assert ours["cell_type"] == "code", f"{where}: markdown differs from the solutions'"
        assert not is_check(asked) and not is_check(answered), f"{where}: a check differs"
        assert TODO_WORD.search(asked), f"{where}: differs from the solutions' but has no TODO"
        assert not TODO_WORD.search(answered), f"{where}: the solution still holds a TODO"
        todo_cells.append(index)
    assert todo_cells, f"{path.name}: no TODO cell differs from the solutions'"
    for index in todo_cells:  # each answer is checked before the next exercise begins
        later = [i for i in todo_cells if i > index] + [len(exercise)]
        assert any(
            exercise[i]["cell_type"] == "code" and "check(" in source(exercise[i])
            for i in range(index + 1, later[0])
        ), f"{path.name}, cell {index}: no check cell follows this TODO"
    code = [source(c) for c in exercise if c["cell_type"] == "code"]
    assert any("from exercises import" in s for s in code), f"{path.name}: no exercises import"
    assert "summary()" in code[-1], f"{path.name}: the last cell must call summary()"
    assert not any("data_dir" in s or "shared/data" in s for s in code), "no data path"


def run(path: Path, folder: Path) -> tuple[str, float]:
    """Execute ``path`` in a fresh kernel started in ``folder``; its printed text and seconds.
    Raises (nbclient's CellExecutionError, naming the cell) if a cell fails."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(folder)}},  # the kernel's working folder
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "stream"
    )
    return printed, seconds


def outcomes(printed: str, name: str) -> tuple[dict[str, set[str]], dict[str, int]]:
    """The checks' outcomes by check name, and the last summary's counts."""
    by_name: dict[str, set[str]] = {}
    for match in CHECK_LINE.finditer(printed):
        by_name.setdefault(match["name"], set()).add(match["outcome"])
    summaries = list(SUMMARY_LINE.finditer(printed))
    assert summaries, f"{name}: no summary line; the last cell must call summary()"
    counts = {key: int(value) for key, value in summaries[-1].groupdict().items()}
    return by_name, counts


@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISES, ids=lambda path: path.stem.removesuffix("_exercises"))
def test_solutions_pass_and_untouched_exercises_say_not_yet(path: Path, tmp_path: Path):
    solution = twin_of(path)
    (tmp_path / "solutions").mkdir()
    (tmp_path / "exercises").mkdir()
    printed, seconds = run(solution, tmp_path / "solutions")
    print(f"{solution.name}: {seconds:.1f} s")
    solved, counts = outcomes(printed, solution.name)
    assert solved, f"{solution.name}: no check ran"
    not_right = {name: found for name, found in solved.items() if found != {"right"}}
    assert not not_right, f"{solution.name}: checks not right: {not_right}"
    assert counts == {"right": len(solved), "wrong": 0, "not_yet": 0}, counts

    printed, seconds = run(path, tmp_path / "exercises")
    print(f"{path.name}: {seconds:.1f} s")
    asked, counts = outcomes(printed, path.name)
    not_pending = {name: found for name, found in asked.items() if found != {"not yet"}}
    assert not not_pending, (
        f"{path.name}: untouched, these checks did not say not yet: {not_pending}"
    )
    assert set(asked) == set(solved), (
        f"{path.name}: untouched, it reaches other checks than its solutions: "
        f"missing {sorted(set(solved) - set(asked))}, extra {sorted(set(asked) - set(solved))}"
    )
    assert counts == {"right": 0, "wrong": 0, "not_yet": len(asked)}, counts
