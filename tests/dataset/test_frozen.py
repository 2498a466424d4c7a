"""The frozen-pickle import admits numpy arrays and plain containers only; hostile pickles never run."""

from __future__ import annotations

import builtins
import hashlib
import http.server
import os
import pickle
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from numpy._core.multiarray import _reconstruct, scalar
from numpy._core.numeric import _frombuffer

from mnist1d import from_pickle, frozen, get_dataset, get_dataset_args, make_dataset
from mnist1d.frozen import load, loads, require_plain


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


def dtype_with_state(base: str, state: tuple) -> object:
    """A pickled dtype built from `base` with the state a file chooses (fields, size, flags)."""

    class Crafted:
        def __reduce__(self):
            return np.dtype, (base, False, True), state

    return Crafted()


def array_of(dtype: object, raw: bytes, shape: tuple) -> object:
    """A pickled array whose data are the file's raw bytes, as numpy's own pickles are built."""

    class Crafted:
        def __reduce__(self):
            return _reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype, False, raw)

    return Crafted()


class Built:
    """A pickle of `call(*args)`: numpy's scalar and _frombuffer as the file calls them."""

    def __init__(self, call, *args) -> None:
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


# A structured dtype with an object field whose flags deny it (27 would admit it): numpy then reads the
# pointers from the file's bytes, and the first use of the array crashes the process.
HIDDEN_OBJECT = dtype_with_state("V8", (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0))
FLOAT_CLAIMING_OBJECTS = dtype_with_state("f8", (3, "<", None, None, None, -1, -1, 63))


@pytest.mark.parametrize(
    "crafted",
    [
        array_of(HIDDEN_OBJECT, b"\x41" * 16, (2,)),
        array_of(np.dtype("O"), b"\x41" * 16, (2,)),
        array_of(FLOAT_CLAIMING_OBJECTS, b"\x41" * 16, (2,)),
        Built(_frombuffer, b"\x41" * 16, np.dtype("O"), (2,), "C"),
        Built(scalar, np.dtype("O"), b"\x41" * 8),
        Built(scalar, FLOAT_CLAIMING_OBJECTS, b"\x41" * 8),
        FLOAT_CLAIMING_OBJECTS,
    ],
)
@pytest.mark.parametrize("protocol", [2, 5])
def test_object_dtypes_are_refused_before_numpy_reads_the_file_s_bytes(tmp_path, crafted, protocol):
    data = pickle.dumps({"x": np.zeros(3), "y": crafted}, protocol=protocol)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        loads(data)
    (tmp_path / "crafted.pkl").write_bytes(data)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        from_pickle(tmp_path / "crafted.pkl")


def test_only_plain_dtypes_pass_and_arrays_come_back_plain():
    for dtype in ("f8", "<i4", "?", "c16", "S5", "U3", "u1"):
        assert require_plain(np.dtype(dtype)) == np.dtype(dtype)
    for dtype in ("O", [("a", "f8")], "M8[s]", ("f8", (2,))):
        with pytest.raises(pickle.UnpicklingError, match="refusing dtype"):
            require_plain(np.dtype(dtype))
    loaded = loads(pickle.dumps({"x": np.arange(3.0), "nested": [(np.arange(2),)]}))
    assert type(loaded["x"]) is np.ndarray and type(loaded["nested"][0][0]) is np.ndarray


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x": np.zeros((100, 40), dtype=np.int64)}, "x is int64 (100, 40), expected floats (80, 40)"),
        ({"y": np.zeros(80)}, "y is float64 (80,), expected labels in [0, 10) (80,)"),
        ({"y": np.full(80, 10)}, "y is int64 (80,), expected labels in [0, 10) (80,)"),
        ({"x_test": np.zeros((20, 41))}, "x_test is float64 (20, 41), expected floats (20, 40)"),
        ({"t": np.zeros((40, 1))}, "x is float64 (80, 40), expected floats (80, None)"),
        ({"y_test": [1, 2]}, "x_test is float64 (20, 40), expected floats (2, 40)"),
        ({"templates": {"x": np.zeros((10, 12)), "y": np.arange(10), "t": np.zeros(11)}}, "templates.x is"),
    ],
)
def test_a_dataset_must_be_what_the_reference_writes(tmp_path, change, message):
    path = tmp_path / "mnist1d_data.pkl"
    path.write_bytes(pickle.dumps(small_dataset() | change, protocol=3))
    with pytest.raises(ValueError, match=re.escape(f"{path} is not an MNIST-1D dataset: {message}")):
        load(path)


@pytest.fixture
def served(tmp_path):
    """A local web server that sends one file: (its URL, the bytes it sends)."""
    body = pickle.dumps(small_dataset(), protocol=3)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/mnist1d_data.pkl", body
    server.shutdown()
    thread.join()


def test_a_download_is_kept_only_when_it_is_the_reference_file(tmp_path, served, monkeypatch):
    url, body = served
    args = get_dataset_args()
    args.url = url
    with pytest.raises(
        ValueError, match=f"{re.escape(url)} sent a file with SHA-256 [0-9a-f]{{64}}, not the"
    ):
        get_dataset(args, path=tmp_path / "mnist1d_data.pkl", download=True, verbose=False)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(frozen, "REFERENCE_SHA256", frozenset({hashlib.sha256(body).hexdigest()}))
    loaded = get_dataset(args, path=tmp_path / "mnist1d_data.pkl", download=True, verbose=False)
    assert (tmp_path / "mnist1d_data.pkl").read_bytes() == body and loaded["x"].shape == (80, 40)
