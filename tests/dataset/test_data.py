"""The generator reproduces the reference `mnist1d==0.0.2.post1` (fixtures from scripts/make_fixtures.py)."""

from __future__ import annotations

import inspect
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist1d import (
    DatasetConfig,
    data,
    get_dataset,
    get_dataset_args,
    get_templates,
    load_dataset,
    make_dataset,
    vectorised,
)
from mnist1d.data import ObjectView

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*.npz"))


def load_fixture(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz["args_json"])), {k: npz[k] for k in npz.files if k != "args_json"}


REFERENCE_ARGS, _ = load_fixture(Path(__file__).parent / "fixtures" / "default.npz")  # its get_dataset_args()
SMALL = {**REFERENCE_ARGS, "num_samples": 200}


def assert_matches(ours: dict, ref: dict[str, np.ndarray]) -> None:
    """Labels bit for bit; signals and their time axis to 1e-12: they are numpy float arithmetic (linspace,
    interp), whose last bit differs between numpy releases, for the reference as for us."""
    for key in ("y", "y_test"):
        np.testing.assert_array_equal(ours[key], ref[key], err_msg=key)
    for key in ("t", "x", "x_test"):
        assert ours[key].dtype == np.float64 and ours[key].shape == ref[key].shape, key
        np.testing.assert_allclose(ours[key], ref[key], rtol=0, atol=1e-12, err_msg=key)


def test_fixtures_cover_the_edge_cases() -> None:
    names = {p.stem for p in FIXTURES}
    assert {"default", "seed0", "shuffle_seq", "odd_count_len72", "small_train_split"} <= names
    assert len(names) >= 7


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_matches_reference_fixture(path: Path) -> None:
    args, ref = load_fixture(path)
    assert_matches(make_dataset(ObjectView(args)), ref)


