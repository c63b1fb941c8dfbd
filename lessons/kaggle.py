"""What the homework's classifier lessons (Otto, movie reviews) share: the hold-out's line.

A competition's test file has no labels, so the course's ``test()`` after every epoch runs
over the rows of the training file that the datamodule holds out instead (its ``val_split``
is "val"): they are logged as ``val_loss`` and ``val_acc``, which may pick the best
checkpoint, and the course's accuracy line is printed for them.
"""

from __future__ import annotations


class HoldOutAccuracyLine:
    """Put before a ``ClassifierLesson`` in a lesson's bases: after each validation pass over
    the hold-out, the course's accuracy line for it."""

    def print_validation_accuracy(self, correct: int, total: int) -> None:
        self.print(f"accuracy on the held-out rows: {100 * correct / total:.2f} %")
