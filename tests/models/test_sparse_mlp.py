"""SparseMLP, the lottery tickets' net: it starts from the saved initial values, computes with the masked
weights only, never trains a masked entry, and refuses files that do not fit it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnist1d.models.mlp import MLP
from mnist1d.models.sparse_mlp import SparseMLP, effective_parameters, masks_of, save_arrays


def ticket_files(tmp_path, hidden=6, keep=0.5):
    """An initial state and a random mask of `keep` density for a 40-hidden-10 net, as .npz files."""
    torch.manual_seed(1)
    init = {name: p.detach().clone() for name, p in MLP(hidden_size=hidden).named_parameters()}
    mask = {name: torch.rand(value.shape) < keep for name, value in init.items()}
    save_arrays(tmp_path / "init.npz", init)
    save_arrays(tmp_path / "mask.npz", mask)
    return init, mask


def test_starts_from_the_saved_values_and_computes_with_the_masked_weights(tmp_path):
    init, mask = ticket_files(tmp_path)
    torch.manual_seed(99)  # another seed: the values come from the file (rewinding), not from the RNG
    net = SparseMLP(hidden_size=6, init=str(tmp_path / "init.npz"), mask=str(tmp_path / "mask.npz"))
    for name, value in effective_parameters(net.state_dict()).items():
        torch.testing.assert_close(value, init[name] * mask[name])
    assert all(torch.equal(masks_of(net.state_dict())[name], mask[name]) for name in mask)
    plain = MLP(hidden_size=6)
    plain.load_state_dict({name: init[name] * mask[name] for name in init})
    x = torch.randn(5, 40)
    torch.testing.assert_close(net(x), plain(x))


def test_masked_entries_get_no_gradient_and_stay_zero(tmp_path):
    _, mask = ticket_files(tmp_path)
    net = SparseMLP(hidden_size=6, init=str(tmp_path / "init.npz"), mask=str(tmp_path / "mask.npz"))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(net(torch.randn(8, 40)), torch.randint(0, 10, (8,))).backward()
        for name, param in net.named_parameters():
            assert not param.grad[~mask[name.removesuffix("_orig")]].any(), name
        optimizer.step()
    weights = effective_parameters(net.state_dict())
    assert all(not weights[name][~keep].any() and weights[name][keep].all() for name, keep in mask.items())


def test_without_files_it_is_the_dense_mlp():
    torch.manual_seed(0)
    dense = MLP(hidden_size=6)
    torch.manual_seed(0)
    sparse = SparseMLP(hidden_size=6)
    x = torch.randn(4, 40)
    torch.testing.assert_close(sparse(x), dense(x))
    assert all(mask.all() for mask in masks_of(sparse.state_dict()).values())


def test_files_that_do_not_fit_the_net_are_refused(tmp_path):
    ticket_files(tmp_path, hidden=6)
    with pytest.raises(ValueError, match=r"model\.mask=.*must hold exactly the arrays"):
        SparseMLP(hidden_size=7, mask=str(tmp_path / "mask.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not an npz")
    with pytest.raises(ValueError, match=r"model\.init=.*not a readable \.npz"):
        SparseMLP(hidden_size=6, init=str(tmp_path / "junk.npz"))
    np.savez(tmp_path / "objects.npz", **{"linear1.weight": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match=r"model\.init=.*not a readable"):  # pickles are never loaded
        SparseMLP(hidden_size=6, init=str(tmp_path / "objects.npz"))
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"model\.init=.*one unnamed array"):
        SparseMLP(hidden_size=6, init=str(tmp_path / "plain.npy"))
