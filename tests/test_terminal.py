"""What a learner sees: each lesson's command run in a terminal (a pseudo-terminal, with the
progress bar on, as the README's commands run), its lines compared with what the course's own
code prints (the scripts of ``test_parity_toy`` and ``test_parity_diabetes``) or, for lessons
whose printing those tests do not hold, with the same command's lines when nothing is drawn.
Then what a run says about its results, what its figures show, and which warnings show.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import warnings
from pathlib import Path

import pytest
from helpers import LESSON_CONFIGS, MNIST_ONE_EPOCH, QUIET, REPO, config
from test_parity_diabetes import DataModuleOrder, all_rows, course_lesson7, course_lesson8
from test_parity_toy import (
    course_lesson2,
    course_lesson3_gd,
    course_lesson3_sgd,
    course_lesson4,
    course_lesson4_quadratic,
    course_lesson5,
    course_lesson6,
    printed,
    same_line,
)

from datamodules.diabetes import DIABETES
from datamodules.files import fetch
from lessons import figures

CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # cursor moves, colours
NUMBERS = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def in_a_terminal(*args: str, cwd: Path, timeout: int = 300) -> list[str]:
    """``python cli.py ARGS`` in a 100×30 pseudo-terminal; the lines as they end up on the
    screen (a line redrawn with carriage returns: its last state; control sequences out)."""
    text = terminal_output(*args, cwd=cwd, timeout=timeout)
    return [line.rstrip("\r").split("\r")[-1].rstrip() for line in text.split("\n")]


def terminal_output(*args: str, cwd: Path, timeout: int = 300, columns: int = 100) -> str:
    """What ``python cli.py ARGS`` writes to a pseudo-terminal ``columns`` wide, every redraw
    of a line included (control sequences out)."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")]),
        "TERM": "xterm",
        "COLUMNS": str(columns),
    }
    process = subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), *args],
        cwd=cwd,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    output = bytearray()
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], timeout)
            if not ready:
                process.kill()
                raise TimeoutError(f"no output for {timeout} s: {args}")
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(leader)
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")[-3000:]
    return CONTROL.sub("", output.decode(errors="replace"))


def assert_in_order(expected: list[str], shown: list[str], same=str.__eq__) -> None:
    """Every expected line is on the screen, in order (other lines may come between)."""
    position = 0
    for line in expected:
        found = next((i for i in range(position, len(shown)) if same(line, shown[i])), None)
        assert found is not None, f"not shown (or out of order): {line!r}\nscreen:\n" + "\n".join(
            shown[-60:]
        )
        position = found + 1


def shaped_like(course: list[str], shown: list[str]) -> list[str]:
    """The screen's lines that have the shape of a course line (its numbers aside)."""
    shapes = {NUMBERS.sub("#", line) for line in course}
    return [line for line in shown if NUMBERS.sub("#", line) in shapes]


def run_in_process(*args: str, cwd: Path, capsys) -> list[str]:
    """The same command in this process with the progress bar off: its printed lines."""
    import cli

    capsys.readouterr()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        cli.main(list(args))
    finally:
        os.chdir(previous)
    return capsys.readouterr().out.splitlines()


def initial_weights(name: str, tmp_path: Path, capsys, *args: str) -> dict:
    """The seeded initial weights of a lesson's CLI run: a fit of no epochs builds them."""
    import cli

    folder = tmp_path / "initial"
    folder.mkdir(exist_ok=True)
    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = cli.main(
            ["fit", "--config", config(name), *QUIET, *args, "--trainer.max_epochs", "0"]
        )
    finally:
        os.chdir(previous)
    capsys.readouterr()
    return {k: v.clone() for k, v in result.model.state_dict().items()}


# --- the course's lines, from the course's code --------------------------------------------

EVERY_LINE = ["--model.init_args.print_every", "1"]
WITH_GRADS = [*EVERY_LINE, "--model.init_args.print_grads", "true"]
DIABETES_SHORT = ["--data.init_args.val_fraction", "0", "--trainer.max_epochs", "1", *EVERY_LINE]


