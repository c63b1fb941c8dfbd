"""One LightningModule per lesson of the course, each in its own short file.

Importing the package (the CLI, a notebook, a script) quiets what a learner cannot act on:
deprecation notices from inside our dependencies and Lightning's advertising tips. Warnings
about the learner's own settings still show.
"""

import logging
import warnings


def quiet_dependencies() -> None:
    """No deprecation notice from inside our dependencies (Lightning's use of torch's
    ``LeafSpec``), no advertising tip (litlogger, litmodels), no note that
    ``trainer.save_checkpoint`` kept the whole state (``weights_only`` not set), none that a
    checkpoint holds no parameters; other warnings show."""
    deprecated = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
    warnings.filterwarnings("ignore", message=deprecated, category=FutureWarning)
    # Lesson 2's search has no parameters: its checkpoint holds its settings and results.
    warnings.filterwarnings("ignore", message="The state dict in .* contains no parameters")
    for name in (
        "lightning.pytorch.utilities.rank_zero",
        "lightning.fabric.utilities.rank_zero",
        "lightning.pytorch.trainer.connectors.checkpoint_connector",
    ):
        logging.getLogger(name).addFilter(not_for_learners)  # added once, however often called


def not_for_learners(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not message.startswith("💡 Tip") and "`weights_only` was not set" not in message


quiet_dependencies()
