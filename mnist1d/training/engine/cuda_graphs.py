"""The whole training step as one CUDA graph: captured once, replayed for every step of a chunk.

The nets here are small, so on a GPU a step is bound by kernel launches, not by compute: an eager step
launches dozens to hundreds of kernels (forward, backward, optimizer), each costing CPU time while the GPU
mostly waits. A CUDA graph records those launches once and replays them with one call. What a graph needs:

- static inputs: each step's minibatch (from the chunk's one gather, `TrainingChunks`) is copied into the
  same two buffers, which the graph reads;
- no host work inside the step: the optimizer keeps its step count on the device (`capturable=True`,
  Adam and its relatives; SGD has no count), the learning rate stays constant (no scheduler), and there is
  no autocast (`*-mixed` precisions) or gradient accumulation;
- no new memory: gradients are allocated during capture, inside the graph's pool, and overwritten by every
  replay (so no zeroing is needed); the optimizer's state exists after the eager warm-up steps;
- random numbers: dropout draws from the CUDA generator, which PyTorch registers with every graph, so each
  replay draws new masks, in the order eager steps would.

`GraphedStep` runs the same step function as the eager path (`ChunkedSteps._optimizer_step`): the first
`WARMUP_STEPS` steps eagerly on a side stream, then one capture, then replays. A capture that fails, or a
batch of another shape (the last, smaller batch of an epoch), runs eagerly. `CudaGraphs`, a callback, decides
per run (`cuda_graphs: auto | true | false`) and logs one line when it falls back; `refusal` says why a run
cannot be captured, and is what the CPU tests check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch

log = logging.getLogger(__name__)

WARMUP_STEPS = 3  # eager steps before the capture: the optimizer's state and the kernels' caches exist
Step = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def capturable(optimizer: torch.optim.Optimizer) -> bool:
    """Whether `optimizer` can step inside a CUDA graph: it has a `capturable` mode (Adam, AdamW, RMSprop,
    ...), or keeps no host-side state (SGD)."""
    return "capturable" in optimizer.defaults or type(optimizer) is torch.optim.SGD


def refusal(
    device: torch.device,
    optimizer: torch.optim.Optimizer,
    has_scheduler: bool,
    precision: str,
    accumulate: int,
    compiled: bool,
) -> str | None:
    """Why this run's training step cannot be captured as a CUDA graph, or None when it can."""
    if device.type != "cuda":
        return f"the run trains on {device.type}, not on a CUDA device"
    if has_scheduler:
        return "a learning-rate scheduler changes the learning rate, which a graph holds constant"
    if not capturable(optimizer):
        return f"{type(optimizer).__name__} cannot step inside a graph (no capturable mode)"
    if str(precision).endswith("-mixed"):
        return f"trainer.precision={precision} runs under autocast"
    if accumulate != 1:
        return "trainer.accumulate_grad_batches > 1"
    if compiled:
        return "compile=true (torch.compile has its own CUDA graphs: mode='reduce-overhead')"
    return None


def wanted(mode: Any, reason: str | None) -> bool:
    """Whether to use CUDA graphs for `mode` given `refusal`'s `reason`, logging one line on a fallback:
    `auto` falls back silently off CUDA and with an info line on CUDA; `true` always says why not."""
    if reason is None:
        return mode in ("auto", True)
    if mode is True:
        log.warning("cuda_graphs=true, but training eagerly: %s", reason)
    elif mode == "auto" and not reason.startswith("the run trains on"):
        log.info("CUDA graphs off, training eagerly: %s", reason)
    return False


def make_capturable(optimizer: torch.optim.Optimizer) -> None:
    """Switch the optimizer to its graph-safe mode, moving a restored step count onto the device."""
    for group in optimizer.param_groups:
        if "capturable" not in group:
            continue
        group["capturable"] = True
        for param in group["params"]:
            step = optimizer.state.get(param, {}).get("step")
            if torch.is_tensor(step) and step.device != param.device:
                optimizer.state[param]["step"] = step.to(param.device, torch.float32)


