"""On-disk cache of generated datasets: compressed `.npz` (never pickle), safe under concurrent sweeps.

File name: `mnist1d-<sha256 of the canonical JSON of all generator arguments>.npz`. The file also holds
those arguments and a SHA-256 of the arrays' contents, both checked on load, so a file that parses but holds
other values (edited, or damaged where no checksum of the format looks) is not used. Writes go to a temp
file in the same directory, are fsynced and then `os.replace`d into place, so parallel jobs generating
the same dataset never expose a partial file. A truncated or otherwise invalid file is reported with a
`CacheWarning` and treated as a miss (the caller regenerates and overwrites it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d.atomic import atomic_open
from mnist1d.dataset_config import DatasetConfig

KEYS = ("x", "y", "x_test", "y_test", "t")
ARGS_KEY = "args_json"  # the canonical arguments, stored in the file too and checked on load
DIGEST_KEY = "sha256"  # the SHA-256 of the arrays (`content_digest`), stored with them and checked on load
_CASTS = {"int": int, "float": float, "bool": bool, "tuple[int, int]": lambda v: [int(p) for p in v]}


class CacheWarning(UserWarning):
    """A cache file existed but could not be used; the dataset is regenerated."""


def canonical_json(config: DatasetConfig) -> str:
    """Generator arguments as canonical JSON: sorted keys, plain types (0 and 0.0 hash alike)."""
    types = {f.name: str(f.type) for f in dataclasses.fields(config)}
    args = {k: _CASTS.get(types[k], lambda v: v)(v) for k, v in config.generator_args().items()}
    return json.dumps(args, sort_keys=True, separators=(",", ":"))


def cache_path(cache_dir: str | Path, config: DatasetConfig) -> Path:
    """Where the dataset for `config` lives inside `cache_dir`."""
    digest = hashlib.sha256(canonical_json(config).encode()).hexdigest()
    return Path(cache_dir) / f"mnist1d-{digest}.npz"


def content_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the KEYS arrays: each one's name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for key in KEYS:
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.data)
    return digest.hexdigest()


def expected_shapes(config: DatasetConfig) -> dict[str, tuple[int, ...]]:
    """Array shapes the generator produces for `config` (10 classes)."""
    length = config.final_seq_length
    n_train, n_test = config.split_sizes()
    return {
        "x": (n_train, length),
        "y": (n_train,),
        "x_test": (n_test, length),
        "y_test": (n_test,),
        "t": (length,),
    }


def _check(arrays: dict[str, np.ndarray], config: DatasetConfig) -> None:
    if set(arrays) != {*KEYS, ARGS_KEY, DIGEST_KEY}:
        raise ValueError(f"keys {sorted(arrays)} differ from {sorted([*KEYS, ARGS_KEY, DIGEST_KEY])}")
    if str(arrays[ARGS_KEY]) != canonical_json(config):
        raise ValueError("stored arguments differ from the requested ones")
    for key, shape in expected_shapes(config).items():
        kind = "i" if key.startswith("y") else "f"
        if arrays[key].shape != shape or arrays[key].dtype.kind != kind:
            raise ValueError(
                f"{key} has shape {arrays[key].shape} / dtype {arrays[key].dtype}, expected {shape}"
            )
    if str(arrays[DIGEST_KEY]) != content_digest(arrays):
        raise ValueError("the arrays differ from the SHA-256 stored with them")


def load(cache_dir: str | Path, config: DatasetConfig) -> dict[str, np.ndarray] | None:
    """The cached arrays for `config`, or None on a miss or an invalid file (which warns)."""
    path = cache_path(cache_dir, config)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        _check(arrays, config)
    except Exception as err:  # any failure to read or validate means: regenerate
        warnings.warn(
            f"MNIST-1D cache file {path} is unusable ({type(err).__name__}: {err}); regenerating it",
            CacheWarning,
            stacklevel=3,
        )
        return None
    return {key: arrays[key] for key in KEYS}


def save(cache_dir: str | Path, config: DatasetConfig, arrays: dict[str, Any]) -> Path:
    """Atomically write `arrays` (the KEYS) for `config`; concurrent writers of equal data are harmless."""
    path = cache_path(cache_dir, config)
    with atomic_open(path) as f:
        stored = {ARGS_KEY: np.str_(canonical_json(config)), DIGEST_KEY: np.str_(content_digest(arrays))}
        np.savez_compressed(f, **{k: arrays[k] for k in KEYS}, **stored)
    return path
