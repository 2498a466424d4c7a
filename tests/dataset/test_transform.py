"""The reference's API (`mnist1d==0.0.2.post1`) is ours: every public name, signature and per-step result.

The fixture comes from the real reference (`scripts/make_fixtures.py api`): its public names and
signatures, and each per-step transform's outputs for a fixed global seed, followed by the global
state's next draws, so a step that consumes the stream differently fails even if its output matches.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mnist1d
from mnist1d.utils import ObjectView

FIXTURE = Path(__file__).parent / "fixtures" / "api" / "reference_api.npz"
with np.load(FIXTURE, allow_pickle=False) as _npz:
    META = json.loads(str(_npz["meta_json"]))
    ARRAYS = {k: _npz[k] for k in _npz.files if k != "meta_json"}
STEPS = importlib.import_module("mnist1d.transform")  # the module (the package attribute is the function)

# Deliberate differences from the reference's signatures: (module, name) -> {parameter: our default}.
# get_dataset never downloads unless asked (the reference's default download=True fetches a pickle).
KNOWN_DIFFERENCES = {
    ("mnist1d", "get_dataset"): {"download": "False"},
    ("mnist1d.data", "get_dataset"): {"download": "False"},
}


def reference_names() -> list[tuple[str, str, dict]]:
    """The reference's own public names: its functions/classes and submodules, not what it imports
    from numpy, scipy, matplotlib, os, requests, ...; (module, name, description)."""
    names = []
    for module, entries in META["api"].items():
        for name, entry in entries.items():
            if entry["kind"] == "module":
                own = entry["origin"] == f"{module}.{name}"
            else:
                own = entry["origin"].split(".")[0] == "mnist1d"
            if own:
                names.append((module, name, entry))
    return names


def next_draws() -> list[float]:
    """As in make_fixtures.py: gaussians first (they expose a cached one), then uniforms."""
    return [*np.random.standard_normal(3).tolist(), *np.random.random_sample(3).tolist()]


def decode(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and "array" in value:
            out[key] = ARRAYS[value["array"]].copy()
        elif key == "args":
            out[key] = ObjectView(dict(value))
        else:
            out[key] = tuple(value) if isinstance(value, list) else value
    return out


def test_fixture_lists_the_reference_api() -> None:
    """Guards the fixture itself, so the parametrised tests below cannot silently run over nothing."""
    names = {(m, n) for m, n, _ in reference_names()}
    steps = {"pad", "shear", "translate", "corr_noise_like", "iid_noise_like", "interpolate", "transform"}
    assert {n for m, n in names if m == "mnist1d.transform"} == steps
    assert {n for m, n in names if m == "mnist1d.utils"} == {
        "set_seed",
        "to_pickle",
        "from_pickle",
        "ObjectView",
        "plot_signals",
        "transform",
    }
    assert {("mnist1d", "data"), ("mnist1d", "utils"), ("mnist1d.data", "make_dataset")} <= names
    assert ("mnist1d.transform", "interp1d") not in names  # scipy's, merely imported there
    assert {case["func"] for case in META["steps"]} == steps  # every per-step function is exercised


@pytest.mark.parametrize(
    ("module", "name", "ref"), reference_names(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_reference_name_is_ours(module: str, name: str, ref: dict) -> None:
    """Importable from the same module path, same kind, same parameters (name, kind, default)."""
    ours = getattr(importlib.import_module(module), name)
    if ref["kind"] == "module":
        assert inspect.ismodule(ours) and ours.__name__ == ref["origin"]
        return
    assert inspect.isclass(ours) == (ref["kind"] == "class") and callable(ours)
    # a re-export is the very object of the module that defines it in the reference
    assert getattr(importlib.import_module(ref["origin"]), name) is ours
    params = [
        [p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
        for p in inspect.signature(ours).parameters.values()
    ]
    differences = KNOWN_DIFFERENCES.get((module, name), {})
    expected = [[p, kind, differences.get(p, default)] for p, kind, default in ref["params"]]
    assert params == expected, f"reference: {ref['signature']}"


def test_package_transform_attribute_is_the_function_as_in_the_reference() -> None:
    assert mnist1d.transform is STEPS.transform
    assert inspect.ismodule(STEPS) and STEPS.__name__ == "mnist1d.transform"


@pytest.mark.parametrize("case", META["steps"], ids=lambda c: c["name"])
def test_step_matches_reference(case: dict) -> None:
    """Same outputs (within 1e-12) for the same global seed, inputs untouched, stream left where the
    reference leaves it."""
    kwargs = decode(case["kwargs"])
    before = {k: v.copy() for k, v in kwargs.items() if isinstance(v, np.ndarray)}
    np.random.seed(case["seed"])
    for i in range(case["repeat"]):
        out = getattr(STEPS, case["func"])(**kwargs)
        parts = out if isinstance(out, tuple) else (out,)
        want = [ARRAYS[f"{case['name']}.out{i}.{j}"] for j in range(len(parts))]
        assert f"{case['name']}.out{i}.{len(parts)}" not in ARRAYS, "fewer outputs than the reference"
        for j, (got, ref) in enumerate(zip(parts, want, strict=True)):
            assert (got.shape, got.dtype) == (ref.shape, ref.dtype), f"call {i} output {j}"
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12, err_msg=f"call {i} output {j}")
    assert next_draws() == case["next"], "the global random state is not where the reference leaves it"
    for key, value in before.items():
        np.testing.assert_array_equal(kwargs[key], value, err_msg=f"{key} was modified")


@pytest.mark.parametrize("shape", [(), (3,), (2, 2)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_interpolate_is_interp1d_bit_for_bit(shape: tuple[int, ...], dtype: type) -> None:
    """The reference's `interp1d(..., axis=0)` on this machine, exactly: both of its routes (np.interp
    for 1-D float64/int, its own slope formula otherwise), on and between grid points."""
    from scipy.interpolate import interp1d

    rng = np.random.default_rng(0)
    for n_in in [2, 3, 5, 12, 40, 72]:
        x = (rng.standard_normal((n_in, *shape)) * 10).astype(dtype)
        for n_out in [1, 2, 9, 40, 72, 100]:
            want = interp1d(np.linspace(0, 1, n_in), x, axis=0, kind="linear")(np.linspace(0, 1, n_out))
            got = STEPS.interpolate(x, n_out)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want, err_msg=f"{n_in=} {n_out=}")


def test_interpolate_refuses_what_the_reference_refuses() -> None:
    with pytest.raises(ValueError):
        STEPS.interpolate(np.ones(1), 5)  # one point cannot span [0, 1]
    with pytest.raises(ValueError):
        STEPS.interpolate(np.float64(1.0), 5)
    np.testing.assert_array_equal(STEPS.interpolate(np.array([2.0]), 1), [2.0])
