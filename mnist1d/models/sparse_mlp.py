"""The lottery-ticket net: the paper's MLP with a fixed binary mask on every weight and bias."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils import prune

from mnist1d.atomic import atomic_open
from mnist1d.models.mlp import MLP

MASKED = ("_orig", "_mask")  # torch's pruning keeps `<name>_orig` (the parameter) and `<name>_mask`


class SparseMLP(MLP):
    """`MLP` that computes with `parameter * mask` for every weight and bias (torch's pruning
    reparametrisation), so a masked entry is zero and gets no gradient: the net a lottery ticket trains.

    `init` is an .npz of every parameter's initial value under its name (`linear1.weight`, ...): the values
    a ticket is rewound to. `mask` is an .npz of the masks under the same names (nonzero keeps the entry).
    Without them: PyTorch's initialisation and all-ones masks, i.e. the dense `mlp`. Both files are read as
    plain arrays (`allow_pickle=False`) when the net is built; `save_arrays` writes them.
    """

    def __init__(
        self,
        seq_length: int = 40,
        num_classes: int = 10,
        hidden_size: int = 100,
        init: str | None = None,
        mask: str | None = None,
    ) -> None:
        super().__init__(seq_length, num_classes, hidden_size)
        shapes = {name: tuple(p.shape) for name, p in self.named_parameters()}
        values = load_arrays(init, shapes, "model.init") if init else {}
        masks = load_arrays(mask, shapes, "model.mask") if mask else {}
        for name, shape in shapes.items():
            module_name, attribute = name.rsplit(".", 1)
            module = self.get_submodule(module_name)
            if name in values:
                with torch.no_grad():
                    getattr(module, attribute).copy_(values[name])
            keep = masks[name] != 0 if name in masks else torch.ones(shape, dtype=torch.bool)
            prune.custom_from_mask(module, attribute, keep)


def effective_parameters(state: Mapping[str, Tensor], prefix: str = "") -> dict[str, Tensor]:
    """A `SparseMLP` state dict (keys under `prefix`, e.g. `net.` in a checkpoint) as the parameters the net
    computes with, `<name>_orig * <name>_mask`, under the plain names (`linear1.weight`, ...)."""
    suffix_orig, suffix_mask = MASKED
    names = [
        k[len(prefix) : -len(suffix_orig)] for k in state if k.startswith(prefix) and k.endswith(suffix_orig)
    ]
    return {name: state[prefix + name + suffix_orig] * state[prefix + name + suffix_mask] for name in names}


def masks_of(state: Mapping[str, Tensor], prefix: str = "") -> dict[str, Tensor]:
    """The boolean masks of a `SparseMLP` state dict, under the plain parameter names."""
    suffix = MASKED[1]
    return {
        k[len(prefix) : -len(suffix)]: state[k] != 0
        for k in state
        if k.startswith(prefix) and k.endswith(suffix)
    }


def save_arrays(path: Path, arrays: Mapping[str, Tensor | np.ndarray]) -> None:
    """Write named arrays (initial values or masks) as the .npz `SparseMLP` reads, atomically."""
    with atomic_open(path) as file:
        np.savez_compressed(file, **{name: np.asarray(value) for name, value in arrays.items()})


def read_arrays(path: str | Path, field: str) -> dict[str, Tensor]:
    """The named arrays of an .npz as tensors, read as plain arrays (never pickles); anything else is
    refused with a ValueError naming `field`."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("an .npy holds one unnamed array")
        with data:
            return {name: torch.as_tensor(data[name]) for name in data.files}
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{field}={str(path)!r} is invalid: not a readable .npz of arrays ({error})"
        ) from error


def load_arrays(path: str | Path, shapes: Mapping[str, tuple[int, ...]], field: str) -> dict[str, Tensor]:
    """The arrays of an .npz, exactly one per parameter name of `shapes`, with that shape."""
    arrays = read_arrays(path, field)
    found = {name: tuple(array.shape) for name, array in arrays.items()}
    if found != dict(shapes):
        raise ValueError(
            f"{field}={str(path)!r} is invalid: must hold exactly the arrays {dict(shapes)}, has {found}"
        )
    return arrays
