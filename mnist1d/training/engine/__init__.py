"""The engine: what lets Lightning's Trainer run these tiny nets at the speed of a plain PyTorch loop.

Why it exists: one optimizer step of the nets here takes a fraction of a millisecond on a CPU, and
Lightning's per-`training_step` bookkeeping (loops, hooks, progress, logging, its optimizer wrapper) costs as
much again; on a GPU, kernel launches cost more than the arithmetic. The engine pays Lightning's price once
per chunk of optimizer steps and launches a GPU step as one graph, without changing what any number means:

- plan.py: the run in optimizer steps (`StepPlan`), the Trainer arguments that carry it out when each
  `training_step` call is a chunk, and the Trainer options that would count chunks, refused
  (`TRAINER_RULES`);
- batches.py: the training data as a step-indexed stream served a chunk at a time (`TrainingChunks`; the
  data order depends on the seed and the step alone), evaluation splits as whole-tensor batches;
- chunked_step.py: `ChunkedSteps`, the LightningModule half: many optimizer steps per call with automatic
  optimization's arithmetic (accumulation, clipping, scheduler), train metrics sent once per chunk;
- progress.py: a progress bar that counts optimizer steps;
- cuda_graphs.py: the whole training step captured once and replayed as a CUDA graph;
- lightning_internals.py: the three Lightning internals the above need, each checked when a run starts.

The core (`Classifier`, `MNIST1DDataModule`, `fit`, `evaluate`) uses the engine through the names below
and `ChunkedSteps`; the rest of it is a plain Lightning program.

A Lightning upgrade must re-check: the internals (`check` names a missing one before any training; tests in
tests/training/engine/test_lightning_internals.py); that Lightning still counts `val_check_interval`,
`log_every_n_steps`, `fast_dev_run` and its loggers' x-axis in `training_step` calls (plan.py,
`ChunkedSteps.log_at_step`); that `clip_gradients` and `lr_schedulers()` keep their meaning under manual
optimization; the `ProgressBar` hooks; and that the chunked step still equals automatic optimization bit for
bit (tests/training/engine/test_plan.py) and gives the same results for every chunk size
(tests/training/test_fit.py).
"""

from __future__ import annotations

from mnist1d.training.engine.cuda_graphs import CudaGraphs
from mnist1d.training.engine.lightning_internals import cheap_cuda_check, check
from mnist1d.training.engine.plan import TRAINER_RULES, StepPlan, eval_part, make_plan, trainer_arguments
from mnist1d.training.engine.progress import StepProgressBar

__all__ = [
    "TRAINER_RULES",
    "CudaGraphs",
    "StepPlan",
    "StepProgressBar",
    "cheap_cuda_check",
    "check",
    "eval_part",
    "make_plan",
    "trainer_arguments",
]
