"""Safe import of the published frozen MNIST-1D file (`mnist1d_data.pkl`).

A pickle can run arbitrary code on load, so it is read through a restricted unpickler that admits only
the globals numpy arrays need plus plain builtin containers and scalars; any other global (`os.system`,
`builtins.eval`, ...) is refused before it can be called. Downloads happen only when explicitly asked.
"""

from __future__ import annotations

import _compat_pickle
import importlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

from mnist1d.atomic import atomic_open

# (module, name) pairs a pickle may reference. numpy >= 2 renamed numpy.core to numpy._core; both
# spellings are admitted and resolved to whichever exists, so old files load without warnings.
_NUMPY_CORE = {
    "multiarray": {"_reconstruct", "scalar"},
    "numeric": {"_frombuffer"},  # protocol 5 pickles of contiguous arrays
}
_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in protocol <= 2 pickles
    *(("builtins", name) for name in ("dict", "list", "tuple", "set", "frozenset", "bytes", "bytearray")),
    *(("builtins", name) for name in ("int", "float", "complex", "bool", "str")),
}
DATASET_KEYS = ("x", "y", "x_test", "y_test", "t")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy-array and plain-container globals; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        # protocol <= 2 pickles name Python 2 modules (__builtin__.set, ...): check the Python 3 names
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        for prefix in ("numpy.core.", "numpy._core."):
            if module.startswith(prefix) and name in _NUMPY_CORE.get(module[len(prefix) :], ()):
                return _numpy_core_attr(module[len(prefix) :], name)
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


def loads(data: bytes) -> Any:
    """Unpickle `data` with the restricted unpickler."""
    return RestrictedUnpickler(io.BytesIO(data)).load()


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a frozen MNIST-1D dataset dict from `path`, refusing any non-numpy global."""
    with open(path, "rb") as f:
        dataset = RestrictedUnpickler(f).load()
    if not isinstance(dataset, dict) or not all(k in dataset for k in DATASET_KEYS):
        raise ValueError(f"{path} is not an MNIST-1D dataset: expected a dict with keys {DATASET_KEYS}")
    return dataset


def download(url: str, path: str | os.PathLike[str], timeout: float = 60.0) -> Path:
    """Fetch `url` to `path` (atomically); raises ConnectionError with advice when offline."""
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
    with atomic_open(path) as f:
        f.write(data)
    return path
