"""Checks for the exercise notebooks (``notebooks/exercises/``): each says right, wrong or
not yet, and why, in Chinese and English; none raises, so "Run All" reaches the summary
whatever the answers are.

An exercise leaves its answer as ``TODO`` (``...``); a check on a ``TODO`` answer says
"not yet". The learner's code runs through ``answer(function, *args)``: an exception it raises,
or the None a missing ``return`` leaves, becomes a ``Failed`` answer, which every later
``answer`` passes on and every check reports as wrong, with the error. A wrong value is told
with what was expected, what came and, when it is a common slip, which one: a missing
``.sum()``, a flipped sign, a transposed shape, a factor (a sum for a mean).

The cells a learner fills in are tagged ``raises-exception``: Jupyter's "Run All" (and
nbclient) goes on past an error there. Such a cell leaves the names it was to set unset, so
under IPython every name a failed cell assigns becomes a ``Failed`` that says so (``watch``).

>>> check("w", TODO, expected=2.0)
[check] w: not yet / 尚未完成 - fill in the TODO above / 请完成上面的 TODO
False
>>> check("w", 2.0004, expected=2.0, tol=1e-3)
[check] w: right / 正确 - 2.0004 is within 0.001 of 2
True
>>> check("loss fell", False, why="the loss after training must be below the first one")
[check] loss fell: wrong / 不对 - the loss after training must be below the first one
False
>>> check("dloss/dw", -2.5, expected=2.5, tol=1e-6)
[check] dloss/dw: wrong / 不对 - expected 2.5, got -2.5: the sign is flipped
False
>>> def mse(prediction, y):
...     return ((prediction - y) ** 2).mean
>>> check("mse", answer(mse, 2.0, 1.0), expected=1.0)
[check] mse: wrong / 不对 - mse raised AttributeError: 'float' object has no attribute 'mean'
False
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

#: What an exercise's answer is until the learner writes it.
TODO = ...

#: Every check of this kernel, by name: "right", "wrong" or "not yet".
results: dict[str, str] = {}

#: The longest error or value a check line shows.
SHOWN = 160


class Failed:
    """What the learner's code gave instead of an answer: why (the exception it raised, or
    the None of a missing ``return``). ``answer`` passes it on and ``check`` says wrong."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Failed({self.reason!r})"


def done(*answers: Any) -> bool:
    """Whether every one of ``answers`` is given: none is ``TODO``, None or ``Failed``."""
    return all(
        answer is not TODO and answer is not None and not isinstance(answer, Failed)
        for answer in answers
    )


def answer(function: Any, *args: Any) -> Any:
    """``function(*args)`` when it and every argument are given; else ``TODO`` while one is
    still ``TODO``, or the first ``Failed`` one. An exception ``function`` raises, or a None
    it returns, is a ``Failed``: the check that gets it says wrong, and why."""
    for value in (function, *args):
        if isinstance(value, Failed):
            return value
    if not done(function, *args):
        return TODO
    name = _name_of(function, *args)
    try:
        result = function(*args)
    except Exception as error:  # the learner's code: told, never a crash
        return Failed(f"{name} raised {type(error).__name__}: {_first_line(error)}")
    if result is None:
        return Failed(f"{name} returned None: a missing `return`?")
    return result


def at_least(name: str, value: Any, bound: float) -> bool:
    """Check that ``value`` (an accuracy from 0 to 1) is at least ``bound``."""
    if not done(value):
        return check(name, value)  # not yet, or wrong with the reason it failed
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return check(name, value, expected=bound, why="an accuracy, a number from 0 to 1")
    return check(name, value >= bound, why=f"{value:.2%}, the bound is {bound:.0%}")


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
    """Say whether ``answer`` is ``expected`` (numbers: within ``tol``; tensors, arrays and
    lists compared element by element, shapes first), "not yet" while it is ``TODO``; ``why``
    explains a wrong answer (besides what was expected and what came)."""
    for value in (answer, expected):
        if isinstance(value, Failed):
            return _say(name, "wrong", value.reason)
    if not done(answer) or expected is TODO:
        return _say(name, "not yet", "fill in the TODO above / 请完成上面的 TODO")
    try:
        right, told = _compare(answer, expected, tol)
    except Exception as error:  # a malformed answer is a wrong one, never a crash
        right, told = False, f"got {_show(answer)}, which cannot be compared ({_first_line(error)})"
    if right:
        if expected is True:
            return _say(name, "right", why or "as expected")
        within = f"within {tol:g} of" if tol else "equal to"
        return _say(name, "right", f"{told} is {within} {_show(expected)}")
    if isinstance(expected, bool):
        return _say(name, "wrong", why or told)
    return _say(name, "wrong", f"{why}; {told}" if why else told)