def course_output(name: str, tmp_path: Path, capsys) -> tuple[list[str], list[str]]:
    """(the course script's printed lines, the extra CLI arguments that make the lesson print
    every one of them) for a config whose course script the parity tests hold."""
    if name == "linear_search":
        return printed(course_lesson2)[0], EVERY_LINE
    if name == "gradient_descent_batch":
        return printed(course_lesson3_gd)[0], EVERY_LINE
    if name == "gradient_descent_sgd":
        return printed(course_lesson3_sgd)[0], WITH_GRADS
    if name == "backprop_linear":
        return printed(course_lesson4)[0], WITH_GRADS
    if name == "backprop_quadratic":
        return printed(course_lesson4_quadratic)[0], WITH_GRADS
    if name in ("linear_regression", "logistic_regression"):
        weights = initial_weights(name, tmp_path, capsys)
        initial = {k.removeprefix("linear."): v for k, v in weights.items()}
        script = course_lesson5 if name == "linear_regression" else course_lesson6
        return printed(script, initial)[0], EVERY_LINE
    if name == "diabetes":
        short = [*DIABETES_SHORT, "--model.init_args.course_steps_per_batch", "10"]
        initial = initial_weights(name, tmp_path, capsys, *short)
        lines = printed(course_lesson7, fetch(DIABETES, None), 10, initial)[0]
        return lines, short
    if name == "diabetes_minibatch":
        initial = initial_weights(name, tmp_path, capsys, *DIABETES_SHORT)
        order = DataModuleOrder(all_rows(batch_size=32))
        lines = printed(course_lesson8, fetch(DIABETES, None), 1, initial, order)[0]
        return lines, DIABETES_SHORT
    raise KeyError(name)


COURSE_SCRIPTS = [
    "linear_search",
    "gradient_descent_batch",
    "gradient_descent_sgd",
    "backprop_linear",
    "backprop_quadratic",
    "linear_regression",
    "logistic_regression",
    "diabetes",
    "diabetes_minibatch",
]
#: Short settings for the configs whose printed lines the parity tests do not hold.
SHORT = {
    "linear_search_bias": [],
    "backprop_affine": [],
    "mnist": [*MNIST_ONE_EPOCH, "--trainer.limit_train_batches", "30"],  # 300 batches: one line
    "mnist_sungkim": [*MNIST_ONE_EPOCH, "--trainer.limit_train_batches", "3"],
    "cnn": [*MNIST_ONE_EPOCH, "--trainer.limit_train_batches", "3"],
    # 2, not 1: the CLI reads "1" as 1.0, the whole epoch
    "inception": [*MNIST_ONE_EPOCH, "--trainer.limit_train_batches", "2"],
    "resnet": [*MNIST_ONE_EPOCH, "--trainer.limit_train_batches", "2"],
    "mnist_speedrun": [
        *MNIST_ONE_EPOCH,
        "--trainer.limit_train_batches",
        "2",
        "--trainer.check_val_every_n_epoch",  # the config validates every second epoch
        "1",
        "--trainer.accelerator",
        "cpu",
        "--trainer.precision",
        "32-true",
    ],  # fmt: skip
    "names": [
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "11",
        "--trainer.limit_val_batches",
        "2",
    ],  # fmt: skip
    "rnn_cell": [],
    "rnn": [],
    "rnn_embedding": [],
}


def test_the_table_holds_every_config():
    assert sorted([*COURSE_SCRIPTS, *SHORT]) == LESSON_CONFIGS and len(LESSON_CONFIGS) == 21


@pytest.mark.slow
@pytest.mark.parametrize("name", COURSE_SCRIPTS)
def test_a_terminal_shows_every_line_of_the_course_script(name, tmp_path, capsys):
    """Progress bar on: the course script's lines, all of them, in order, to 1e-6."""
    course, extra = course_output(name, tmp_path, capsys)
    shown = in_a_terminal("fit", "--config", config(name), *extra, cwd=tmp_path)
    assert_in_order(course, shown, same_line)
    assert any(line.startswith("Run folder: ") for line in shown)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SHORT))
def test_a_terminal_shows_what_the_lesson_prints(name, tmp_path, capsys):
    """Progress bar on: every line the same command prints when nothing is drawn, in order."""
    args = ["fit", "--config", config(name), *SHORT[name]]
    (tmp_path / "quiet").mkdir()
    (tmp_path / "terminal").mkdir()
    quiet = run_in_process(*args, *QUIET, cwd=tmp_path / "quiet", capsys=capsys)
    commands = ("Predict:  ", "Resume:   ")  # these name the flags given, QUIET's too
    expected = [line for line in quiet if not line.startswith(commands)]
    assert expected.index(f"Run folder: {Path('runs', name, 'version_0')}") > 0  # lines before
    shown = in_a_terminal(*args, cwd=tmp_path / "terminal")
    assert_in_order(expected, shown, same_but_the_clock)
    assert [line.startswith(commands) for line in shown].count(True) == 2


def same_but_the_clock(expected: str, shown: str) -> bool:
    """Equal lines, but for lesson 13's time since the start (``[0m 12s]``)."""
    clock = re.compile(r"^\[\d+m \d+s\]")
    return clock.sub("[time]", expected) == clock.sub("[time]", shown)


