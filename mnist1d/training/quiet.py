"""Known harmless messages of the libraries, silenced in every run; any other warning still shows.

Each entry says why it is harmless here. They are matched by message, so a new warning of the same library
is not hidden.
"""

from __future__ import annotations

import logging
import warnings

HARMLESS_WARNINGS = (
    # Lightning's own pytree helper builds torch's deprecated LeafSpec; nothing in this project uses it.
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    # Lightning counts training_step calls, each a chunk of optimizer steps; the optimizer-step logging
    # interval (trainer.log_every_n_steps) is honoured whatever this count.
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    # On a machine with SLURM installed, Lightning suggests `srun` for every run outside a SLURM job: a run
    # is one process on one device, and sweep.py's SLURM jobs are started by srun.
    r"The `srun` command is available on your system but is not used",
    # With CUDA graphs (cuda_graphs.py) the optimizer is made capturable before its first steps, which run
    # eagerly as the capture's warm-up (and so do an epoch's smaller last batches): intended, and cheap.
    r"This instance was constructed with capturable=True .* but step\(\) is running without",
    # Lightning's CSVLogger on a directory with a log: a resumed run writes its earlier rows again
    # (loggers.continue_csv), and a fresh start is meant to start a new file.
    r"Experiment logs directory .* exists and is not empty\. Previous log files",
)
HARMLESS_LOG_LINES = {
    "pytorch_lightning.utilities.rank_zero": (
        "litlogger",  # an advertisement printed when no LitLogger is configured
        "was configured so",  # describes the chunk-counted intervals the training code passes, not the user's
    ),
}


class _DropLines(logging.Filter):
    def __init__(self, fragments: tuple[str, ...]) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


def silence_harmless_messages() -> None:
    """Install the filters (idempotent)."""
    for pattern in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name, fragments in HARMLESS_LOG_LINES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines(fragments))
