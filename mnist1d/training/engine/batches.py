"""Minibatches served by indexing tensors held whole in memory (on the training device)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from mnist1d.rules import Rule, one_of, refuse

Batch = tuple[torch.Tensor, torch.Tensor]


class TensorBatches:
    """Consecutive `(x, y)` minibatches in storage order: the evaluation and test splits."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        for start in range(0, len(self.y), self.batch_size):
            yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]


ORDERS = ("shuffled", "cyclic")
ORDER_RULE = Rule("order", one_of(ORDERS), lambda v: v in ORDERS)


class TrainingChunks:
    """The training minibatches: a stream indexed by minibatch, served `chunk` at a time.

    `order="shuffled"`: minibatch `t` is batch `t % n` of data epoch `t // n` (n batches per epoch), whose
    order is a permutation drawn from `(seed, epoch)` alone. `order="cyclic"`: minibatch `t` is the slice
    `[(t * batch_size) % N, (t * batch_size) % N + batch_size)` of the N samples in storage order, cut short
    at the end of the split: the fixed walk of both papers' training loops, never reshuffled (so a pass over
    the data need not start at sample 0). Iteration starts at the minibatch given by `start_step()` (the
    trainer's global step times the minibatches per optimizer step, `accumulate`), so the data order is a
    pure function of the step: a run resumed from any checkpoint sees exactly the batches it would have
    seen, whatever the chunk size. Each item is a list of `chunk` consecutive minibatches (whole optimizer
    steps), gathered with one indexing operation; a Lightning epoch is `len(self)` items, about one pass
    over the data.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        chunk: int = 1,
        accumulate: int = 1,
        seed: int = 0,
        start_step: Callable[[], int] = lambda: 0,
        order: str = "shuffled",
    ) -> None:
        refuse([ORDER_RULE], {"order": order}, prefix="data.")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.chunk = chunk
        self.accumulate = accumulate
        self.seed = seed
        self.start_step = start_step
        self.cyclic = order == "cyclic"
        self.batches_per_epoch = -(-len(y) // batch_size)
        self._order: tuple[int, torch.Tensor] | None = None

    def state_dict(self) -> dict[str, int | str]:
        """The order is derived from the global step; seed, order, chunk and accumulation must match on
        resume."""
        order = "cyclic" if self.cyclic else "shuffled"
        return {"seed": self.seed, "order": order, "chunk": self.chunk, "accumulate": self.accumulate}

    def load_state_dict(self, state: dict[str, int | str]) -> None:
        # checkpoints from before chunks (one step per training_step), accumulation or the order option
        saved = {"chunk": 1, "accumulate": 1, "order": "shuffled"} | state
        for name, value in self.state_dict().items():
            if saved[name] != value:
                raise ValueError(
                    f"resuming with data {name} {value}, but the checkpoint used {saved[name]}: "
                    "resume with the configuration the checkpoint was trained with"
                )

    def __len__(self) -> int:
        return max(1, round(self.batches_per_epoch / self.chunk))

    def order(self, epoch: int) -> torch.Tensor:
        """The sample order of one data epoch, on the data's device (the latest one is kept)."""
        if self._order is not None and self._order[0] == epoch:
            return self._order[1]
        entropy = np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(entropy))
        self._order = (epoch, torch.randperm(len(self.y), generator=generator).to(self.y.device))
        return self._order[1]

    def take(self, step: int) -> torch.Tensor:
        """The sample indices of minibatch `step`."""
        if self.cyclic:
            start = step * self.batch_size % len(self.y)
            return torch.arange(start, min(start + self.batch_size, len(self.y)), device=self.y.device)
        epoch, batch = divmod(step, self.batches_per_epoch)
        return self.order(epoch)[batch * self.batch_size : (batch + 1) * self.batch_size]

    def steps(self, first: int, count: int) -> list[Batch]:
        """The minibatches of steps `first` .. `first + count - 1`."""
        takes = [self.take(step) for step in range(first, first + count)]
        sizes = [len(take) for take in takes]
        index = torch.cat(takes)
        return list(zip(self.x[index].split(sizes), self.y[index].split(sizes), strict=True))

    def __iter__(self) -> Iterator[list[Batch]]:
        first_item = self.start_step() // self.chunk
        for item in range(first_item, (first_item // len(self) + 1) * len(self)):
            yield self.steps(item * self.chunk, self.chunk)