#: Lessons 2-6 at their full configs, as a learner's first run: the course's opening line,
#: closing lines and the run folder, and no course-shaped line out of place.
FIRST_RUNS = [
    ("linear_search", 0),
    ("gradient_descent_batch", 1),
    ("gradient_descent_sgd", 1),
    ("backprop_linear", 1),
    ("backprop_quadratic", 1),
    ("linear_regression", 3),
    ("logistic_regression", 1),
]
CHEAP_FIRST_RUNS = ("linear_regression", "gradient_descent_batch")


@pytest.mark.parametrize(
    ("name", "closing"),
    [
        pytest.param(*run, marks=[] if run[0] in CHEAP_FIRST_RUNS else [pytest.mark.slow])
        for run in FIRST_RUNS
    ],
)
def test_a_learners_first_run_shows_the_course_in_full(name, closing, tmp_path, capsys):
    course, _ = course_output(name, tmp_path, capsys)
    shown = in_a_terminal("fit", "--config", config(name), cwd=tmp_path)
    course_shaped = shaped_like(course, shown)
    assert_in_order(course_shaped, course, same_line)  # each one a course line, in order
    first_and_closing = [course[0], *course[len(course) - closing :]]
    assert_in_order(first_and_closing, course_shaped, same_line)
    run = next(line for line in shown if line.startswith("Run folder: "))
    assert run == f"Run folder: {Path('runs', name, 'version_0')}"
    assert (tmp_path / "runs" / name / "version_0" / "checkpoints" / "last.ckpt").is_file()
    assert any(line.startswith("Predict:  python cli.py predict --config") for line in shown)


@pytest.mark.slow
def test_lesson_13_opens_with_the_course_line_in_a_terminal(tmp_path):
    shown = in_a_terminal("fit", "--config", config("names"), *SHORT["names"], cwd=tmp_path)
    assert "Training for 1 epochs..." in shown  # the course: Training for 100 epochs...


# --- the progress bar ---------------------------------------------------------------------


def test_a_course_epoch_lessons_bar_counts_course_epochs_within_80_columns(tmp_path):
    """Lesson 7 runs 50 course epochs a training step here (1000 in its config): its bar
    counts course epochs over the whole fit, not Lightning's one step an epoch (``0/1``), and
    every state of it, metrics included, fits an 80-column terminal."""
    text = terminal_output(
        "fit", "--config", config("diabetes"), "--trainer.max_epochs", "40",
        "--model.init_args.course_steps_per_batch", "50", cwd=tmp_path, columns=80,
    )  # fmt: skip
    states = [part.rstrip() for part in re.split(r"[\r\n]", text) if "Course epoch" in part]
    counts = [int(re.search(r"(\d+)/2000", state).group(1)) for state in states]
    assert counts[-1] == 2000 and len(set(counts)) >= 3, states  # it moved, and it ended
    assert counts == sorted(counts) and all(count % 50 == 0 for count in counts)
    assert all(len(state) <= 80 for state in states), max(states, key=len)
    assert "train_loss=" in states[-1] and "val_acc=" in states[-1]
    stopped = [line for line in re.split(r"[\r\n]", text) if "`Trainer.fit` stopped" in line]
    assert stopped and "Course epoch" not in stopped[0]  # a line of its own, after the bar


def test_a_prediction_printed_under_the_bar_has_its_own_line(tmp_path):
    fit = in_a_terminal("fit", "--config", config("rnn"), cwd=tmp_path)
    (checkpoint,) = (tmp_path / "runs" / "rnn").glob("version_0/checkpoints/last.ckpt")
    shown = in_a_terminal("predict", "--config", config("rnn"), "--ckpt_path", str(checkpoint),
                          cwd=tmp_path)  # fmt: skip
    assert "hello → ohlol" in shown, "\n".join(shown)  # a line of its own, not glued to the bar
    assert any(line.startswith("Run folder: ") for line in fit)


# --- what a run says about its results ----------------------------------------------------


def test_validate_and_predict_write_beside_the_checkpoints_run(run_cli, tmp_path, capsys):
    """(``test`` goes the same way, as lessons 9-13 have a test set.)"""
    runs = tmp_path / "runs"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)  # Lightning's too, which pytest hides
        for name, subcommand in (("diabetes", "validate"), ("linear_regression", "predict")):
            run_cli("fit", name, "--trainer.max_epochs", "1")
            run = runs / name / "version_0"
            assert f"Run folder: {Path('runs', name, 'version_0')}" in capsys.readouterr().out
            last = str(run / "checkpoints" / "last.ckpt")
            result = run_cli(subcommand, name, "--ckpt_path", last)
            assert Path(result.trainer.log_dir) == run / subcommand
            assert sorted(p.name for p in (runs / name).iterdir()) == ["version_0"]
            out = capsys.readouterr().out
            if subcommand == "validate":
                assert f"results in {run / 'validate'}" in out
                assert (run / "validate" / "metrics.csv").is_file()
            else:
                assert f"predictions written to {run / 'predict' / 'predictions.csv'}" in out
                again = run_cli(subcommand, name, "--ckpt_path", last)  # a folder of its own
                assert Path(again.trainer.log_dir) == run / "predict_1"
    assert not [w for w in caught if "dirpath has changed" in str(w.message)]


