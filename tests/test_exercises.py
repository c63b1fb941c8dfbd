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
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, execute_notebook

FOLDER = REPO / "notebooks" / "exercises"
EXERCISES = sorted(FOLDER.glob("*_exercises.ipynb"))
SOLUTIONS = sorted(FOLDER.glob("*_solutions.ipynb"))
#: What ``exercises.check`` and ``exercises.summary`` print.
CHECK_LINE = re.compile(r"^\[check\] (?P<name>.*?): (?P<outcome>right|wrong|not yet) / ", re.M)
SUMMARY_LINE = re.compile(
    r"^\[summary\] right / 正确 (?P<right>\d+), wrong / 不对 (?P<wrong>\d+), "
    r"not yet / 尚未完成 (?P<not_yet>\d+)",
    re.M,
)
TODO_WORD = re.compile(r"\bTODO\b")
slow = pytest.mark.slow


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
    printed, seconds = execute_notebook(nbformat.read(path, as_version=4), folder)
    return "".join(printed), seconds


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


# --- wrong answers: every check says wrong, and why; "Run All" reaches the summary ---

#: A wrong answer of each kind for every TODO cell, in the order of the notebook's TODO cells:
#: a source that replaces the cell, or edits (old, new) of the solutions' cell. The kinds:
#: "raises" (the learner's code raises), "type" (a wrong type or shape, a missing ``return``
#: among them) and "value" (wrong numbers; the common slips: a sign, a factor, rows and
#: columns). The networks' slips fail at their first step, so no wrong net trains for long.
WRONG_ANSWERS: dict[str, list[dict[str, str | list[tuple[str, str]]]]] = {
    "lecture02_linear_model": [
        {  # mse
            "raises": [("/ len(xs)", "/ len(x)")],
            "type": [("return l_sum / len(xs)", "mean = l_sum / len(xs)")],
            "value": [("return l_sum / len(xs)", "return l_sum")],
        },
        {  # surface, best_w, best_b
            "raises": [("for b in b_values])", "for b in b_value])")],
            "type": "w_values = np.arange(0.0, 3.1, 0.1)\nb_values = np.arange(-1.0, 1.1, 0.1)\n"
            "surface = [mse(w, b, x_data, y_data) for w in w_values for b in b_values]\n"
            "best_w, best_b = '2.0', '0.0'",
            "value": [
                ("for w in w_values] for b in b_values]", "for b in b_values] for w in w_values]"),
                (
                    "w_values[lowest_w], b_values[lowest_b]",
                    "b_values[lowest_b], w_values[lowest_w]",
                ),
            ],
        },
        {  # lesson_surface
            "raises": [(".reshape(len(w_values), len(b_values))", ".reshape(21, 21)")],
            "type": [(".reshape(len(w_values), len(b_values)).T", ".tolist()")],
            "value": [(".reshape(len(w_values), len(b_values)).T", ".reshape(21, 31)")],
        },
    ],
    "lecture03_gradient_descent": [
        {  # gd_epoch
            "raises": [("/ len(xs)", "/ len(x_values)")],
            "type": [("return w - lr * grad / len(xs)", "w = w - lr * grad / len(xs)")],
            "value": [("return w - lr * grad / len(xs)", "return w + lr * grad / len(xs)")],
        },
        {  # sgd_epoch
            "raises": [("w -= lr * 2 * x * (x * w - y)", "w -= lr * gradient(x, y, w)")],
            "type": [("    return w", "    return [w]")],
            "value": [("(x * w - y)", "(x * w - y) / len(xs)")],
        },
        {  # closer, epochs_to_converge
            "raises": "closer = 'GD' if distance['GD'] < distance['SGD'] else 'SGD'\n"
            "epochs_to_converge = {'GD': 30, 'SGD': 20}",
            "type": "closer = ['GD']\nepochs_to_converge = [30, 20]",
            "value": "closer = 'gd'\nepochs_to_converge = {'GD': 1, 'SGD': 1}",
        },
    ],
    "lecture04_back_propagation": [
        {  # grad_4_1
            "raises": "grad_4_1 = 2 * (x * w - y) * x",
            "type": "grad_4_1 = '-8'",
            "value": "grad_4_1 = 2 * (4 - 2 * 1) * 2  # 2(y − ŷ)·x",
        },
        {  # grad_w, grad_b
            "raises": "grad_w, grad_b = 2 * error * 1, 2 * error",
            "type": "grad_w, grad_b = (2.0, 2.0), None",
            "value": "grad_w, grad_b = -2.0, -2.0",
        },
        {  # quadratic_grads
            "raises": [("2 * residual * x, 2 * residual", "2 * residual * x, 2 * residual * db")],
            "type": [(", 2 * residual * x, 2 * residual", ", 2 * residual * x")],
            "value": [("residual = w_1 * x**2 + w_2 * x + b - y", "residual = y - w_1 * x**2")],
        },
        {  # train_quadratic
            "raises": [("quadratic_grads(w_1, w_2, b, x, y)", "quadratic_grads(w_1, w_2, b, x)")],
            "type": [("    return w_1, w_2, b", "    print(w_1, w_2, b)")],
            "value": [("for _ in range(epochs):", "for _ in range(10):")],
        },
    ],
    "lecture05_linear_regression": [
        {  # optimizers
            "raises": "optimizers = {name: partial(torch.optim.name, lr=0.01) for name in NAMES}",
            "type": "optimizers = [partial(getattr(torch.optim, name), lr=0.01) for name in NAMES]",
            "value": [("lr=0.01", "lr=-0.01")],
        },
        {  # fall_short
            "raises": [("abs(value - 8) >= 0.05", "abs(value - 8) >= tolerance")],
            "type": "fall_short = ['Adagrad', 'Adam', 'Adamax']",
            "value": "fall_short = {'SGD'}",
        },
        {  # larger_lr
            "raises": [('"Adamax": 0.5', '"Adamax": lr')],
            "type": "larger_lr = [0.5, 0.1, 0.5]",
            "value": 'larger_lr = {"Adagrad": -0.5, "Adam": -0.1, "Adamax": -0.5}',
        },
    ],
    "lecture06_logistic_regression": [
        {  # bce: the crash of issue 34 (.item() of three values), a missing .sum(), the sign
            "raises": [(".sum()", ".item()")],
            "type": [(".sum()", "")],
            "value": [("return -(", "return (")],
        },
        {  # bce_grads
            "raises": [("(error * hours)", "(error * hour)")],
            "type": [(".sum().item(), error.sum().item()", ", error")],
            "value": [
                ("torch.sigmoid(w * hours + b) - passed", "passed - torch.sigmoid(w * hours + b)")
            ],
        },
        {  # hours_at_half
            "raises": "hours_at_half = -b / weight",
            "type": "hours_at_half = torch.tensor([-b / w, 0.0])",
            "value": "hours_at_half = b / w",
        },
    ],
    "lecture07_multiple_dimension_input": [
        {  # make_net
            "raises": [
                (
                    "activation(),\n        torch.nn.Linear(6, 4)",
                    "activation,\n        torch.nn.Linear(6, 4)",
                )
            ],
            "type": [("return torch.nn.Sequential(", "return list(")],
            "value": [("        torch.nn.Sigmoid(),\n", "")],
        },
        {  # slowest
            "raises": [('runs[name]["last"]', 'runs[name]["final"]')],
            "type": "slowest = torch.nn.Sigmoid",
            "value": "slowest = 'sigmoid'",
        },
    ],
    "lecture08_dataset_and_dataloader": [
        {  # iterations_per_epoch
            "raises": [("import math\n", "")],
            "type": [
                ("return math.ceil(rows / batch_size)", "print(math.ceil(rows / batch_size))")
            ],
            "value": [("return math.ceil(rows / batch_size)", "return rows // batch_size")],
        },
        {  # train
            "raises": [("datamodule=data)", "datamodule=datamodule)")],
            "type": [("    return lesson, fit", "    lesson, fit")],
            "value": [("trainer(max_epochs=epochs)", "trainer(max_epochs=1)")],
        },
        {  # ranking
            "raises": [('runs[batch_size]["loss"]', 'runs[batch_size]["losses"]')],
            "type": "ranking = '8, 32, 128, 607'",
            "value": "ranking = [607, 128, 32, 8]",
        },
    ],
    "lecture09_softmax_classifier": [
        {  # y_pred, loss
            "raises": [("y_pred[y]", "y_pred[y_true]")],
            "type": [("-torch.log(y_pred[y])", "-torch.log(y_pred)")],
            "value": [("-torch.log(y_pred[y])", "torch.log(y_pred[y])")],
        },
        {  # log_softmax_by_hand, nll_by_hand, gradient_by_hand
            "raises": [
                (
                    "torch.log(torch.exp(scores).sum(dim=1, keepdim=True))",
                    "torch.logsumexp(scores)",
                ),
                ("-log_p[torch.arange(len(labels)), labels]", "-log_p.gather(1, labels)"),
                ("return (p - one_hot) / len(labels)", "return (p - one_hot) / labels.size"),
            ],
            "type": [
                ("return scores - ", "log_p = scores - "),
                (".mean()", ""),
                ("return (p - one_hot) / len(labels)", "return ((p - one_hot) / len(labels)).T"),
            ],
            "value": [
                (
                    "return scores - torch.log(torch.exp(scores).sum(dim=1, keepdim=True))",
                    "return torch.log(torch.exp(scores).sum(dim=1, keepdim=True)) - scores",
                ),
                ("return -log_p[", "return log_p["),
                ("return (p - one_hot)", "return (one_hot - p)"),
            ],
        },
        {  # count_parameters, SUNG_KIM, ONE_LAYER
            "raises": [
                ("sizes = [28 * 28, *hidden_sizes, 10]", "sizes = [28 * 28, *hidden, 10]"),
                ("SUNG_KIM = [520, 320, 240, 120]", "SUNG_KIM = SUNG_KIMS_SIZES"),
            ],
            "type": [
                ("    return sum(", "    total = sum("),
                ("SUNG_KIM = [520, 320, 240, 120]", "SUNG_KIM = '520-320-240-120'"),
                ("ONE_LAYER = [128]", "ONE_LAYER = 128"),
            ],
            "value": [
                ("n_in * n_out + n_out", "n_in * n_out"),
                ("SUNG_KIM = [520, 320, 240, 120]", "SUNG_KIM = [520, 320, 240, 120, 9]"),
                ("ONE_LAYER = [128]", "ONE_LAYER = [128, 9]"),
            ],
        },
    ],
    "lecture10_cnn": [
        {  # conv_pool_size
            "raises": [("- kernel_size + 1", "- kernel + 1")],
            "type": [
                (
                    "return (size + 2 * padding - kernel_size + 1) // 2",
                    "return [(size + 2 * padding - kernel_size + 1) // 2]",
                )
            ],
            "value": [("2 * padding - kernel_size", "padding - kernel_size")],
        },
        {  # DeeperCNN
            "raises": [("c1, c2, c3 = channels", "c1, c2, c3 = channel")],
            "type": [("return self.fc3(x)", "return self.fc3(x), x")],
            "value": [("nn.Linear(h2, 10)", "nn.Linear(h2, 9)")],
        },
        {  # count_parameters, CONFIGURATIONS
            "raises": [
                ("for c_out in channels:", "for c_out in channel:"),
                ("CONFIGURATIONS = [", "CONFIGURATIONS = configurations + ["),
            ],
            "type": [
                ("    return total + sum(", "    total += sum("),
                ("CONFIGURATIONS = [", "CONFIGURATIONS = ("),
                ("3),  # 3×3 kernels\n]", "3),\n)[0]"),
            ],
            "value": [
                ("n_out * (n_in + 1)", "n_out * n_in"),
                ("    ((10, 20, 40), (120, 60), 3),  # 3×3 kernels\n", ""),
            ],
        },
    ],
    "lecture11_advanced_cnn": [
        {  # PreActivationBlock, ScaledBlock, PreActivationNet, ScaledNet
            "raises": [
                ("self.bn1 = nn.BatchNorm2d(channels)", "self.bn1 = nn.BatchNorm2d(channel)"),
                ("0.5 * x + 0.5 * y", "0.5 * x + 0.5 * z"),
            ],
            "type": [
                ("return x + y", "return torch.cat([x, y], dim=1)"),
                ("return F.relu(0.5 * x + 0.5 * y)", "return 0.5 * x, 0.5 * y"),
            ],
            "value": [
                ("return x + y", "return y"),
                ("0.5 * x + 0.5 * y", "x + y"),
                ("PreActivationBlock(channels[1])", "PreActivationBlock(channels[0])"),
                ("ScaledBlock(channels[1])", "ScaledBlock(channels[0])"),
            ],
        },
        {  # DenseBlock, SmallDenseNet
            "raises": [("nn.BatchNorm2d(in_channels + i", "nn.BatchNorm2d(in_channel + i")],
            "type": [("return torch.cat(features, dim=1)", "return features")],
            "value": [
                ("in_channels + num_layers * growth_rate", "in_channels + growth_rate"),
                ("nn.Conv2d(48, 24, kernel_size=1)", "nn.Conv2d(48, 24, kernel_size=3)"),
            ],
        },
    ],
    "lecture12_rnn_basics": [
        {  # HelloLSTM, HelloGRU
            "raises": [
                (
                    "hidden_size, num_layers, batch_first=True)\n\n\n",
                    "hidden_size, num_layer, batch_first=True)\n\n\n",
                )
            ],
            "type": [("nn.GRU(embedding_size", "nn.RNN(embedding_size")],
            "value": [
                (
                    "nn.LSTM(embedding_size, hidden_size, num_layers,",
                    "nn.LSTM(embedding_size, hidden_size, 1,",
                )
            ],
        },
    ],
    "lecture13_rnn_classifier": [
        {  # NameLSTMClassifier
            "raises": [("del self.gru\n", "del self.gru\n        del self.gru\n")],
            "type": [("return self.fc(hidden_cat)", "return self.fc(hidden_cat), hidden")],
            "value": [("return self.fc(hidden_cat)", "return self.fc(hidden_cat)[:, :17]")],
        },
    ],
}
KINDS = ("raises", "type", "value")
#: What the checks must say for some of them, beyond "wrong": the slip they name.
SAYS = {
    ("lecture02_linear_model", "type"): ["mse returned None: a missing `return`?"],
    ("lecture02_linear_model", "value"): ["3 times the expected value", "transposed"],
    ("lecture04_back_propagation", "value"): ["the sign is flipped"],
    ("lecture06_logistic_regression", "raises"): [
        "bce raised RuntimeError: a Tensor with 3 elements cannot be converted to Scalar"
    ],
    ("lecture06_logistic_regression", "type"): ["their sum is right: a missing .sum()?"],
    ("lecture06_logistic_regression", "value"): ["the sign is flipped", "every sign is flipped"],
    ("lecture09_softmax_classifier", "value"): ["the sign is flipped", "every sign is flipped"],
    ("lecture09_softmax_classifier", "raises"): ["the cell that sets loss raised NameError"],
}
#: The notebooks whose wrong answers run in a few seconds in this process: the default tier
#: runs them; the others train a course's network beside (``slow``).
QUICK = [stem for stem in WRONG_ANSWERS if stem < "lecture09" or stem.startswith("lecture12")]
#: Every (notebook, kind), run in this process, the cheap ones in the default tier. A kernel
#: runs each notebook with the "raises" answers (``slow``): what only a kernel does, the tag
#: and ``exercises.watch``, is the same for the other kinds.
IN_PROCESS = [
    pytest.param(FOLDER / f"{stem}_exercises.ipynb", kind, marks=[] if stem in QUICK else slow)
    for stem in WRONG_ANSWERS
    for kind in KINDS
    if stem in QUICK or kind != "raises"
]


