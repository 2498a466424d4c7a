"""Safe import of the published frozen MNIST-1D file (`mnist1d_data.pkl`).

A pickle can run arbitrary code on load, so it is read through a restricted unpickler that admits only
the globals numpy arrays need plus plain builtin containers and scalars; any other global (`os.system`,
`builtins.eval`, ...) is refused before it can be called. Arrays, dtypes and numpy scalars hold numbers,
booleans or text only (`PLAIN_KINDS`), each dtype laid out as numpy itself lays it out: an object dtype
(whose bytes would be pointers chosen by the file) or a structured one whose flags hide an object field is
refused before numpy reads data for it, and everything loaded is checked again. A dataset is checked
against what the reference writes (`check_dataset`); a download against the reference file's SHA-256.
Downloads happen only when explicitly asked.
"""

from __future__ import annotations

import _compat_pickle
import hashlib
import importlib
import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from mnist1d.atomic import atomic_open

# (module, name) pairs a pickle may reference. numpy >= 2 renamed numpy.core to numpy._core; both
# spellings are admitted and resolved to whichever exists, so old files load without warnings.
_NUMPY_CORE = {
    "multiarray": {"_reconstruct", "scalar"},
    "numeric": {"_frombuffer"},  # protocol 5 pickles of contiguous arrays
}
_ALLOWED = {
    ("_codecs", "encode"),  # bytes in protocol <= 2 pickles
    *(("builtins", name) for name in ("dict", "list", "tuple", "set", "frozenset", "bytes", "bytearray")),
    *(("builtins", name) for name in ("int", "float", "complex", "bool", "str")),
}
DATASET_KEYS = ("x", "y", "x_test", "y_test", "t")
PLAIN_KINDS = "biufcSU"  # booleans, integers, floats, complex numbers, bytes, str
# SHA-256 of the reference's published frozen file (greydanus/mnist1d, mnist1d_data.pkl, February 2021).
REFERENCE_SHA256 = frozenset({"e95257676e9fb04568e46dda007da22cc8664ccba1451456afde55d7f6dd6aa5"})


def require_plain(dtype: Any) -> np.dtype:
    """`dtype` when it is one a file may build: a `PLAIN_KINDS` dtype with no fields, and with the size,
    alignment and flags numpy gives that type itself (a pickled dtype sets its own flags, and flags that
    deny an object field make numpy read pointers from the file's bytes)."""
    if isinstance(dtype, np.dtype) and dtype.kind in PLAIN_KINDS:
        canonical = np.dtype(dtype.str)
        layout = (dtype.flags, dtype.itemsize, dtype.alignment, dtype.fields, dtype.subdtype)
        if layout == (canonical.flags, canonical.itemsize, canonical.alignment, None, None):
            return dtype
    raise pickle.UnpicklingError(
        f"refusing dtype {dtype!r}: only numbers, booleans and text ({PLAIN_KINDS!r} kinds) are allowed"
    )


class _CheckedArray(np.ndarray):
    """What a pickled array is built as: its dtype is checked before numpy reads the file's data into it."""

    def __setstate__(self, state: Any) -> None:
        dtypes = [item for item in state if isinstance(item, np.dtype)] if isinstance(state, tuple) else []
        if not dtypes:
            raise pickle.UnpicklingError("refusing an array without a dtype in its state")
        for dtype in dtypes:
            require_plain(dtype)
        super().__setstate__(state)


def _new_dtype(*args: Any) -> np.dtype:
    """`numpy.dtype(...)` as a pickle calls it, refusing kinds other than `PLAIN_KINDS` at once (its fields
    and flags come later, from its state: `require_plain` checks them where the dtype is used)."""
    dtype = np.dtype(*args)
    if dtype.kind not in PLAIN_KINDS:
        raise pickle.UnpicklingError(f"refusing dtype {dtype!r}: only numbers, booleans and text are allowed")
    return dtype


def _checked_first(build: Callable[..., Any]) -> Callable[..., Any]:
    """numpy's `scalar(dtype, data)` and `_frombuffer(data, dtype, ...)`, checking the dtype first."""

    def checked(*args: Any) -> Any:
        for arg in args:
            if isinstance(arg, np.dtype):
                require_plain(arg)
        return build(*args)

    return checked


_NUMPY_GLOBALS = {("numpy", "ndarray"): _CheckedArray, ("numpy", "dtype"): _new_dtype}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy-array and plain-container globals; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        # protocol <= 2 pickles name Python 2 modules (__builtin__.set, ...): check the Python 3 names
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        for prefix in ("numpy.core.", "numpy._core."):
            if module.startswith(prefix) and name in _NUMPY_CORE.get(module[len(prefix) :], ()):
                found = _numpy_core_attr(module[len(prefix) :], name)
                return found if name == "_reconstruct" else _checked_first(found)
        if (module, name) in _NUMPY_GLOBALS:
            return _NUMPY_GLOBALS[module, name]
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: only numpy arrays and builtin containers are allowed"
        )


