"""The frozen-pickle import admits numpy arrays and plain containers only; hostile pickles never run."""

from __future__ import annotations

import builtins
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from mnist1d import get_dataset, get_dataset_args, make_dataset
from mnist1d.frozen import load, loads


def small_dataset() -> dict:
    args = get_dataset_args()
    args.num_samples = 100
    return make_dataset(args)  # includes the templates dict, like the published file


class SystemCall:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class EvalCall:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return builtins.eval, (f"__import__('pathlib').Path({str(self.marker)!r}).touch()",)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_dataset_of_numpy_arrays_loads(tmp_path: Path, protocol: int) -> None:
    dataset = small_dataset()
    dataset["extras"] = [
        np.float64(1.5),
        np.int64(3),
        (1, 2.0, "a", b"b", None, True),
        {1, 2},
        np.dtype("f4"),
    ]
    path = tmp_path / "mnist1d_data.pkl"
    path.write_bytes(pickle.dumps(dataset, protocol=protocol))
    loaded = load(path)
    for key in ("x", "y", "x_test", "y_test", "t"):
        np.testing.assert_array_equal(loaded[key], dataset[key])
        assert loaded[key].dtype == dataset[key].dtype
    np.testing.assert_array_equal(loaded["templates"]["x"], dataset["templates"]["x"])
    assert loaded["extras"] == dataset["extras"]


@pytest.mark.parametrize(("payload", "refused"), [(SystemCall, "system"), (EvalCall, "builtins.eval")])
def test_malicious_pickle_is_refused_without_side_effect(tmp_path: Path, payload, refused: str) -> None:
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"x": np.zeros(3), "y": payload(marker)})
    with pytest.raises(pickle.UnpicklingError, match=refused):
        loads(evil)
    path = tmp_path / "mnist1d_data.pkl"
    path.write_bytes(evil)
    with pytest.raises(pickle.UnpicklingError, match=refused):
        get_dataset(get_dataset_args(), path=path, verbose=False)
    assert not marker.exists()


def test_get_dataset_reads_a_given_frozen_file(tmp_path: Path) -> None:
    dataset = small_dataset()
    path = tmp_path / "frozen.pkl"
    path.write_bytes(pickle.dumps(dataset, protocol=3))  # the published file's protocol
    loaded = get_dataset(get_dataset_args(), path=path, verbose=False)
    np.testing.assert_array_equal(loaded["x"], dataset["x"])


def test_non_dataset_pickle_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([np.zeros(2)]))
    with pytest.raises(ValueError, match="not an MNIST-1D dataset"):
        load(path)


def test_download_offline_is_a_clear_error(tmp_path: Path) -> None:
    args = get_dataset_args()
    args.url = "http://127.0.0.1:9/mnist1d_data.pkl"  # nothing listens on the discard port
    with pytest.raises(ConnectionError, match="could not download"):
        get_dataset(args, path=tmp_path / "mnist1d_data.pkl", download=True, verbose=False)
    assert list(tmp_path.iterdir()) == []
