"""MNIST-1D generator: the reference package's public API (same arrays for the same arguments), vectorised.

`make_dataset` reproduces `mnist1d==0.0.2.post1` (bit for bit with the same numpy / scipy; the tests
allow 1e-12 on x) using a local `np.random.RandomState(seed)`: global random state is never used.
`load_dataset` is the typed entry point for our own code, with an on-disk `.npz` cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d import cache, vectorised
from mnist1d.dataset_config import DatasetConfig
from mnist1d.transform import transform
from mnist1d.utils import ObjectView, from_pickle, set_seed, to_pickle

# the reference's data.py imports these, so `from mnist1d.data import set_seed` (etc.) works there too
__all__ = [
    "ObjectView",
    "from_pickle",
    "generate",
    "get_dataset",
    "get_dataset_args",
    "get_templates",
    "load_dataset",
    "make_dataset",
    "set_seed",
    "to_pickle",
    "transform",
]

CHUNK_ELEMENTS = 2**19  # values per (chunk, seq_len) array: bounds peak memory, amortises numpy overhead


def get_dataset_args(as_dict: bool = False) -> ObjectView | dict[str, Any]:
    """The reference's default generator arguments, as an ObjectView (or a dict if `as_dict`)."""
    config = DatasetConfig()
    args = {**config.generator_args(), "padding": list(config.padding), "url": config.url}
    return args if as_dict else ObjectView(args)


def get_templates() -> dict[str, np.ndarray]:
    """The 10 hand-made digit templates (x: (10, 12), t: (12,), y: (10,)), as in the reference."""
    d0 = [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5]
    d1 = [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5]
    d2 = [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5]
    d3 = [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5]
    d4 = [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5]
    d5 = [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5]
    d6 = [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5]
    d7 = [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5]
    d8 = [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5]
    d9 = [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5]
    x = np.asarray([d0, d1, d2, d3, d4, d5, d6, d7, d8, d9], dtype=np.float64)
    x -= x.mean(1, keepdims=True)  # whiten
    x /= x.std(1, keepdims=True)
    x -= x[:, :1]  # signal starts and ends at 0
    return {"x": x / 6.0, "t": np.linspace(-5, 5, len(d0)) / 6.0, "y": np.arange(10)}


def _as_config(args: Any) -> DatasetConfig:
    if args is None:
        return DatasetConfig()
    return args if isinstance(args, DatasetConfig) else DatasetConfig.from_args(args)


def generate(config: DatasetConfig, templates: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Generate the dataset for `config` (see module docstring); `templates` defaults to `get_templates()`."""
    templates = get_templates() if templates is None else templates
    seq_len = config.template_len + config.padding[-1]
    dilation = vectorised.Dilation(np.asarray(templates["x"]), config.padding, seq_len)
    n_classes = len(templates["y"])
    per_class = config.num_samples // n_classes
    n = n_classes * per_class
    if n == 0:
        raise ValueError(
            f"num_samples={config.num_samples} gives no sample for each of the {n_classes} templates"
        )
    labels = np.repeat(np.arange(n_classes), per_class)  # reference order: all of class 0, then 1, ...

    stream = vectorised.Stream(config.seed, n)  # local RandomState: global random state is never touched
    xs = np.empty((n, config.final_seq_length))
    chunk = max(1, CHUNK_ELEMENTS // seq_len)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        draws = stream.draw(stop - start, seq_len, config.max_translation)
        xs[start:stop] = vectorised.transform_batch(labels[start:stop], draws, dilation, config)

    rs = stream.rs
    batch_shuffle = rs.permutation(n)
    xs = xs[batch_shuffle]
    ys = np.asarray(templates["y"])[labels[batch_shuffle]]
    if config.shuffle_seq:
        xs = xs[..., rs.permutation(config.final_seq_length)]

    t = np.asarray(templates["t"])
    t_old = np.linspace(0, 1, len(t))
    new_t = np.interp(np.linspace(0, 1, seq_len), t_old, t)
    new_t = np.interp(np.linspace(0, 1, config.final_seq_length), np.linspace(0, 1, seq_len), new_t)
    std = xs.std()
    mean = xs.mean()
    xs -= mean  # in place: same values as the reference's (xs - mean) / std, one array less
    xs /= std

    split, _ = config.split_sizes(n_classes)
    return {
        "x": xs[:split],
        "x_test": xs[split:],
        "y": ys[:split],
        "y_test": ys[split:],
        "t": new_t / std,
        "templates": templates,
    }


def make_dataset(args: Any = None, template: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Reference-compatible: `args` is an ObjectView, dict or DatasetConfig (None: defaults)."""
    return generate(_as_config(args), template)


def load_dataset(config: DatasetConfig, cache_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """The dataset for `config`, read from (or generated into) the `.npz` cache in `cache_dir`.

    `cache_dir=None` generates without touching the disk. Returns x, y, x_test, y_test, t, templates.
    """
    if cache_dir is not None:
        cached = cache.load(cache_dir, config)
        if cached is not None:
            return {**cached, "templates": get_templates()}
    dataset = generate(config)
    if cache_dir is not None:
        cache.save(cache_dir, config, {k: v for k, v in dataset.items() if k != "templates"})
    return dataset


def get_dataset(
    args: Any,
    path: str | os.PathLike[str] | None = None,
    verbose: bool = True,
    download: bool = False,
    regenerate: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """Reference-compatible loader, made safe.

    Loads the published frozen pickle from `path` (default `./mnist1d_data.pkl`, downloaded from
    `args.url` only if `download=True`) through a restricted unpickler that refuses anything but numpy
    arrays and plain containers. `regenerate=True` or a missing file generates the dataset instead
    (`kwargs` go to `make_dataset`); unlike the reference, nothing is ever written as a pickle.
    """
    from mnist1d import frozen  # lazy: urllib / pickle machinery only when needed

    if download and regenerate:
        raise ValueError(
            "download=True and regenerate=True are exclusive: download the frozen data or generate"
        )
    config = _as_config(args)
    path = Path(f"./mnist1d_data{'_shuffle' if config.shuffle_seq else ''}.pkl" if path is None else path)
    if not regenerate:
        if download and not path.exists():
            url = config.url
            if verbose:
                print(f"Downloading MNIST1D dataset from {url} to {path}")
            frozen.download(url, path)
        if path.exists():
            dataset = frozen.load(path)
            if verbose:
                print(f"Successfully loaded data from {path}")
            return dataset
    if verbose:
        print(f"Did not load data from {path}. Generating the dataset...")
    return make_dataset(config, **kwargs)
