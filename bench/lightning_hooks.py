"""Lightning's per-step hook cost, as it is and with two fixes proposed to Lightning itself.

    OMP_NUM_THREADS=1 python bench/lightning_hooks.py [--rounds 6] [--steps 1500]

The smallest reproduction of issue 36's finding: a ``Linear(784, 10)`` module, the same batch
``--steps`` times, ``Trainer(max_epochs=1)`` with its default callbacks, a CSV logger and a
progress bar that never redraws; one epoch timed (process CPU time) by a callback. Three ways,
in alternating order, round after round (round 0 warms up):

- as is: Lightning as installed;
- name: Lightning records the hook it is running in ``pl_module._current_fx_name``, setting
  and restoring it around every hook call, about 44 writes a step, each through
  ``nn.Module.__setattr__`` and its checks for parameters, modules and buffers. The fix, in
  Lightning's ``trainer/call.py`` wherever it sets or restores the name:
  ``pl_module.__dict__["_current_fx_name"] = name``; here a subclass does the same;
- name + dispatch: also ``trainer/call.py:_call_callback_hooks`` calling only the callbacks
  that override the hook, and building a profiler name only when a profiler runs.

Prints the medians and the microseconds a step each way saves. Nothing here is used by the
lessons: Lightning's dispatch is private, so the project keeps no workaround.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import logging
import statistics
import tempfile
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.trainer import call
from torch.utils.data import DataLoader


class Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(784, 10)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.linear(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


class TinyWithNameFix(Tiny):
    """The first fix, for the measurement: the hook's name straight into ``__dict__``."""

    def __setattr__(self, name: str, value) -> None:
        if name == "_current_fx_name":
            self.__dict__[name] = value
        else:
            super().__setattr__(name, value)


@functools.cache
def overrides(kind: type, hook: str) -> bool:
    return getattr(kind, hook) is not getattr(Callback, hook, None)


def dispatch_fix(trainer, hook_name, *args, monitoring_callbacks=None, **kwargs) -> None:
    """``_call_callback_hooks`` as Lightning 2.6 writes it, less the calls of the base class's
    no-op hooks and the profiler names no profiler reads."""
    pl_module = trainer.lightning_module
    if pl_module:
        prev_fx_name = pl_module._current_fx_name
        pl_module._current_fx_name = hook_name
    callbacks = trainer.callbacks
    if monitoring_callbacks is True:
        callbacks = [cb for cb in callbacks if isinstance(cb, (EarlyStopping, Checkpoint))]
    elif monitoring_callbacks is False:
        callbacks = [cb for cb in callbacks if not isinstance(cb, (EarlyStopping, Checkpoint))]
    profiling = not isinstance(trainer.profiler, PassThroughProfiler)
    for callback in callbacks:
        if not overrides(type(callback), hook_name):
            continue
        fn = getattr(callback, hook_name)
        if profiling:
            with trainer.profiler.profile(f"[Callback]{callback.state_key}.{hook_name}"):
                fn(trainer, trainer.lightning_module, *args, **kwargs)
        else:
            fn(trainer, trainer.lightning_module, *args, **kwargs)
    if pl_module:
        pl_module._current_fx_name = prev_fx_name


class TinyCountingNames(Tiny):
    """Counts the writes of the hook's name, to say how many a step makes."""

    writes = 0

    def __setattr__(self, name: str, value) -> None:
        if name == "_current_fx_name":
            type(self).writes += 1
        super().__setattr__(name, value)


class EpochTimer(Callback):
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.start = time.process_time()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.seconds = time.process_time() - self.start


AS_IS = call._call_callback_hooks
#: Each way: the module it trains and the callback dispatch it runs with.
WAYS = {
    "as is": (Tiny, AS_IS),
    "name": (TinyWithNameFix, AS_IS),
    "name + dispatch": (TinyWithNameFix, dispatch_fix),
}


def epoch(module_class: type, dispatch, batches: list, folder: str) -> float:
    call._call_callback_hooks = dispatch
    timer = EpochTimer()
    trainer = L.Trainer(
        max_epochs=1,
        logger=CSVLogger(folder),
        default_root_dir=folder,
        callbacks=[timer, TQDMProgressBar(refresh_rate=10**9)],
        enable_model_summary=False,
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        trainer.fit(module_class(), DataLoader(batches, batch_size=None))
    call._call_callback_hooks = AS_IS
    return timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="timed rounds after a warm-up")
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # its start-up lines
    torch.manual_seed(0)
    batches = [(torch.randn(64, 784), torch.randint(0, 10, (64,)))] * args.steps
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as folder:
        epoch(TinyCountingNames, AS_IS, batches, folder)  # not timed: the writes a step
        for round_ in range(args.rounds + 1):
            order = list(WAYS) if round_ % 2 else list(WAYS)[::-1]
            for way in order:
                taken = epoch(*WAYS[way], batches, folder)
                if round_:
                    seconds[way].append(taken)
    as_is = statistics.median(seconds["as is"])
    for way, taken in seconds.items():
        median = statistics.median(taken)
        saved = (as_is - median) / args.steps * 1e6
        print(
            f"{way:16} {median:.3f} s ({min(taken):.3f}-{max(taken):.3f}), "
            f"{saved:.0f} µs a step saved"
        )
    writes = TinyCountingNames.writes / args.steps
    print(f"writes of _current_fx_name: {writes:.1f} a step")
    module = Tiny()
    start = time.perf_counter()
    for _ in range(100_000):
        module._current_fx_name = "training_step"
    through_setattr = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(100_000):
        module.__dict__["_current_fx_name"] = "training_step"
    into_dict = time.perf_counter() - start
    print(
        f"one write of _current_fx_name: {through_setattr * 1e4:.0f} ns through "
        f"nn.Module.__setattr__, {into_dict * 1e4:.0f} ns into __dict__"
    )


if __name__ == "__main__":
    main()