def as_eager_checkpoint(optimizer_states: list[dict[str, Any]]) -> None:
    """A checkpoint's optimizer states as eager training saves them (not capturable, step counts on the
    host), so that it resumes on any device, with or without graphs. New dicts throughout: a state dict
    shares the live optimizer's per-parameter state."""
    for state in optimizer_states:
        groups = state["param_groups"]
        state["param_groups"] = [
            group | {"capturable": False} if "capturable" in group else group for group in groups
        ]
        per_param = state["state"]
        state["state"] = {
            key: values | {"step": values["step"].cpu()} if torch.is_tensor(values.get("step")) else values
            for key, values in per_param.items()
        }


class GraphedStep:
    """`step(x, y) -> (loss, logits)` (one optimizer step on one minibatch) run through static buffers:
    eagerly for `WARMUP_STEPS` steps, then captured once (`capture=True`) and replayed.

    The returned tensors are the graph's outputs, overwritten by the next replay: copy what must last.
    Off CUDA, or with `capture=False`, every step runs eagerly through the same buffers (what the CPU tests
    compare with the eager path, bit for bit). A failed capture leaves the step eager, with one warning.
    """

    def __init__(
        self,
        step: Step,
        capture: bool = True,
        warmup: int = WARMUP_STEPS,
        before_capture: Callable[[], None] = lambda: None,
    ) -> None:
        self.step = step
        self.capture = capture
        self.warmup = warmup
        self.before_capture = before_capture  # e.g. wait for other threads' CUDA work (checkpoint writes)
        self.inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.outputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.steps = 0  # steps run through the buffers

    def accepts(self, x: torch.Tensor, y: torch.Tensor) -> bool:
        """Whether a minibatch fits the static buffers (the first one sets them)."""
        if self.inputs is None:
            return True
        return all(
            a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
            for a, b in zip(self.inputs, (x, y), strict=True)
        )

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.inputs is None:
            self.inputs = (torch.empty_like(x), torch.empty_like(y))
        self.inputs[0].copy_(x)
        self.inputs[1].copy_(y)
        if self.graph is None and self.capture and self.inputs[0].is_cuda and self.steps >= self.warmup:
            self._capture()
        self.steps += 1
        if self.graph is not None:
            self.graph.replay()
            return self.outputs
        return self._eager()

    def _eager(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not (self.capture and self.inputs[0].is_cuda):
            return self.step(*self.inputs)
        # warm-up on a side stream, as PyTorch's recipe for whole-network capture asks
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            outputs = self.step(*self.inputs)
        torch.cuda.current_stream().wait_stream(side)
        return outputs

    def _capture(self) -> None:
        """Record one step (nothing runs: the replay that follows does it); on failure, stay eager."""
        try:
            self.before_capture()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                outputs = self.step(*self.inputs)
        except Exception as error:  # any op that cannot be captured: this net trains eagerly
            self.capture = False
            log.warning("CUDA graph capture failed, training eagerly: %s: %s", type(error).__name__, error)
            return
        self.graph, self.outputs = graph, outputs


class CudaGraphs(pl.Callback):
    """Decides at the start of training whether the run's step is captured (`mode`: the config's
    `cuda_graphs`) and hands the module a `GraphedStep`; saved checkpoints stay eager ones.

    `before_capture(trainer)` waits for whatever else may be using the device when the capture starts: the
    run's background checkpoint writes copy tensors from it, which no capture may overlap.
    """

    def __init__(
        self,
        mode: Any = "auto",
        compiled: bool = False,
        before_capture: Callable[[pl.Trainer], None] = lambda trainer: None,
    ) -> None:
        self.mode = mode
        self.compiled = compiled
        self.before_capture = before_capture
        self.active = False  # this run's step goes through a GraphedStep
        self.captured = False  # and its graph was captured (results.json: cuda_graphs)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = trainer.optimizers[0]
        reason = refusal(
            pl_module.device,
            optimizer,
            bool(trainer.lr_scheduler_configs),
            trainer.precision,
            pl_module.hparams.get("accumulate", 1),
            self.compiled,
        )
        self.active = wanted(self.mode, reason)
        if self.active:
            make_capturable(optimizer)
            pl_module.step_runner = GraphedStep(
                lambda x, y: pl_module._optimizer_step(optimizer, [(x, y)]),
                before_capture=lambda: self.before_capture(trainer),
            )

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        runner, pl_module.step_runner = pl_module.step_runner, None  # frees the graph and its memory pool
        self.captured = self.captured or (runner is not None and runner.graph is not None)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self.active and "optimizer_states" in checkpoint:
            as_eager_checkpoint(checkpoint["optimizer_states"])
