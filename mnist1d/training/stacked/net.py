"""Many nets of one architecture as one module: their weights stacked, one vectorised pass for all of them."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap
from torch.utils.flop_counter import FlopCounterMode


class StackedNet(nn.Module):
    """`members` nets of one architecture, each with its own weights, run as one net: inputs `(members,
    batch, ...)`, logits `(members, batch, classes)`.

    Every parameter and buffer keeps the name it has in the member nets, with a leading member dimension
    (`linear.weight`: `(members, 10, 40)`), so member k's weights are each tensor's `[k]` under its own
    names (`member_state`). The forward pass runs the architecture's own code once for all members, through
    `torch.func.vmap` over the stacked weights and a weightless copy of the architecture: PyTorch's batching
    rules turn the members' matrix products into batched ones and their convolutions into one grouped
    convolution. BatchNorm keeps running statistics per member; dropout draws its own masks per member.
    `member_forward` runs one member exactly as its own net would (the same kernels on the same weights).
    """

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = len(nets)
        # the code and hyperparameters of the architecture, without weights: not a submodule
        self._architecture = (copy.deepcopy(nets[0]).to("meta"),)
        persistent = nets[0].state_dict().keys()
        params, buffers = stack_module_state(list(nets))
        holder = copy.deepcopy(nets[0])  # the module tree that will hold the stacked tensors
        for name, value in params.items():
            _assign(holder, name, nn.Parameter(value.detach()))
        for name, value in buffers.items():
            _assign(holder, name, value, persistent=name in persistent)
        for name, child in holder.named_children():
            self.add_module(name, child)
        for name, param in holder.named_parameters(recurse=False):
            self.register_parameter(name, param)
        for name, buffer in holder.named_buffers(recurse=False):
            self.register_buffer(name, buffer, persistent=name in persistent)
        self.train(nets[0].training)

    @property
    def architecture(self) -> nn.Module:
        return self._architecture[0]

    def train(self, mode: bool = True) -> StackedNet:
        super().train(mode)
        self.architecture.train(mode)  # what the forward pass runs: its mode decides BatchNorm and dropout
        return self

    def forward(self, x: Tensor) -> Tensor:
        return vmap(self._member_call, randomness="different")(
            dict(self.named_parameters()), dict(self.named_buffers()), x
        )

    def _member_call(self, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(self.architecture, (params, buffers), (x,))

    def member_state(self, k: int) -> dict[str, Tensor]:
        """Member k's parameters and buffers under the member net's names (views into the stacked tensors)."""
        return {name: value[k] for name, value in self.state_dict(keep_vars=True).items()}

    def member_forward(self, k: int, x: Tensor) -> Tensor:
        """Member k's logits for `x` `(batch, ...)`, computed as its own net computes them."""
        return functional_call(self.architecture, self.member_state(k), (x,))


def _assign(module: nn.Module, name: str, value: Tensor, persistent: bool = True) -> None:
    """Put `value` at the dotted parameter or buffer path `name` of `module`."""
    owner_name, _, leaf = name.rpartition(".")
    owner = module.get_submodule(owner_name)
    if isinstance(value, nn.Parameter):
        owner.register_parameter(leaf, value)
    else:
        owner.register_buffer(leaf, value, persistent=persistent)


def member_losses(logits: Tensor, y: Tensor) -> Tensor:
    """Each member's mean cross-entropy: logits `(members, batch, classes)`, labels `(members, batch)`."""
    members, batch = y.shape
    per_sample = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    return per_sample.view(members, batch).mean(1)


def refusal(net: nn.Module, seq_length: int) -> str | None:
    """Why nets like `net` cannot be stacked (the error of a stacked step of two copies on the CPU, e.g. a
    layer without a batching rule such as `nn.GRU`), or None when they can."""
    try:
        probe = copy.deepcopy(
            net
        ).cpu()  # a net whose weights are computed (torch's pruning) cannot be copied
        stacked = StackedNet([probe, probe]).train()
        logits = stacked(torch.zeros(2, 2, seq_length))
        member_losses(logits, torch.zeros(2, 2, dtype=torch.long)).sum().backward()
    except Exception as error:  # whatever vmap cannot do with this architecture
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


def training_flops_per_sample(net: nn.Module, seq_length: int) -> int:
    """Floating-point operations of one training step (forward and backward) per sample, counted on the
    CPU: what decides whether stacking pays (a compute-bound step gains nothing from fewer kernel calls)."""
    probe = copy.deepcopy(net).cpu().train()
    batch = 2
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(
            probe(torch.zeros(batch, seq_length)), torch.zeros(batch, dtype=torch.long)
        ).backward()
    return counter.get_total_flops() // batch
