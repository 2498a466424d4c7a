"""StackedNet: members keep their own weights, compute what their own nets compute, and stay independent."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from mnist1d.config.compose import compose_train, config_options
from mnist1d.training.eval_norm import net_config
from mnist1d.training.stacked.net import StackedNet, member_losses, refusal, training_flops_per_sample

SEQ_LENGTH = 40


@functools.cache
def model_config(model: str) -> dict:
    return net_config(compose_train([f"model={model}"]).model)


def member_nets(model: str, seeds: list[int]) -> list[torch.nn.Module]:
    nets = []
    for seed in seeds:
        torch.manual_seed(seed)
        nets.append(instantiate(model_config(model), seq_length=SEQ_LENGTH, num_classes=10))
    return nets


# nn.GRU has no batching rule; Beebe et al.'s TCN draws its projections on every call (test_launcher.py);
# the lottery tickets' SparseMLP computes its weights from masks (torch's pruning), so it cannot be copied
NOT_STACKABLE = ("gru", "tcn", "sparse_mlp")
STACKABLE = [model for model in config_options("model") if model not in NOT_STACKABLE]


@pytest.mark.parametrize("model", STACKABLE)
def test_members_hold_their_own_weights_and_compute_their_own_logits(model: str) -> None:
    torch.manual_seed(0)
    nets = member_nets(model, [0, 1, 2])
    stacked = StackedNet(copy.deepcopy(nets)).eval()
    for k, net in enumerate(nets):
        own = net.state_dict()
        assert stacked.member_state(k).keys() == own.keys()
        assert all(torch.equal(stacked.member_state(k)[name], own[name]) for name in own)
    x = torch.randn(3, 8, SEQ_LENGTH)
    with torch.no_grad():
        logits = stacked(x)
        for k, net in enumerate(nets):
            own = net.eval()(x[k])
            assert torch.equal(stacked.member_forward(k, x[k]), own)  # exactly its own net's computation
            torch.testing.assert_close(logits[k], own, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["logistic", "mlp", "cnn", "resnet"])
def test_first_step_losses_and_gradients_equal_the_separate_nets(model: str) -> None:
    nets = member_nets(model, [3, 4])
    stacked = StackedNet(copy.deepcopy(nets)).train()
    x, y = torch.randn(2, 16, SEQ_LENGTH), torch.randint(0, 10, (2, 16))
    losses = member_losses(stacked(x), y)
    losses.sum().backward()
    for k, net in enumerate(nets):
        loss = F.cross_entropy(net.train()(x[k]), y[k])
        loss.backward()
        assert abs(losses[k].item() - loss.item()) < 1e-6
        for name, param in net.named_parameters():
            torch.testing.assert_close(dict(stacked.named_parameters())[name].grad[k], param.grad)
        for name, buffer in net.named_buffers():  # BatchNorm's running statistics, per member
            torch.testing.assert_close(dict(stacked.named_buffers())[name][k], buffer)


def test_a_member_with_non_finite_weights_leaves_the_others_untouched() -> None:
    nets = member_nets("cnn", [0, 1, 2])
    clean, broken = StackedNet(copy.deepcopy(nets)), StackedNet(copy.deepcopy(nets))
    with torch.no_grad():
        broken.linear.weight[1] = float("nan")
    x, y = torch.randn(3, 16, SEQ_LENGTH), torch.randint(0, 10, (3, 16))
    for net in (clean, broken):
        member_losses(net(x), y).sum().backward()
    assert broken.linear.weight.grad[1].isnan().all()
    for name, param in clean.named_parameters():
        other = dict(broken.named_parameters())[name]
        assert torch.equal(param.grad[[0, 2]], other.grad[[0, 2]])


def test_refusal_names_an_architecture_that_cannot_be_stacked() -> None:
    assert "gru" in refusal(member_nets("gru", [0])[0], SEQ_LENGTH).lower()
    assert refusal(member_nets("cnn", [0])[0], SEQ_LENGTH) is None


@pytest.mark.parametrize("model", NOT_STACKABLE)
def test_what_cannot_be_stacked_is_refused_with_its_reason(model: str) -> None:
    assert refusal(member_nets(model, [0])[0], SEQ_LENGTH) is not None


def test_training_flops_grow_with_the_net() -> None:
    models = [*STACKABLE, "tcn"]
    flops = {model: training_flops_per_sample(member_nets(model, [0])[0], SEQ_LENGTH) for model in models}
    assert flops["logistic"] < flops["mlp"] < flops["cnn"] < flops["resnet"] < flops["tcn"]
    assert flops["logistic"] >= 2 * 40 * 10  # a forward matrix product alone
