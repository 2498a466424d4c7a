"""The `.npz` dataset cache: hits skip generation, bad files are detected and replaced, writers may race."""

from __future__ import annotations

import hashlib
import multiprocessing
import warnings
from pathlib import Path

import numpy as np
import pytest

from mnist1d import DatasetConfig, data, load_dataset
from mnist1d.cache import CacheWarning, cache_path

CONFIG = DatasetConfig(num_samples=300, seed=3)
KEYS = ("x", "y", "x_test", "y_test", "t")


def assert_same(a: dict, b: dict) -> None:
    for key in KEYS:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        assert a[key].dtype == b[key].dtype


def no_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("regenerated although the cache should have been used")

    monkeypatch.setattr(data, "generate", fail)


def test_hit_returns_identical_arrays_without_regenerating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = load_dataset(CONFIG, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [cache_path(tmp_path, CONFIG).name]
    no_generation(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached = load_dataset(CONFIG, tmp_path)
    assert_same(fresh, cached)
    assert cached["templates"]["x"].shape == (10, 12)
    assert cached["x"].dtype == np.float64


def test_key_depends_on_every_generator_argument_only(tmp_path: Path) -> None:
    assert cache_path(tmp_path, DatasetConfig(scale_coeff=0)) == cache_path(
        tmp_path, DatasetConfig(scale_coeff=0.0)
    )
    assert cache_path(tmp_path, DatasetConfig(url="elsewhere")) == cache_path(tmp_path, DatasetConfig())
    others = [DatasetConfig(seed=1), DatasetConfig(padding=(36, 61)), DatasetConfig(shuffle_seq=True)]
    assert len({cache_path(tmp_path, c) for c in [DatasetConfig(), *others]}) == 4


def corrupt_truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def corrupt_garbage(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(5000))


def corrupt_wrong_shapes(path: Path) -> None:
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["x"] = arrays["x"][:-1]
    np.savez_compressed(path, **arrays)


def corrupt_bitflip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0xFF  # inside compressed array data: zip CRC or zlib fails
    path.write_bytes(bytes(raw))


def corrupt_content(path: Path) -> None:
    """The right keys, shapes and dtypes, other values: the file parses, but is not this dataset."""
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["y"] = (arrays["y"] + 1) % 10
    np.savez_compressed(path, **arrays)


def corrupt_pickled(path: Path) -> None:
    np.savez(path, x=np.array([{"evil": 1}], dtype=object))  # needs allow_pickle: refused


@pytest.mark.parametrize(
    "corrupt",
    [
        corrupt_truncated,
        corrupt_garbage,
        corrupt_wrong_shapes,
        corrupt_bitflip,
        corrupt_content,
        corrupt_pickled,
    ],
)
def test_bad_file_is_warned_about_and_regenerated(tmp_path: Path, corrupt) -> None:
    fresh = load_dataset(CONFIG, tmp_path)
    path = cache_path(tmp_path, CONFIG)
    corrupt(path)
    with pytest.warns(CacheWarning, match="regenerating"):
        again = load_dataset(CONFIG, tmp_path)
    assert_same(fresh, again)
    with warnings.catch_warnings():  # the file was replaced by a valid one
        warnings.simplefilter("error")
        assert_same(fresh, load_dataset(CONFIG, tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def _race(cache_dir: str, barrier, results) -> None:
    barrier.wait()  # start generating together: all miss, all write
    dataset = load_dataset(CONFIG, cache_dir)
    results.put(hashlib.sha256(b"".join(dataset[k].tobytes() for k in KEYS)).hexdigest())


def test_concurrent_writers_leave_one_valid_file(tmp_path: Path) -> None:
    # fork: children start instantly (and inherit this module); spawn where fork is unavailable
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    n = 4
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path), barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    digests = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    expected = load_dataset(CONFIG)  # generated in memory, no cache
    assert set(digests) == {hashlib.sha256(b"".join(expected[k].tobytes() for k in KEYS)).hexdigest()}
    assert [p.name for p in tmp_path.iterdir()] == [cache_path(tmp_path, CONFIG).name]  # no temp files left
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(expected, load_dataset(CONFIG, tmp_path))
