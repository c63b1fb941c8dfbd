"""Hyperparameters a checkpoint can keep safely.

A lesson built in Python keeps its optimizer argument as Python gives it - ``torch.optim.SGD``,
or ``functools.partial(torch.optim.SGD, lr=0.1)`` - and a class object pickled into a
checkpoint is refused by ``torch.load(weights_only=True)``, the only safe way to read one.
``safe_hyperparameters`` writes such a value as a config does (``class_path``, ``init_args``),
the form in which the CLI saves hyperparameters, and which ``load_from_checkpoint`` rebuilds
through Lightning's CLI instantiator.
"""

from __future__ import annotations

import functools
from typing import Any

INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"  # Lightning's, allow-listed on load


def safe_hyperparameters(lesson: type, hparams: dict[str, Any] | None) -> dict[str, Any] | None:
    """``hparams`` with each class or partial of a class as ``{"class_path", "init_args"}``.

    >>> import torch
    >>> safe = safe_hyperparameters(torch.nn.Linear, {"optimizer": torch.optim.SGD, "lr": 1})
    >>> safe["optimizer"], safe["lr"], safe["_class_path"]
    ({'class_path': 'torch.optim.sgd.SGD', 'init_args': {}}, 1, 'torch.nn.modules.linear.Linear')
    """
    if not hparams or "_instantiator" in hparams:  # nothing, or saved by the CLI: safe already
        return hparams
    converted = {name: as_config(value) for name, value in hparams.items()}
    if all(converted[name] is value for name, value in hparams.items()):
        return hparams
    return {
        "_class_path": f"{lesson.__module__}.{lesson.__qualname__}",
        "_instantiator": INSTANTIATOR,
        **converted,
    }


def as_config(value: Any) -> Any:
    if isinstance(value, functools.partial) and isinstance(value.func, type) and not value.args:
        return {"class_path": class_path(value.func), "init_args": dict(value.keywords)}
    if isinstance(value, type):
        return {"class_path": class_path(value), "init_args": {}}
    return value


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