def _numpy_core_attr(submodule: str, name: str) -> Any:
    try:
        mod = importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:  # numpy < 2
        mod = importlib.import_module(f"numpy.core.{submodule}")
    return getattr(mod, name)


def unpickle(file: IO[bytes]) -> Any:
    """Unpickle `file` with the restricted unpickler; whatever it built is checked again, as plain data."""
    return _plain(RestrictedUnpickler(file).load(), set())


def _plain(value: Any, seen: set[int]) -> Any:
    """`value` with every array a plain `numpy.ndarray` and every dtype checked (containers in place; a
    container met again, as pickles may share or nest them, is not walked twice)."""
    if isinstance(value, np.ndarray):
        require_plain(value.dtype)
        return value.view(np.ndarray)
    if isinstance(value, np.dtype | np.generic):
        require_plain(value if isinstance(value, np.dtype) else value.dtype)
        return value
    if id(value) in seen or not isinstance(value, dict | list | tuple | set | frozenset):
        return value
    seen.add(id(value))
    if isinstance(value, dict):
        for key in value:
            value[key] = _plain(value[key], seen)
    elif isinstance(value, list):
        value[:] = [_plain(item, seen) for item in value]
    elif isinstance(value, tuple):
        return tuple(_plain(item, seen) for item in value)
    else:  # sets hold hashable items only: no arrays, only scalars to check
        for item in value:
            _plain(item, seen)
    return value


def loads(data: bytes) -> Any:
    """Unpickle `data` with the restricted unpickler."""
    return unpickle(io.BytesIO(data))


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a frozen MNIST-1D dataset dict from `path`, refusing any non-numpy global and anything the
    reference would not have written (`check_dataset`)."""
    with open(path, "rb") as f:
        dataset = unpickle(f)
    check_dataset(dataset, path)
    return dataset


def check_dataset(dataset: Any, path: str | os.PathLike[str]) -> None:
    """What the reference writes: float signals `x` (n, length) and `x_test` (m, length), integer labels
    `y` (n,) and `y_test` (m,) in [0, 10), float positions `t` (length,); optional `templates` likewise."""
    if not isinstance(dataset, dict) or not all(key in dataset for key in DATASET_KEYS):
        raise ValueError(f"{path} is not an MNIST-1D dataset: expected a dict with keys {DATASET_KEYS}")
    arrays = {key: dataset[key] for key in DATASET_KEYS}
    templates = dataset.get("templates")
    if isinstance(templates, dict):
        arrays |= {f"templates.{key}": templates.get(key) for key in ("x", "y", "t")}
    length = np.shape(arrays["t"])[0] if np.ndim(arrays["t"]) == 1 else None
    n, m = len(np.atleast_1d(arrays["y"])), len(np.atleast_1d(arrays["y_test"]))
    expected = {"x": ("f", (n, length)), "x_test": ("f", (m, length)), "t": ("f", (length,))}
    expected |= {"y": ("i", (n,)), "y_test": ("i", (m,))}
    if "templates.t" in arrays:
        k = np.shape(arrays["templates.t"])[0] if np.ndim(arrays["templates.t"]) == 1 else None
        expected |= {"templates.x": ("f", (10, k)), "templates.y": ("i", (10,)), "templates.t": ("f", (k,))}
    for key, (kind, shape) in expected.items():
        array = arrays[key]
        ok = isinstance(array, np.ndarray) and array.dtype.kind == kind and array.shape == shape
        if ok and kind == "i" and array.size and not (array.min() >= 0 and array.max() < 10):
            ok = False
        if not ok:
            found = f"{array.dtype} {array.shape}" if isinstance(array, np.ndarray) else type(array).__name__
            what = "labels in [0, 10)" if kind == "i" else "floats"
            raise ValueError(f"{path} is not an MNIST-1D dataset: {key} is {found}, expected {what} {shape}")


def download(url: str, path: str | os.PathLike[str], timeout: float = 60.0) -> Path:
    """Fetch `url` to `path` (atomically) when it sends the reference's file (`REFERENCE_SHA256`; any
    mirror of it will do); raises ConnectionError with advice when offline, ValueError for another file."""
    import urllib.error
    import urllib.request

    path = Path(path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise ConnectionError(
            f"could not download the frozen MNIST-1D data from {url} ({err}); if offline, copy "
            f"mnist1d_data.pkl to {path} yourself or generate the dataset with regenerate=True"
        ) from err
    digest = hashlib.sha256(data).hexdigest()
    if digest not in REFERENCE_SHA256:
        raise ValueError(
            f"{url} sent a file with SHA-256 {digest}, not the reference's mnist1d_data.pkl "
            f"({', '.join(sorted(REFERENCE_SHA256))}); nothing was written to {path}"
        )
    with atomic_open(path) as f:
        f.write(data)
    return path
