"""Minibatches served by indexing tensors held whole in memory (on the training device)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch


class TensorBatches:
    """An iterable of `(x, y)` minibatches: one index per batch instead of per-sample `__getitem__` + collate.

    With `shuffle`, epoch `e` is ordered by a permutation drawn from `(seed, e)` alone, and an epoch starts at
    the batch given by `start_step()` (the trainer's global step). So the data order is a pure function of
    the step, and a run resumed from any mid-epoch checkpoint sees exactly the batches it would have seen.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        start_step: Callable[[], int] = lambda: 0,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.start_step = start_step

    def state_dict(self) -> dict[str, int]:
        """The order is derived from the global step; only the seed must match on resume."""
        return {"seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seed"] != self.seed:
            raise ValueError(
                f"resuming with data shuffle seed {self.seed}, but the checkpoint used {state['seed']}"
            )

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def order(self, epoch: int) -> torch.Tensor:
        """The sample order of one epoch, on the data's device."""
        entropy = np.random.SeedSequence([self.seed, epoch]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(entropy))
        return torch.randperm(len(self.y), generator=generator).to(self.y.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if not self.shuffle:
            for start in range(0, len(self.y), self.batch_size):
                yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]
            return
        epoch, first = divmod(self.start_step(), len(self))
        index = self.order(epoch)
        for batch in range(first, len(self)):
            take = index[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield self.x[take], self.y[take]