def _compare(answer: Any, expected: Any, tol: float) -> tuple[bool, str]:
    """(whether ``answer`` is ``expected``, the answer as shown when right, else what was
    expected, what came and the likely slip)."""
    if isinstance(expected, bool):  # a condition the answer must meet
        try:
            return bool(answer) == expected, _show(answer)
        except Exception:  # a tensor of several values has no truth value
            return False, f"got {_show(answer)}, not true or false: a missing .all() or .any()?"
    got, want = _plain(answer), _plain(expected)
    if _is_number(want):
        return _compare_numbers(got, want, tol)
    if isinstance(want, list):
        return _compare_lists(got, want, tol, answer)
    right = got == want
    if right is True:
        return True, _show(answer)
    told = f"expected {_show(expected)}, got {_show(answer)}"
    if type(got) is not type(want):
        told += f" (a {_kind(answer)} where a {_kind(expected)} belongs)"
    return False, told


def _compare_numbers(got: Any, want: float, tol: float) -> tuple[bool, str]:
    if isinstance(got, list) and len(_flat(got)) == 1:  # a one-element tensor: its number
        got = _flat(got)[0]
    if isinstance(got, list):
        values = [v for v in _flat(got) if _is_number(v)]
        told = f"expected one number, {_show(want)}, got {_count(got)}"
        if values and len(values) == len(_flat(got)):
            if math.isclose(sum(values), want, abs_tol=max(tol, 1e-12), rel_tol=1e-6):
                return False, f"{told}; their sum is right: a missing .sum()?"
            if math.isclose(sum(values) / len(values), want, abs_tol=max(tol, 1e-12)):
                return False, f"{told}; their mean is right: a missing .mean()?"
        return False, f"{told}: a missing .sum() or .mean(), or an index?"
    if not _is_number(got):
        return False, f"expected a number, {_show(want)}, got {_kind(got)} {_show(got)}"
    if math.isclose(got, want, rel_tol=0.0, abs_tol=tol):
        return True, _show(got)
    return False, f"expected {_show(want)}, got {_show(got)}{_slip(got, want, tol)}"


def _compare_lists(got: Any, want: list, tol: float, answer: Any) -> tuple[bool, str]:
    expected_shape, shape = _shape(want), _shape(got) if isinstance(got, list) else None
    if shape is None:
        return False, f"expected {_count(want)}, got {_kind(answer)} {_show(answer)}"
    if len(shape) == len(expected_shape) == 1 and shape != expected_shape:
        return False, f"expected {_count(want)}, {_show(want)}, got {_count(got)}, {_show(got)}"
    if len(shape) == 1 and got != want and got == want[::-1]:
        return False, f"expected {_show(want)}, got {_show(got)}: the reverse order, transposed?"
    if shape != expected_shape:
        told = f"expected the shape {list(expected_shape)}, got {list(shape)}"
        if len(shape) == 2 and shape == expected_shape[::-1]:
            return False, f"{told}: transposed, rows and columns swapped?"
        if [n for n in shape if n != 1] == [n for n in expected_shape if n != 1]:
            return False, f"{told}: the same values in other dimensions (a squeeze or view?)"
        if len(shape) > len(expected_shape) and shape[: len(expected_shape)] == expected_shape:
            return False, f"{told}: a value per sample where one number belongs (a .sum()?)"
        return False, told
    pairs = list(zip(_flat(got), _flat(want)))
    if all(_equal(g, w, tol) for g, w in pairs):
        return True, _show(got)
    told = f"expected {_show(want)}, got {_show(got)}"
    numbers = all(_is_number(g) and _is_number(w) for g, w in pairs)
    if numbers and all(_equal(-g, w, tol) for g, w in pairs):
        return False, f"{told}: every sign is flipped"
    index, (first, wanted) = next((i, p) for i, p in enumerate(pairs) if not _equal(*p, tol))
    where = f"value {index}" if len(shape) == 1 else "the first value that differs"
    slip = _slip(first, wanted, tol) if numbers else ""
    return False, f"{told}; {where}: {_show(wanted)} expected, {_show(first)} came{slip}"


def _slip(got: float, want: float, tol: float) -> str:
    """The common slips a wrong number shows: ``: the sign is flipped``, a whole factor."""
    if math.isnan(got):
        return ": not a number (nan), a log of 0 or a division by 0?"
    if want == 0 or not math.isfinite(got):
        return ""
    if math.isclose(-got, want, rel_tol=0.0, abs_tol=max(tol, 1e-9 * abs(want))):
        return ": the sign is flipped"
    ratio = got / want
    if not isinstance(want, float) or not 1 / 10.5 < abs(ratio) < 10.5:  # counts: no factors
        return ""
    if ratio >= 1.5 and math.isclose(ratio, round(ratio), rel_tol=1e-4):
        return f": {round(ratio)} times the expected value (a sum for a mean, or a factor twice?)"
    if 0 < ratio <= 0.75 and math.isclose(1 / ratio, round(1 / ratio), rel_tol=1e-4):
        whole = round(1 / ratio)
        return f": 1/{whole} of the expected value (a mean for a sum, or a factor missing?)"
    return ""


