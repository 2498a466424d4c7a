"""`mnist1d.utils`, the reference's helpers: seeding, safe pickles, ObjectView, plot_signals's layout."""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import mnist1d
from mnist1d import data, utils
from mnist1d.utils import ObjectView, from_pickle, plot_signals, set_seed, to_pickle

matplotlib.use("Agg")  # non-interactive: plot_signals's plt.show() returns at once

FIXTURE = Path(__file__).parent / "fixtures" / "api" / "reference_api.npz"


def reference() -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(FIXTURE, allow_pickle=False) as npz:
        return json.loads(str(npz["meta_json"])), {k: npz[k] for k in npz.files if k != "meta_json"}


class SystemCall:
    """Unpickling this would run `touch marker` through os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def draws() -> tuple[float, list[float]]:
    return random.random(), np.random.rand(3).tolist()


def test_set_seed_repeats_python_and_numpy_draws() -> None:
    set_seed(5)
    first = draws()
    set_seed(5)
    assert draws() == first
    assert first[1] == np.random.RandomState(5).rand(3).tolist()  # it seeds numpy's global state
    set_seed(6)
    assert draws() != first


def test_pickle_round_trip(tmp_path: Path) -> None:
    thing = {
        "x": np.random.RandomState(0).standard_normal((5, 40)),
        "y": np.arange(5),
        "templates": {"x": np.ones((10, 12)), "t": np.linspace(0, 1, 12)},
        "meta": ["a", 1, 2.5, (True, None), {3, 4}],
    }
    path = tmp_path / "thing.pkl"
    assert to_pickle(thing, str(path)) is None
    assert path.read_bytes()[:2] == b"\x80\x03"  # protocol 3, as the reference writes
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary file left behind
    back = from_pickle(path)
    assert back.keys() == thing.keys() and back["meta"] == thing["meta"]
    for key in ("x", "y"):
        np.testing.assert_array_equal(back[key], thing[key])
        assert back[key].dtype == thing[key].dtype
    for key in ("x", "t"):
        np.testing.assert_array_equal(back["templates"][key], thing["templates"][key])


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_from_pickle_reads_other_protocols(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "d.pkl"
    path.write_bytes(pickle.dumps({"x": np.eye(3), "n": 3}, protocol=protocol))
    back = from_pickle(str(path))
    np.testing.assert_array_equal(back["x"], np.eye(3))
    assert back["n"] == 3


def test_from_pickle_refuses_code_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": np.zeros(3), "payload": SystemCall(marker)}, protocol=3))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        from_pickle(path)
    assert not marker.exists()


def test_from_pickle_refuses_objects_beyond_plain_containers(tmp_path: Path) -> None:
    """The documented price of safety: an ObjectView (any class) does not round-trip."""
    path = tmp_path / "view.pkl"
    to_pickle(ObjectView({"a": 1}), path)
    with pytest.raises(pickle.UnpicklingError, match="ObjectView"):
        from_pickle(path)


def test_object_view() -> None:
    d = {"num_samples": 100, "padding": [36, 60]}
    view = ObjectView(d)
    assert view.num_samples == 100 and view.padding == [36, 60]
    view.seed = 3  # the view shares the dict, both ways
    d["num_samples"] = 7
    assert d["seed"] == 3 and view.num_samples == 7
    assert repr(view) == "ObjectView({'num_samples': 7, 'padding': [36, 60], 'seed': 3})"
    assert data.ObjectView is utils.ObjectView is mnist1d.ObjectView


def test_plot_signals_needs_args_to_transform() -> None:
    x = np.zeros((10, 12))
    with pytest.raises(ValueError, match="args"):
        plot_signals(x, np.linspace(0, 1, 12), do_transform=True)
    plt.close("all")


META, ARRAYS = reference()


@pytest.mark.filterwarnings("ignore:.*non-interactive:UserWarning")  # plt.show() on Agg with a DISPLAY
@pytest.mark.parametrize("name", sorted(META["plots"]))
def test_plot_signals_matches_reference_layout(name: str) -> None:
    """A Figure of 10 axes laid out and drawn as the reference's (transformed signals included)."""
    ref = META["plots"][name]
    kwargs = {}
    for key, value in ref["inputs"].items():
        if isinstance(value, dict):
            kwargs[key] = ARRAYS[value["array"]] if "array" in value else mnist1d.get_dataset_args()
        else:
            kwargs[key] = value
    np.random.seed(ref["seed"])
    fig = plot_signals(**kwargs)
    try:
        assert isinstance(fig, Figure) and plt.fignum_exists(fig.number)
        assert len(fig.axes) == 10
        assert list(fig.get_size_inches()) == ref["figsize"] and fig.dpi == ref["dpi"]
        lines = ARRAYS[f"{name}.lines"]
        for ax, want, line in zip(fig.axes, ref["axes"], lines, strict=True):
            got_line = ax.lines[0]
            assert list(ax.get_xlim()) == want["xlim"] and list(ax.get_ylim()) == want["ylim"]
            assert (ax.get_title(), ax.title.get_fontsize()) == (want["title"], want["title_size"])
            assert list(ax.get_facecolor()) == want["facecolor"]
            assert [len(ax.get_xticks()), len(ax.get_yticks())] == want["ticks"]
            assert len(ax.lines) == want["n_lines"]
            assert {
                "color": matplotlib.colors.to_hex(got_line.get_color()),
                "linestyle": got_line.get_linestyle(),
                "marker": got_line.get_marker(),
                "linewidth": got_line.get_linewidth(),
            } == want["line"]
            # tight_layout depends on font metrics: the same grid, within 1% of the figure
            np.testing.assert_allclose(ax.get_position().bounds, want["position"], rtol=0, atol=0.01)
            np.testing.assert_allclose(got_line.get_xydata(), line, rtol=0, atol=1e-12)
        # with do_transform, the global stream advances exactly as the reference's
        assert [*np.random.standard_normal(3), *np.random.random_sample(3)] == ref["next"]
    finally:
        plt.close(fig)
