"""The names of the splits a run evaluates on, shared by the configs, the training code and the reports."""

from __future__ import annotations

# The name under which evaluations of the training split are logged (`data.eval_train_split=true`).
TRAIN_SPLIT = "train_split"


def eval_split(val_fraction: float) -> str:
    """The split periodic evaluation reports on: `val` when part of the training split is held out, else
    `test`, as both papers evaluate (conf/train/train.yaml resolves `eval_split` with this too)."""
    return "val" if float(val_fraction) > 0 else "test"
