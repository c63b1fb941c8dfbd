"""Lessons 2-6 against the course's own code: the same lines printed, losses and weights to 1e-6.

Each ``course_*`` function is the course's script as ../shared/course/course-notes.txt writes
it, plotting left out, returning what it printed, its per-epoch losses and its final weights.
The lesson runs through the CLI with ``print_every 1`` (the course's every-epoch rate), from
the same initial weights, on the same data in the same order.
"""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pytest
import torch

TOLERANCE = 1e-6
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def printed(script, *args) -> tuple[list[str], ...]:
    """Run a course script, returning its printed lines and what it returns."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = script(*args)
    return out.getvalue().splitlines(), *result


def same_line(course: str, lesson: str) -> bool:
    """The same words in the same places, and numbers equal to TOLERANCE (relative, above 1:
    lesson 3's float32 gradients of 16 keep 7 digits of the course's 64-bit floats)."""
    if NUMBER.sub("#", course) != NUMBER.sub("#", lesson):
        return False
    numbers = zip(NUMBER.findall(course), NUMBER.findall(lesson), strict=True)
    return all(abs(float(a) - float(b)) <= TOLERANCE * max(1, abs(float(a))) for a, b in numbers)


def assert_prints_the_course(course_lines: list[str], lesson_output: str) -> None:
    """The course's lines appear in the lesson's output, in order and none left out."""
    lines = lesson_output.splitlines()
    starts = [i for i, line in enumerate(lines) if same_line(course_lines[0], line)]
    assert starts, f"the course's first line {course_lines[0]!r} is not printed"
    block = lines[starts[0] : starts[0] + len(course_lines)]
    assert len(block) == len(course_lines)
    for course, lesson in zip(course_lines, block, strict=True):
        assert same_line(course, lesson), f"course: {course!r}\nlesson: {lesson!r}"


def assert_close(lesson: list[float], course: list[float]) -> None:
    assert len(lesson) == len(course)
    assert np.allclose(lesson, course, rtol=0, atol=TOLERANCE)


# Lesson 2 ------------------------------------------------------------------------------------


def course_lesson2():
    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]

    def forward(x):
        return x * w

    def loss(x, y):
        y_pred = forward(x)
        return (y_pred - y) * (y_pred - y)

    w_list = []
    mse_list = []
    for w in np.arange(0.0, 4.1, 0.1):
        print("w=", w)
        l_sum = 0
        for x_val, y_val in zip(x_data, y_data):
            y_pred_val = forward(x_val)
            loss_val = loss(x_val, y_val)
            l_sum += loss_val
            print("\t", x_val, y_val, y_pred_val, loss_val)
        print("MSE=", l_sum / 3)
        w_list.append(w)
        mse_list.append(l_sum / 3)
    return w_list, mse_list


def test_lesson2_prints_and_searches_as_the_course(run_cli, capsys):
    lines, w_list, mse_list = printed(course_lesson2)
    capsys.readouterr()
    lesson = run_cli("fit", "linear_search", "--model.init_args.print_every", "1").model
    assert_prints_the_course(lines, capsys.readouterr().out)
    assert lesson.w_list == w_list and lesson.mse_list == mse_list


# Lesson 3 ------------------------------------------------------------------------------------


def course_lesson3_gd():
    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]

    w = 1.0

    def forward(x):
        return x * w

    def cost(xs, ys):
        cost = 0
        for x, y in zip(xs, ys):
            y_pred = forward(x)
            cost += (y_pred - y) ** 2
        return cost / len(xs)

    def gradient(xs, ys):
        grad = 0
        for x, y in zip(xs, ys):
            grad += 2 * x * (x * w - y)
        return grad / len(xs)

    print("Predict(before training)", 4, forward(4))
    cost_list = []
    epoch_list = []
    for epoch in range(100):
        cost_val = cost(x_data, y_data)
        grad_val = gradient(x_data, y_data)
        w -= 0.01 * grad_val
        cost_list.append(cost_val)
        epoch_list.append(epoch)
        print("Epoch:", epoch, "w=", w, "loss", cost_val)
    print("Predict(after training)", 4, forward(4))
    return cost_list, {"w": w}


def course_lesson3_sgd():
    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]

    w = 1.0

    def forward(x):
        return x * w

    def loss(x, y):
        y_pred = forward(x)
        return (y_pred - y) ** 2

    def gradient(x, y):
        return 2 * x * (x * w - y)

    print("Predict(before training)", 4, forward(4))
    loss_list = []
    epoch_list = []
    for epoch in range(100):
        for x, y in zip(x_data, y_data):
            grad = gradient(x, y)
            w -= 0.01 * grad
            print("\tgrad:", x, y, grad)
            l = loss(x, y)  # noqa: E741
        print("progress:", epoch, "w=", w, "loss=", l)
        epoch_list.append(epoch)
        loss_list.append(l)
    print("Predict(after training)", 4, forward(4))
    return loss_list, {"w": w}


@pytest.mark.parametrize("mode", ["batch", "sgd"])
def test_lesson3_equals_the_course(run_cli, capsys, mode):
    script = course_lesson3_gd if mode == "batch" else course_lesson3_sgd
    lines, losses, weights = printed(script)
    capsys.readouterr()
    lesson = run_cli(
        "fit",
        f"gradient_descent_{mode}",
        "--model.init_args.print_every",
        "1",
        "--model.init_args.print_grads",
        "true",
    ).model
    assert_prints_the_course(lines, capsys.readouterr().out)
    assert_close(lesson.loss_history, losses)
    assert lesson.w.item() == pytest.approx(weights["w"], abs=TOLERANCE)


# Lesson 4 ------------------------------------------------------------------------------------


def course_lesson4():
    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]

    w = torch.Tensor([1.0])
    w.requires_grad = True

    def forward(x):
        return x * w

    def loss(x, y):
        y_pred = forward(x)
        return (y_pred - y) ** 2

    # The notes print forward(4).item, a bound method: the value is meant.
    print("predict (before training)", 4, forward(4).item())

    epoch_list = []
    MSE_list = []  # noqa: N806
    for epoch in range(100):
        epoch_list.append(epoch)
        for x, y in zip(x_data, y_data):
            l = loss(x, y)  # noqa: E741
            l.backward()
            print("\tgrad:", x, y, w.grad.item())
            w.data = w.data - 0.01 * w.grad.data

            w.grad.data.zero_()
        print("progress:", epoch, l.item())
        MSE_list.append(l.item())
    print("predict (after training)", 4, forward(4).item())  # the notes: "prdict"
    return MSE_list, {"w": w.item()}


def course_lesson4_quadratic():
    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]

    w_1 = torch.Tensor([1.0])
    w_1.requires_grad = True
    w_2 = torch.Tensor([2.0])
    w_2.requires_grad = True
    b = torch.Tensor([3.0])
    b.requires_grad = True

    def forward(x):
        return w_1 * (x**2) + w_2 * x + b

    def loss(x, y):
        y_pred = forward(x)
        return (y_pred - y) ** 2

    print("predict (before training)", 4, forward(4).item())  # the notes: .item, unbracketed

    epoch_list = []
    MSE_list = []  # noqa: N806
    for epoch in range(100):
        epoch_list.append(epoch)
        for x, y in zip(x_data, y_data):
            l = loss(x, y)  # noqa: E741
            l.backward()
            print("\tgrad:", "X:", x, "Y:", y, w_1.grad.item(), w_2.grad.item(), b.grad.item())
            w_1.data = w_1.data - 0.01 * w_1.grad.data
            w_2.data = w_2.data - 0.01 * w_2.grad.data
            b.data = b.data - 0.01 * b.grad.data

            w_1.grad.data.zero_()
            w_2.grad.data.zero_()
            b.grad.data.zero_()
        print("progress:", epoch, l.item())
        MSE_list.append(l.item())
    print(
        "predict (after training)",  # the notes: "prdict"
        4,
        forward(4).item(),
        "w_1=",
        w_1.item(),
        "w_2=",
        w_2.item(),
        "b=",
        b.data.item(),
    )
    return MSE_list, {"w_1": w_1.item(), "w_2": w_2.item(), "b": b.item()}


@pytest.mark.parametrize("model", ["linear", "quadratic"])
def test_lesson4_equals_the_course(run_cli, capsys, model):
    script = course_lesson4 if model == "linear" else course_lesson4_quadratic
    lines, losses, weights = printed(script)
    capsys.readouterr()
    lesson = run_cli(
        "fit",
        f"backprop_{model}",
        "--model.init_args.print_every",
        "1",
        "--model.init_args.print_grads",
        "true",
    ).model
    assert_prints_the_course(lines, capsys.readouterr().out)
    assert_close(lesson.loss_history, losses)
    for name, value in weights.items():
        assert lesson.weights[name].item() == pytest.approx(value, abs=TOLERANCE)


# Lessons 5 and 6 -----------------------------------------------------------------------------


def course_lesson5(initial: dict[str, torch.Tensor]):
    x_data = torch.Tensor([[1.0], [2.0], [3.0]])
    y_data = torch.Tensor([[2.0], [4.0], [6.0]])

    class LinearModel(torch.nn.Module):
        def __init__(self):
            super(LinearModel, self).__init__()  # noqa: UP008
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, x):
            y_pred = self.linear(x)
            return y_pred

    model = LinearModel()
    model.linear.load_state_dict(initial)  # not the course's: the lesson's initial weights

    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    losses = []  # not the course's: it prints them
    for epoch in range(1000):
        y_pred = model(x_data)
        loss = criterion(y_pred, y_data)
        print(epoch, loss.item())
        losses.append(loss.item())

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    print("w =", model.linear.weight.item())
    print("b =", model.linear.bias.item())

    x_test = torch.Tensor([4.0])
    y_test = model(x_test)
    print("y_pred =", y_test.data)
    return losses, model.linear.state_dict()


def course_lesson6(initial: dict[str, torch.Tensor]):
    x_data = torch.Tensor([[1.0], [2.0], [3.0]])
    y_data = torch.Tensor([[0], [0], [1]])

    class LogisticRegressionModel(torch.nn.Module):
        def __init__(self):
            super(LogisticRegressionModel, self).__init__()  # noqa: UP008
            self.linear = torch.nn.Linear(1, 1)

        def forward(self, x):
            y_pred = torch.sigmoid(self.linear(x))
            return y_pred

    model = LogisticRegressionModel()
    model.linear.load_state_dict(initial)  # not the course's: the lesson's initial weights

    criterion = torch.nn.BCELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    losses = []  # not the course's: it prints them
    for epoch in range(1000):
        y_pred = model(x_data)
        loss = criterion(y_pred, y_data)
        print(epoch, loss.item())
        losses.append(loss.item())

        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses, model.linear.state_dict()


@pytest.mark.parametrize("config", ["linear_regression", "logistic_regression"])
def test_lessons_5_and_6_equal_the_course(run_cli, capsys, config):
    # The same seed builds the same initial weights; a fit of no epochs shows them.
    untrained = run_cli("fit", config, "--trainer.max_epochs", "0").model
    initial = {k: v.clone() for k, v in untrained.linear.state_dict().items()}
    script = course_lesson5 if config == "linear_regression" else course_lesson6
    lines, losses, weights = printed(script, initial)
    capsys.readouterr()
    lesson = run_cli("fit", config, "--model.init_args.print_every", "1").model
    assert_prints_the_course(lines, capsys.readouterr().out)
    assert_close(lesson.loss_history, losses)
    for name, value in weights.items():
        assert torch.allclose(lesson.linear.state_dict()[name], value, rtol=0, atol=TOLERANCE)
