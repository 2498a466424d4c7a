"""A stack's data: one dataset, and each member's training minibatches in the order its own run would see."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from mnist1d.training.datamodule import MNIST1DDataModule
from mnist1d.training.engine.batches import Batch, TrainingChunks


class StackedChunks(TrainingChunks):
    """The training streams of several seeds served together: each item is a chunk of minibatches `(x, y)`
    of shape `(members, batch, ...)`, whose `[k]` is exactly the minibatch member k's own run (seed
    `seeds[k]`, in `order`) serves at that step. One indexing operation gathers a chunk for every member."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        seeds: Sequence[int],
        chunk: int = 1,
        accumulate: int = 1,
        start_step: Callable[[], int] = lambda: 0,
        order: str = "shuffled",
    ) -> None:
        super().__init__(x, y, batch_size, chunk, accumulate, seeds[0], start_step, order)
        self.members = [
            TrainingChunks(x, y, batch_size, chunk, accumulate, seed, order=order) for seed in seeds
        ]

    def state_dict(self) -> dict[str, Any]:
        return {
            "seeds": [member.seed for member in self.members],
            "order": "cyclic" if self.cyclic else "shuffled",
            "chunk": self.chunk,
            "accumulate": self.accumulate,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        seeds = [member.seed for member in self.members]
        if list(state["seeds"]) != seeds:
            raise ValueError(f"resuming a stack of seeds {seeds} from a checkpoint of seeds {state['seeds']}")
        for member, seed in zip(self.members, seeds, strict=True):
            # stacks saved before the order option trained in shuffled order
            own = {"seed": seed, "order": state.get("order", "shuffled")}
            member.load_state_dict(own | {"chunk": state["chunk"], "accumulate": state["accumulate"]})

    def member_state(self, k: int) -> dict[str, int]:
        """What member k's own stream saves in a checkpoint."""
        return self.members[k].state_dict()

    def steps(self, first: int, count: int) -> list[Batch]:
        takes = [[member.take(step) for step in range(first, first + count)] for member in self.members]
        sizes = [len(take) for take in takes[0]]
        index = torch.stack([torch.cat(member_takes) for member_takes in takes])
        return list(zip(self.x[index].split(sizes, dim=1), self.y[index].split(sizes, dim=1), strict=True))


class StackedDataModule(MNIST1DDataModule):
    """The DataModule of a stack: the members' common data (they differ only in `shuffle_seed`), with the
    training split served by `StackedChunks` in each member's own order (`order`: shuffled by each member's
    seed, or the one cyclic walk)."""

    def __init__(self, shuffle_seeds: Sequence[int], **data_args: Any) -> None:
        super().__init__(shuffle_seed=shuffle_seeds[0], **data_args)
        self.shuffle_seeds = list(shuffle_seeds)

    def train_dataloader(self) -> StackedChunks:
        x, y = self._on_device("train")
        return StackedChunks(
            x,
            y,
            self.batch_size,
            self.shuffle_seeds,
            self.plan.chunk * self.plan.accumulate,
            self.plan.accumulate,
            self._minibatches_done,
            self.order,
        )