def _equal(got: Any, want: Any, tol: float) -> bool:
    if _is_number(got) and _is_number(want):
        return math.isclose(got, want, rel_tol=0.0, abs_tol=tol)
    return got == want


def _plain(value: Any) -> Any:
    """Tensors, arrays and their scalars as Python numbers and (nested) lists; tuples as lists."""
    if hasattr(value, "tolist") and not isinstance(value, type):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flat(value: Any) -> list:
    if isinstance(value, list):
        return [item for part in value for item in _flat(part)]
    return [value]


def _shape(value: Any) -> tuple:
    """The shape of nested lists (rows of the same length), like a tensor's."""
    if not isinstance(value, list):
        return ()
    shapes = {_shape(item) for item in value}
    inner = shapes.pop() if len(shapes) == 1 else ("ragged",)
    return (len(value), *inner)


def _count(values: list) -> str:
    """``3 values``, ``3 values (shape [3, 1])``: the shape when there are rows."""
    count, shape = len(_flat(values)), _shape(values)
    text = f"{count} value" if count == 1 else f"{count} values"
    return f"{text} (shape {list(shape)})" if len(shape) > 1 else text


def _kind(value: Any) -> str:
    if hasattr(value, "shape") and hasattr(value, "tolist"):
        return f"{type(value).__name__} of shape {list(value.shape)}"
    if callable(value):
        return "function or class (call it?)"
    return type(value).__name__


def _name_of(function: Any, *args: Any) -> str:
    """What to name in an error: ``bce``, ``train(DeeperCNN)`` when functions or classes are
    passed in, and for a lambda the functions and classes it is given.

    >>> _name_of(lambda net: net, TODO), _name_of(_name_of, summary, 3)
    ('your code', '_name_of(summary)')
    """
    named = [getattr(arg, "__name__", "") for arg in args if callable(arg)]
    named = [name for name in named if name and name != "<lambda>"]
    name = getattr(function, "__name__", "")
    if not name or name == "<lambda>":
        return ", ".join(named) or "your code"
    return f"{name}({', '.join(named)})" if named else name


#: What an error says, and the slip it most often comes from.
LIKELY_SLIPS = {
    "cannot be converted to Scalar": "several values where one belongs: a missing .sum()?",
    "only one element tensors": "several values where one belongs: a missing .sum()?",
    "shapes cannot be multiplied": "a layer's in_features differs from what comes in",
    "is not defined": "a name misspelt, or set in a cell not run yet?",
}


def _first_line(error: BaseException) -> str:
    """The error's first line, cut short, with the slip it most often comes from."""
    text = (str(error).strip().splitlines() or [""])[0]
    text = text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
    slip = next((slip for words, slip in LIKELY_SLIPS.items() if words in text), "")
    return f"{text} ({slip})" if slip else text


def _show(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and all(_is_number(v) for v in _flat(value)):
        text = repr(_rounded(value))
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _rounded(value: Any) -> Any:
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return float(f"{value:.6g}") if isinstance(value, float) else value


def assigned_names(source: str) -> list[str]:
    """The names a cell sets at its top level: assignments, functions and classes; read line
    by line when the cell is not valid Python.

    >>> assigned_names("x = 1\\nbest_w, best_b = f()\\ndef mse(w):\\n    return w")
    ['x', 'best_w', 'best_b', 'mse']
    >>> assigned_names("surface = np.array([[1, 2]]\\nclass Net(Lesson):")
    ['surface', 'Net']
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        found = []
        for line in source.splitlines():
            if match := re.match(r"(?:def|class)\s+(\w+)", line):
                found.append(match[1])
            elif match := re.match(r"([A-Za-z_][\w\s,]*?)\s*(?::[^=]*)?=(?!=)", line):
                found += [name.strip() for name in match[1].split(",") if name.strip()]
        return found
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append(node.name)
        targets = getattr(node, "targets", None) or [getattr(node, "target", None)]
        for target in targets if isinstance(node, (ast.Assign, ast.AnnAssign)) else []:
            parts = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            found += [part.id for part in parts if isinstance(part, ast.Name)]
    return found


def mark_failed(namespace: dict, source: str, error: BaseException) -> None:
    """After a cell raised ``error``: each name it assigns that holds no answer (unset,
    ``TODO`` or ``Failed``) becomes a ``Failed`` saying so, which the checks report."""
    kind = "has" if isinstance(error, SyntaxError) else "raised"
    for name in assigned_names(source):
        if name not in namespace or not done(namespace[name]):
            reason = f"the cell that sets {name} {kind} {type(error).__name__}: "
            namespace[name] = Failed(reason + _first_line(error))


def _after_cell(result: Any) -> None:
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        from IPython import get_ipython

        mark_failed(get_ipython().user_ns, result.info.raw_cell, error)


def watch(shell: Any = None) -> None:
    """Have IPython's ``shell`` (by default the running one, where this module is imported
    in a notebook) call ``mark_failed`` after a cell that raises; once per shell."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
    if shell is not None and _after_cell not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("post_run_cell", _after_cell)


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


watch()