def test_per_chunk_dilation_matches_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The path for huge padding ranges (no precomputed table) gives the same arrays."""
    args, ref = load_fixture(Path(__file__).parent / "fixtures" / "wide_shift_no_iid.npz")
    monkeypatch.setattr(vectorised, "MAX_TABLE", 0)
    assert_matches(make_dataset(args), ref)


@pytest.mark.parametrize("chunk_elements", [1, 1000])
def test_chunking_does_not_change_the_data(monkeypatch: pytest.MonkeyPatch, chunk_elements: int) -> None:
    """Chunks of 1 and of 13 samples (the fixtures fit one chunk) give the same arrays."""
    args, ref = load_fixture(Path(__file__).parent / "fixtures" / "no_pad_len2.npz")
    monkeypatch.setattr(data, "CHUNK_ELEMENTS", chunk_elements)
    assert_matches(make_dataset(args), ref)


@pytest.mark.parametrize("chunks", [[1, 1, 1, 1], [4], [3, 1], [1, 3], [2, 2]])
def test_stream_draws_in_reference_order(chunks: list[int]) -> None:
    rs = np.random.RandomState(5)
    want = [(rs.rand(), rs.rand(), rs.choice(7), rs.randn(9), rs.randn(9), rs.rand()) for _ in range(4)]
    stream = vectorised.Stream(5, 4)
    parts = [stream.draw(n, 9, 7) for n in chunks]
    got = vectorised.Draws(*(np.concatenate(field) for field in zip(*parts, strict=True)))
    for i, (pad, scale, shift, corr, iid, shear) in enumerate(want):
        assert (got.pad_u[i], got.scale_u[i], got.shift[i], got.shear_u[i]) == (pad, scale, shift, shear)
        np.testing.assert_array_equal(got.gauss[i], np.concatenate([corr, iid]))
    assert stream.rs.randint(1 << 30) == rs.randint(1 << 30)  # the stream ends where the reference's does
    with pytest.raises(ValueError):
        stream.draw(1, 9, 7)


def test_dilate_is_np_interp_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    padded = rng.standard_normal((3, 130))
    for length in [1, 2, 3, 7, 12, 13, 48, 72, 97, 130]:
        for n_out in [1, 2, 5, 40, 72, 100, 211]:
            got = vectorised.dilate(padded, np.arange(3), np.full(3, length), n_out)
            want = [
                np.interp(np.linspace(0, 1, n_out), np.linspace(0, 1, length), row[:length]) for row in padded
            ]
            np.testing.assert_array_equal(got, np.stack(want), err_msg=f"{length=} {n_out=}")
            if length > 1:
                np.testing.assert_array_equal(
                    vectorised.interpolate(padded[:, :length], n_out), np.stack(want)
                )


def test_global_random_state_untouched_and_unused() -> None:
    np.random.seed(123)
    random.seed(123)
    before_np, before_py = np.random.get_state(), random.getstate()
    first = make_dataset(SMALL)
    after_np = np.random.get_state()
    assert random.getstate() == before_py
    assert before_np[0] == after_np[0] and np.array_equal(before_np[1], after_np[1])
    assert before_np[2:] == after_np[2:]
    np.random.seed(7)  # a different global state changes nothing
    second = make_dataset(SMALL)
    for key in ("x", "x_test", "y", "y_test", "t"):
        np.testing.assert_array_equal(first[key], second[key])


def test_reference_api() -> None:
    args = get_dataset_args()
    assert vars(args) == REFERENCE_ARGS and get_dataset_args(as_dict=True) == REFERENCE_ARGS
    templates = get_templates()
    assert templates["x"].shape == (10, 12) and templates["t"].shape == (12,)
    np.testing.assert_array_equal(templates["y"], np.arange(10))
    assert list(inspect.signature(make_dataset).parameters) == ["args", "template"]
    params = inspect.signature(get_dataset).parameters
    assert list(params) == ["args", "path", "verbose", "download", "regenerate", "kwargs"]

    view = get_dataset_args()
    view.num_samples = 200
    by_view = make_dataset(view)
    assert set(by_view) == {"x", "y", "t", "x_test", "y_test", "templates"}
    assert by_view["x"].shape == (160, 40) and by_view["x_test"].shape == (40, 40)
    for other in (
        make_dataset(SMALL),
        make_dataset(DatasetConfig(num_samples=200)),
        make_dataset(view, get_templates()),
    ):
        for key in ("x", "x_test", "y", "y_test", "t"):
            np.testing.assert_array_equal(by_view[key], other[key])


def test_get_dataset_generates_without_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    generated = get_dataset(ObjectView(dict(SMALL)), verbose=False)  # no ./mnist1d_data.pkl: generate
    regenerated = get_dataset(
        ObjectView(dict(SMALL)), path=tmp_path / "x.pkl", regenerate=True, verbose=False
    )
    np.testing.assert_array_equal(generated["x"], make_dataset(SMALL)["x"])
    np.testing.assert_array_equal(generated["x"], regenerated["x"])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="exclusive"):
        get_dataset(ObjectView(dict(SMALL)), download=True, regenerate=True)


def test_load_dataset_without_cache() -> None:
    data = load_dataset(DatasetConfig(num_samples=200))
    assert set(data) == {"x", "y", "t", "x_test", "y_test", "templates"} and data["x"].dtype == np.float64


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("train_split", 0.0),
        ("train_split", 1.0),
        ("train_split", 1.5),
        ("num_samples", 9),
        ("padding", [60, 36]),
        ("corr_noise_scale", -0.1),
        ("iid_noise_scale", -1e-3),
        ("final_seq_length", 1),
        ("max_translation", 0),
    ],
)
def test_invalid_args_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        make_dataset({**SMALL, field: value})
    with pytest.raises(ValueError, match=field):
        DatasetConfig.from_args(ObjectView({**SMALL, field: value}))


def test_import_is_light() -> None:
    heavy = "{'torch', 'scipy', 'matplotlib'}"
    code = f"import sys, mnist1d; print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy}))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