class Unequal:
    """An answer no comparison can handle: its == raises."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparison")


@pytest.mark.parametrize(
    "answer, expected, says",
    [
        (np.array([[0.3], [0.5], [0.2]]), 1.0, "their sum is right: a missing .sum()?"),
        (-2.5, 2.5, "expected 2.5, got -2.5: the sign is flipped"),
        ([0.5, -0.2], [-0.5, 0.2], "every sign is flipped"),
        (np.zeros((31, 21)), np.zeros((21, 31)), "transposed"),
        (3.0, 1.0, "3 times the expected value"),
        ([1.0, 2.0], [1.0, 2.0, 3.0], "expected 3 values"),
        ("2.0", 2.0, "expected a number, 2, got str '2.0'"),
        (np.array([True, False]), True, "a missing .all() or .any()?"),
        (Unequal(), "x", "cannot be compared (no comparison)"),
        (float("nan"), 1.5, "not a number (nan)"),
    ],
    ids=["missing sum", "sign", "signs", "transposed", "factor", "length", "text", "truth",
         "uncomparable", "nan"],
)  # fmt: skip
def test_a_wrong_answer_is_told_with_its_slip_and_never_raises(answer, expected, says, capsys):
    from exercises import check

    assert check("slip", answer, expected=expected, tol=1e-6) is False
    line = capsys.readouterr().out
    assert line.startswith("[check] slip: wrong / 不对 - ") and says in line, line


def test_an_answer_that_raises_or_returns_nothing_is_a_wrong_one_passed_on(capsys):
    from exercises import TODO, Failed, answer, check, done

    def bce(y_pred, y):
        return (y_pred - y).item()  # several values: the crash of issue 34

    def forgot(x):
        x + 1

    import torch

    failed = answer(bce, torch.zeros(3), torch.ones(3))
    assert isinstance(failed, Failed) and not done(failed)
    assert answer(lambda value: value + 1, failed) is failed  # passed on, not run
    assert answer(lambda value: value + 1, TODO) is TODO
    check("bce", answer(lambda loss: loss * 2, failed), expected=1.0)
    check("forgot", answer(forgot, 1), expected=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "[check] bce: wrong / 不对 - bce raised RuntimeError: a Tensor with 3 elements cannot be "
        "converted to Scalar (several values where one belongs: a missing .sum()?)"
    )
    assert out[1] == "[check] forgot: wrong / 不对 - forgot returned None: a missing `return`?"


def test_a_cell_that_raises_leaves_what_it_sets_failed():
    from exercises import TODO, Failed, mark_failed

    namespace = {"x_data": [1.0], "surface": TODO}
    cell = "best = 2.0\nsurface = np.array(rows)\nbest_w, best_b = 1, 2\ndef mse(w):\n    pass"
    mark_failed(namespace, cell, NameError("name 'np' is not defined"))
    assert set(namespace) == {"x_data", "surface", "best", "best_w", "best_b", "mse"}
    assert namespace["x_data"] == [1.0]  # not set by this cell: kept
    assert all(isinstance(namespace[name], Failed) for name in ("surface", "best_w", "mse"))
    assert namespace["surface"].reason.startswith("the cell that sets surface raised NameError")


def with_wrong_answers(path: Path, kind: str) -> dict:
    """The exercises notebook with each TODO cell replaced by its wrong answer of ``kind``."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    solutions = cells(twin_of(path))
    todo = [i for i, cell in enumerate(notebook["cells"]) if source(cell) != source(solutions[i])]
    answers = WRONG_ANSWERS[path.name.removesuffix("_exercises.ipynb")]
    assert len(todo) == len(answers), f"{path.name}: {len(todo)} TODO cells, {len(answers)} answers"
    for index, wrong in zip(todo, answers):
        text = wrong[kind]
        if not isinstance(text, str):
            text = source(solutions[index])
            for old, new in wrong[kind]:
                assert text.count(old) == 1, f"{path.name}, cell {index}: {old!r}"
                text = text.replace(old, new)
        notebook["cells"][index]["source"] = text
    return notebook


