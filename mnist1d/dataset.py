"""A plain `torch.utils.data.Dataset` for users outside Lightning."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from mnist1d.data import load_dataset
from mnist1d.dataset_config import DatasetConfig

SPLITS = ("train", "test")


class MNIST1D(Dataset):
    """One split of MNIST-1D as `(x, y)` pairs: `x` a float32 tensor of shape `(length,)`, `y` a class index.

    >>> train = MNIST1D("train")            # 4000 samples of the default dataset
    >>> loader = torch.utils.data.DataLoader(train, batch_size=100, shuffle=True)
    """

    def __init__(
        self, split: str = "train", config: DatasetConfig | None = None, cache_dir: str | Path | None = None
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split={split!r} is invalid: must be one of {SPLITS}")
        data = load_dataset(config or DatasetConfig(), cache_dir)
        suffix = "" if split == "train" else "_test"
        self.x = torch.as_tensor(data["x" + suffix], dtype=torch.float32)
        self.y = torch.as_tensor(data["y" + suffix], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]
