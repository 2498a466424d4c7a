"""`python -m mnist1d.apps.lottery_tickets`: masks drop the smallest weights layer by layer, the random ticket
has the same sparsity per layer, every round rewinds to the trial's initial weights, the probes reorder the
inputs, adjacency counts runs of kept weights, a resumed run trains nothing twice; a bad config is refused."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
import torch

from mnist1d.apps import lottery_tickets
from mnist1d.apps.lottery_tickets import adjacency, layer_masks, positions, ticket_scores
from mnist1d.models.sparse_mlp import read_arrays
from tests.helpers import compose_app, read_results

# One trial, three rounds (sparsity 0, 0.45, 0.9), the tickets of round 2 probed with reversed inputs.
SMALL = [
    "wandb=null", "data.num_samples=1000", "model.hidden_size=12", "eval_every=10", "pruning.trials=1",
    "pruning.rounds=3", "pruning.final_sparsity=0.9", "pruning.steps=20", "pruning.prune_step=10",
    "probes.ticket_round=2", "probes.steps=20", "probes.batch_size=100", "probes.conditions=[flipped]",
]  # fmt: skip


def test_masks_drop_the_lowest_scores_of_each_layer_weight_and_bias_together():
    scores = {
        "linear1.weight": torch.tensor([[5.0, 1.0], [3.0, 7.0]]),
        "linear1.bias": torch.tensor([2.0, 6.0]),
        "linear2.weight": torch.tensor([[4.0, 0.5, 9.0]]),
        "linear2.bias": torch.tensor([8.0]),
    }
    masks = layer_masks(scores, 0.5)  # int(0.5 * 6) = 3 of layer 1, int(0.5 * 4) = 2 of layer 2
    assert masks["linear1.weight"].tolist() == [[True, False], [False, True]]
    assert masks["linear1.bias"].tolist() == [False, True]
    assert masks["linear2.weight"].tolist() == [[False, False, True]] and masks["linear2.bias"].tolist() == [
        True
    ]
    assert all(mask.all() for mask in layer_masks(scores, 0.0).values())


def test_random_ticket_has_the_lottery_tickets_sparsity_in_every_layer():
    torch.manual_seed(0)
    weights = {"linear1.weight": torch.randn(50, 40), "linear1.bias": torch.randn(50),
               "linear2.weight": torch.randn(10, 50), "linear2.bias": torch.randn(10)}  # fmt: skip
    lottery = layer_masks(ticket_scores("lottery", weights, torch.Generator().manual_seed(1)), 0.8)
    random = layer_masks(ticket_scores("random", weights, torch.Generator().manual_seed(1)), 0.8)
    for layer in ("linear1", "linear2"):
        kept = [sum(int(m[f"{layer}.{p}"].sum()) for p in ("weight", "bias")) for m in (lottery, random)]
        assert (
            kept[0]
            == kept[1]
            == len(weights[f"{layer}.bias"]) * (weights[f"{layer}.weight"].shape[1] + 1) // 5
        )
    kept_weights = weights["linear1.weight"].abs()[lottery["linear1.weight"]]
    assert kept_weights.min() >= weights["linear1.weight"].abs()[~lottery["linear1.weight"]].max()
    assert not torch.equal(lottery["linear1.weight"], random["linear1.weight"])


def test_probe_orders():
    assert positions("same", 6, 0) is None and positions("reinit", 6, 0) is None
    assert positions("flipped", 6, 0) == [5, 4, 3, 2, 1, 0]
    assert positions("chunks", 6, 0) == [3, 4, 5, 0, 1, 2]  # the halves swapped
    shuffled = positions("shuffled", 40, 0)
    assert sorted(shuffled) == list(range(40)) and shuffled == positions("shuffled", 40, 0) != list(range(40))


def test_adjacency_counts_windows_of_kept_weights():
    mask = torch.tensor([[1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0]], dtype=torch.bool)
    numbers = adjacency(mask)
    assert numbers["kept"] == pytest.approx(4 / 12)
    assert numbers["p2"] == pytest.approx((2 / 6 + 0) / 2)  # unit 0: pairs (0,1), (1,2)
    assert numbers["p3"] == pytest.approx((1 / 6) / 2) and numbers["p4"] == 0
    assert numbers["p2_independent"] == pytest.approx(5 / 6 * (4 / 12) ** 2)


def test_small_run_prunes_rewinds_probes_and_resumes(tmp_path, cache_dir, monkeypatch):
    out = tmp_path / "lt"
    numbers = lottery_tickets.run(compose_app("lottery_tickets", SMALL, out, cache_dir))
    trial = out / "pruning" / "trial0"
    init = read_arrays(trial / "init.npz", "init")
    for ticket in ("lottery", "random"):
        rounds = numbers["pruning"][ticket][0]
        assert [r["sparsity"] for r in rounds] == pytest.approx([0, 0.45, 0.9])
        masks = [
            read_arrays(trial / ticket / f"round{r}" / "mask.npz", "mask") for r in ("000", "001", "002")
        ]
        for r, (mask, record) in enumerate(zip(masks, rounds, strict=True)):
            run = read_results(trial / ticket / f"round{r:03d}")
            assert run["status"] == "ok" and run["steps"] == 20
            model = run["config"]["model"]  # every round rewinds: it trains from the trial's initial values
            assert model["init"] == str(trial / "init.npz") and model["mask"].endswith(
                f"round{r:03d}/mask.npz"
            )
            sizes = {
                layer: (12 * 41, 12 * 13, 10 * 13)[i]
                for i, layer in enumerate(("linear1", "linear2", "linear3"))
            }
            for layer, size in sizes.items():
                kept = int(mask[f"{layer}.weight"].sum() + mask[f"{layer}.bias"].sum())
                assert kept == size - int(record["sparsity"] * size)
        if ticket == "lottery":  # pruned weights stay pruned: the masks are nested
            assert all(
                (later <= earlier).all()
                for earlier, later in zip(masks[1]["linear1.weight"], masks[2]["linear1.weight"], strict=True)
            )
    assert set(init) == {f"linear{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}
    probe_run = read_results(out / "probes" / "trial0" / "flipped" / "lottery")
    assert probe_run["config"]["data"]["positions"] == list(range(39, -1, -1))
    assert probe_run["config"]["data"]["seed"] == 43 and probe_run["config"]["model"]["mask"].endswith(
        "round002/mask.npz"
    )
    assert numbers["adjacency"]["lottery"][0]["kept"] < 0.2
    for stem in ("lottery_tickets", "lottery_asymptotes", "lottery_summary", "lottery_adjacency"):
        assert matplotlib.image.imread(out / f"{stem}.png").std() > 0.01
    assert "| inputs reversed | lottery - dense |" in (out / "lottery_tickets.md").read_text()
    saved = json.loads((out / "lottery_tickets.json").read_text())
    assert (
        saved["probes"][0]["flipped"]["dense"]["final_acc"]
        == numbers["probes"][0]["flipped"]["dense"]["final_acc"]
    )

    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("results.json")}
    monkeypatch.chdir(tmp_path)  # resumed by a relative path: the runs' recorded paths are absolute
    again = lottery_tickets.run(
        compose_app("lottery_tickets", [*SMALL, "resume=lt"], tmp_path / "again", cache_dir)
    )
    assert {
        path: path.stat().st_mtime_ns for path in out.rglob("results.json")
    } == stamps  # nothing retrained
    assert again["pruning"] == numbers["pruning"] and again["probes"] == numbers["probes"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("pruning.prune_step=15", "pruning.prune_step"),
        ("pruning.final_sparsity=1.5", "pruning.final_sparsity"),
        ("probes.ticket_round=3", "probes.ticket_round"),
        ("probes.conditions=[same,mirrored]", "probes.conditions"),
        ("resume=/nonexistent", "resume"),
        ("+prune_stpe=5", "prune_stpe"),  # a key no component reads, refused as for every app
    ],
)
def test_bad_config_is_refused_before_any_work(override, field, tmp_path, cache_dir):
    with pytest.raises(ValueError, match=field):
        lottery_tickets.run(compose_app("lottery_tickets", [*SMALL, override], tmp_path / "bad", cache_dir))
    assert not (tmp_path / "bad").exists()


def test_published_numbers_are_the_notebooks_two_trials():
    from mnist1d.reports.common import published

    reference = published("lottery_tickets")
    for ticket in ("lottery", "random"):
        assert np.array(reference["pruning"][ticket]["final_acc"]).shape == (2, 100)
    assert (
        reference["pruning"]["lottery"]["final_acc"][0][91] == 75.6
    )  # "retrain #92, sparsity 0.92", trial 0
    assert reference["probes"]["same"]["lottery"] == [
        [65.2, 66.0, 65.7, 65.3, 65.0, 64.9],
        [67.4, 67.4, 66.7, 66.9, 66.7, 66.8],
    ]
