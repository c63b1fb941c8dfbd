"""The names a checkpoint would make Python import, checked before anything is imported.

Rebuilding a lesson from a checkpoint imports what its ``hyper_parameters`` name: the
``_instantiator`` (the function that builds the lesson), the ``_class_path`` (the lesson's
class) and every ``class_path`` or dotted name inside, at any depth (an optimizer, a
scheduler), which jsonargparse resolves. They are plain strings, so
``torch.load(weights_only=True)`` lets them through, and importing a module runs its code.
Lightning 2.6.6 checks the ``_instantiator`` alone (GHSA-qqmf-gpg7-g8gw): a nested
``class_path`` is still imported, by ``load_from_checkpoint`` and by LightningCLI's
``--ckpt_path``. So, whatever Lightning's version, each name is checked here against what the
lessons save - Lightning's instantiator, the lessons' classes, torch's optimizers and
learning-rate schedulers - and anything else is refused in one line.
A lesson's ``load_from_checkpoint`` and the CLI's ``--ckpt_path`` check before Lightning
reads.

The other way round, on saving: a lesson built in Python keeps its optimizer argument as Python
gives it - ``torch.optim.SGD``, or ``functools.partial(torch.optim.SGD, lr=0.1)`` - and a class
object pickled into a checkpoint is refused by ``torch.load(weights_only=True)``, the only safe
way to read one. ``safe_hyperparameters`` writes such a value as a config does (``class_path``,
``init_args``), the form in which the CLI saves hyperparameters, and which
``load_from_checkpoint`` rebuilds through Lightning's CLI instantiator. Both bases call it from
``on_save_checkpoint``, so a lesson saved by a user's own Trainer reloads too.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import torch
from lightning.fabric.utilities.cloud_io import get_filesystem

#: Lightning's functions that rebuild a lesson saved by the CLI (its own allow-list); the first
#: is the one ``safe_hyperparameters`` names.
INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"
INSTANTIATORS = {
    INSTANTIATOR,
    "pytorch_lightning.cli.instantiate_module",
}
#: The packages whose classes hyperparameters may name: the lessons, and torch's optimizers
#: with their learning-rate schedulers (``torch.optim.lr_scheduler``).
PACKAGES = ("lessons", "torch.optim")
#: What jsonargparse takes for an import path: ``module.Name``.
DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
IMPORTING_KEYS = ("_instantiator", "_class_path", "class_path")


class ForeignNameError(ValueError):
    """A checkpoint whose hyperparameters name code outside the lessons."""


def check_names(hyperparameters: Any, source: Any, own: str | None = None) -> None:
    """Refuse ``hyperparameters`` (read from ``source``) if loading them would import anything
    but the lessons' classes, torch's optimizers and Lightning's instantiator; ``own``: the
    class path of the lesson being loaded, allowed too (a lesson defined in a notebook)."""
    for where, name in imported_names(hyperparameters):
        if where.endswith("._instantiator"):
            allowed = name in INSTANTIATORS
        else:
            allowed = (own is not None and name == own) or is_allowed_class(name)
        if not allowed:
            raise ForeignNameError(
                f"{source} names {name!r} in hyper_parameters{where}, which loading it would "
                "import and run, so it was refused; load only checkpoints saved by these lessons"
            )


def check_checkpoint(lesson: type, *args: Any, **kwargs: Any) -> None:
    """Before ``lesson.load_from_checkpoint(*args, **kwargs)`` (Lightning's arguments): refuse
    a file whose hyperparameters would import anything but the lessons, torch's optimizers and
    Lightning's instantiator; ``weights_only=False`` says the file is trusted as it is."""
    checkpoint_path = args[0] if args else kwargs["checkpoint_path"]
    weights_only = args[4] if len(args) > 4 else kwargs.get("weights_only")  # Lightning's order
    if weights_only is not False:
        own = f"{lesson.__module__}.{lesson.__qualname__}"
        check_names(saved_hyperparameters(checkpoint_path), checkpoint_path, own)


def imported_names(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Each value in ``value`` that loading would import, and where (``.optimizer.class_path``)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            place = f"{where}.{key}"
            if key in IMPORTING_KEYS:
                yield place, item  # whatever its type: only an allowed name passes
            else:
                yield from imported_names(item, place)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from imported_names(item, f"{where}[{index}]")
    elif isinstance(value, str) and DOTTED.fullmatch(value):
        yield where, value  # jsonargparse imports a dotted string given for a class or callable


def is_allowed_class(name: Any) -> bool:
    """Whether ``name`` is a class of the allowed packages. Only modules inside them are
    imported to find out.

    >>> is_allowed_class("torch.optim.SGD"), is_allowed_class("lessons.cnn.CNN")
    (True, True)
    >>> is_allowed_class("os.system"), is_allowed_class("lessons.base.importlib.import_module")
    (False, False)
    """
    if not isinstance(name, str) or not DOTTED.fullmatch(name) or not inside(name):
        return False
    found = resolve(name)
    return isinstance(found, type) and inside(found.__module__)


def inside(name: str) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in PACKAGES)


def resolve(name: str) -> Any:
    """The object ``name`` denotes, importing only modules inside the allowed packages."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        if not inside(module_name):
            return None
        try:
            found: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute, None)
        return found
    return None


def saved_hyperparameters(checkpoint: str | Path | IO[bytes]) -> Any:
    """The ``hyper_parameters`` of a checkpoint (a path, a URL or an open file), read with
    ``weights_only=True``, as ``load_from_checkpoint`` reads it next; an open file is left
    where it was."""
    if hasattr(checkpoint, "read"):
        start = checkpoint.tell()
        try:
            saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        finally:
            checkpoint.seek(start)
    elif str(checkpoint).startswith("http"):
        saved = torch.hub.load_state_dict_from_url(
            str(checkpoint), map_location="cpu", weights_only=True
        )
    else:
        with get_filesystem(str(checkpoint)).open(str(checkpoint), "rb") as stream:
            saved = torch.load(stream, map_location="cpu", weights_only=True)
    return saved.get("hyper_parameters", {}) if isinstance(saved, dict) else {}


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