# --- what the figures show ------------------------------------------------------------------


@pytest.fixture
def drawn(monkeypatch) -> dict[str, list[tuple[list, list, str]]]:
    """Each figure drawn, by file name: its lines as (xs, ys, marker), read from matplotlib's
    figure before it is saved."""
    figures_drawn: dict[str, list[tuple[list, list, str]]] = {}
    save = figures._save

    def record(fig, path):
        figures_drawn[Path(path).name] = [
            (list(line.get_xdata()), list(line.get_ydata()), str(line.get_marker()))
            for ax in fig.axes
            for line in ax.get_lines()
        ]
        return save(fig, path)

    monkeypatch.setattr(figures, "_save", record)
    return figures_drawn


def test_one_block_and_a_resumed_run_draw_points_that_show(run_cli, drawn):
    one_block = ["--model.init_args.course_steps_per_batch", "1"]
    run_cli("fit", "linear_regression", *one_block, "--trainer.max_epochs", "1")
    ((xs, ys, marker),) = drawn["loss.png"]
    assert xs == [0] and len(ys) == 1 and marker == "o"  # one point: a marker, or nothing
    run_cli(
        "fit", "linear_regression", *one_block, "--trainer.max_epochs", "2", "--ckpt_path", "last"
    )
    ((xs, ys, marker),) = drawn["loss.png"]
    assert xs == [0, 1] and marker == "o"  # the first epoch came back from the checkpoint


def test_a_long_curve_is_a_plain_line(run_cli, drawn):
    run_cli("fit", "linear_regression")
    ((xs, _, marker),) = drawn["loss.png"]
    assert len(xs) == 1000 and marker == "None"


def test_one_epoch_of_mini_batches_draws_points_that_show(run_cli, drawn):
    run_cli("fit", "diabetes_minibatch", "--trainer.max_epochs", "1")
    curves = drawn["loss.png"]
    assert [len(xs) for xs, _, _ in curves] == [1, 1]  # train and validation, one epoch each
    assert all(marker == "o" for _, _, marker in curves)


@pytest.mark.slow
def test_one_epoch_of_mnist_draws_accuracy_that_shows(run_cli, drawn):
    run_cli(
        "fit", "mnist", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2",
    )  # fmt: skip
    for name in ("loss.png", "acc.png"):
        assert drawn[name] and all(len(xs) == 1 and m == "o" for xs, _, m in drawn[name])


# --- which warnings show ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["linear_search", "gradient_descent_batch", "backprop_linear"])
def test_lessons_that_update_by_hand_raise_no_optimizer_warning(run_cli, name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)  # Lightning's too, which pytest hides
        result = run_cli("fit", name, "--trainer.log_every_n_steps", "50")
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "configure_optimizers" in m]
    assert [m for m in messages if "log_every_n_steps=50" in m]  # the user's own setting shows
    parameters = {"linear_search": 0, "gradient_descent_batch": 1, "backprop_linear": 1}
    assert sum(p.numel() for p in result.model.parameters()) == parameters[name]


QUIETED = """
import logging, warnings
from runner.start import quiet_dependencies
quiet_dependencies()  # as the CLI and the notebooks start a run
logging.basicConfig(level=logging.INFO, format="%(message)s")
warnings.filterwarnings("always", append=True)  # after the package's own filters
warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use isinstance(...)", FutureWarning)
warnings.warn("The state dict in 'x.ckpt' contains no parameters.", UserWarning)
warnings.warn("lr is too high for this lesson", UserWarning)
logging.getLogger("lightning.pytorch.utilities.rank_zero").info("💡 Tip: try litlogger")
logging.getLogger("lightning.pytorch.utilities.rank_zero").info("💡 Tip: try litmodels")
logging.getLogger("lightning.pytorch.trainer.connectors.checkpoint_connector").info(
    "`weights_only` was not set, defaulting to `False`."
)
logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False")
"""


def test_a_run_start_quiets_the_dependencies_not_the_user(tmp_path):
    """In a fresh interpreter (pytest resets warning filters set while it collects)."""
    done = subprocess.run(
        [sys.executable, "-c", QUIETED], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "lr is too high" in done.stderr and "GPU available" in done.stderr
    assert "LeafSpec" not in done.stderr and "Tip" not in done.stderr
    assert "weights_only" not in done.stderr
