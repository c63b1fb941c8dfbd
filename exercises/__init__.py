"""Checks for the exercise notebooks (``notebooks/exercises/``): each says right, wrong or
not yet, and why, in Chinese and English; none raises, so an untouched notebook runs to its end.

An exercise leaves its answer as ``TODO`` (``...``); a check on a ``TODO`` answer says
"not yet". Code that needs an answer runs only once it is given (``done(answer)``).

>>> check("w", TODO, expected=2.0)
[check] w: not yet / 尚未完成 - fill in the TODO above / 请完成上面的 TODO
False
>>> check("w", 2.0004, expected=2.0, tol=1e-3)
[check] w: right / 正确 - 2.0004 is within 0.001 of 2
True
>>> check("loss fell", False, why="the loss after training must be below the first one")
[check] loss fell: wrong / 不对 - the loss after training must be below the first one
False
"""

from __future__ import annotations

import math
from typing import Any

#: What an exercise's answer is until the learner writes it.
TODO = ...

#: Every check of this kernel, by name: "right", "wrong" or "not yet".
results: dict[str, str] = {}


def done(*answers: Any) -> bool:
    """Whether every one of ``answers`` has been filled in (none is ``TODO`` or None)."""
    return all(answer is not TODO and answer is not None for answer in answers)


def _say(name: str, outcome: str, reason: str) -> bool:
    results[name] = outcome
    label = {"right": "right / 正确", "wrong": "wrong / 不对", "not yet": "not yet / 尚未完成"}
    print(f"[check] {name}: {label[outcome]} - {reason}")
    return outcome == "right"


def check(
    name: str,
    answer: Any,
    expected: Any = True,
    tol: float = 0.0,
    why: str = "",
) -> bool:
    """Say whether ``answer`` is ``expected`` (numbers: within ``tol``; tensors and arrays
    compared element by element), "not yet" while it is ``TODO``; ``why`` explains a wrong
    answer (default: what was expected and what came)."""
    if not done(answer):
        return _say(name, "not yet", "fill in the TODO above / 请完成上面的 TODO")
    try:
        right, shown = _compare(answer, expected, tol)
    except Exception as error:  # a malformed answer is a wrong one, never a crash
        return _say(name, "wrong", why or f"could not compare the answer: {error}")
    if right:
        if expected is True:
            return _say(name, "right", why or "as expected")
        within = f"within {tol:g} of" if tol else "equal to"
        return _say(name, "right", f"{shown} is {within} {_show(expected)}")
    return _say(name, "wrong", why or f"expected {_show(expected)}, got {shown}")


def _compare(answer: Any, expected: Any, tol: float) -> tuple[bool, str]:
    if isinstance(expected, bool):  # a condition the answer must meet
        return bool(answer) == expected, _show(answer)
    if hasattr(answer, "tolist"):  # a tensor or an array
        answer = answer.tolist()
    if hasattr(expected, "tolist"):
        expected = expected.tolist()
    return _close(answer, expected, tol), _show(answer)


def _close(answer: Any, expected: Any, tol: float) -> bool:
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(answer, (list, tuple))
            and len(answer) == len(expected)
            and all(_close(a, e, tol) for a, e in zip(answer, expected))
        )
    if isinstance(expected, (int, float)) and isinstance(answer, (int, float)):
        return math.isclose(answer, expected, rel_tol=0.0, abs_tol=tol)
    return answer == expected


def _show(value: Any) -> str:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def summary() -> dict[str, int]:
    """Print and return how many checks are right, wrong and not yet (the last cell)."""
    counts = {outcome: 0 for outcome in ("right", "wrong", "not yet")}
    for outcome in results.values():
        counts[outcome] += 1
    print(
        f"[summary] right / 正确 {counts['right']}, wrong / 不对 {counts['wrong']}, "
        f"not yet / 尚未完成 {counts['not yet']}"
    )
    return counts