def run_here(notebook: dict, folder: Path) -> list[str]:
    """What each cell prints, the code cells run top to bottom in one namespace of this
    process as "Run All" runs them in a kernel: an error in a cell tagged ``raises-exception``
    leaves the names it sets as ``Failed`` (what ``exercises.watch`` has IPython do) and the
    run goes on; an error in any other cell fails the test."""
    import contextlib
    import io
    import os

    import exercises

    exercises.results.clear()
    namespace: dict = {"__name__": "__main__"}
    printed, here = [], os.getcwd()
    os.chdir(folder)
    try:
        for index, cell in enumerate(notebook["cells"]):
            out = io.StringIO()
            if cell["cell_type"] == "code":
                text = source(cell)
                with contextlib.redirect_stdout(out):
                    try:
                        exec(compile(text, f"<cell {index}>", "exec"), namespace)
                    except Exception as error:
                        tags = cell["metadata"].get("tags", [])
                        assert "raises-exception" in tags, f"cell {index} raised {error!r}"
                        exercises.mark_failed(namespace, text, error)
            printed.append(out.getvalue())
    finally:
        os.chdir(here)
    return printed


def assert_every_wrong_answer_is_told(path: Path, kind: str, notebook: dict, printed: list[str]):
    """The summary is reached; the checks after each TODO cell (to the next one) say wrong at
    least once; a wrong check always says why; and the slips of ``SAYS`` are named."""
    name = path.name.removesuffix("_exercises.ipynb")
    text = "".join(printed)
    assert SUMMARY_LINE.search(text), f"{name}, {kind}: no summary\n{text[-2000:]}"
    todo = [i for i, cell in enumerate(notebook["cells"]) if "raises-exception" in tags(cell)]
    for start, end in zip(todo, [*todo[1:], len(printed)]):
        outcomes_here = [m["outcome"] for m in CHECK_LINE.finditer("".join(printed[start:end]))]
        assert "wrong" in outcomes_here, (
            f"{name}, {kind}: no check after cell {start} says wrong: {outcomes_here}\n{text}"
        )
    for line in re.findall(r"^\[check\] .*: wrong / 不对 - (.*)$", text, re.M):
        assert line.strip(), f"{name}, {kind}: a wrong check without a reason"
    for phrase in SAYS.get((name, kind), []):
        assert phrase in text, f"{name}, {kind}: the checks never say {phrase!r}\n{text}"


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", EXERCISES, ids=lambda path: path.stem)
def test_every_todo_cell_is_tagged_and_has_a_wrong_answer_of_each_kind(path: Path):
    """Run All goes on past an error in a TODO cell (the tag), and the table covers each."""
    exercise, solution = cells(path), cells(twin_of(path))
    for index, (ours, theirs) in enumerate(zip(exercise, solution)):
        differs = source(ours) != source(theirs)
        for cell in (ours, theirs):
            assert ("raises-exception" in tags(cell)) == differs, f"{path.name}, cell {index}"
    answers = WRONG_ANSWERS[path.name.removesuffix("_exercises.ipynb")]
    assert all(set(wrong) == set(KINDS) for wrong in answers)
    for kind in KINDS:
        with_wrong_answers(path, kind)  # each edit applies to its solution cell


@pytest.mark.parametrize("path, kind", IN_PROCESS, ids=lambda value: getattr(value, "stem", value))
def test_wrong_answers_are_told_and_the_notebook_runs_to_its_summary(path, kind, tmp_path):
    notebook = with_wrong_answers(path, kind)
    assert_every_wrong_answer_is_told(path, kind, notebook, run_here(notebook, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("path", EXERCISES, ids=lambda path: path.stem.removesuffix("_exercises"))
def test_run_all_with_wrong_answers_reaches_the_summary_in_a_kernel(path, tmp_path):
    """The bar of issue 34, as a learner meets it: Jupyter's "Run All" on a notebook whose
    every answer raises runs to its summary, each wrong answer told (the other kinds: above)."""
    nbformat = pytest.importorskip("nbformat")
    kind = "raises"
    notebook = with_wrong_answers(path, kind)
    node = nbformat.reads(json.dumps(notebook), as_version=4)
    printed, seconds = execute_notebook(node, tmp_path)
    print(f"{path.name}, {kind}: {seconds:.1f} s")
    assert_every_wrong_answer_is_told(path, kind, notebook, printed)
