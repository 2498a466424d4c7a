"""The reference's per-step transforms (`mnist1d==0.0.2.post1`), same names, signatures and numbers.

These exist for reference-compatible user code and notebooks (`set_seed(s)`, then `pad`, `shear`, ...,
or `transform`). Like the reference, they draw from numpy's GLOBAL random state: that is their
contract, so for the same `np.random.seed` they return the reference's arrays and leave the global
state where the reference leaves it. The dataset generator (`make_dataset`) never calls them and never
touches the global state: it uses the vectorised equivalents in `mnist1d.vectorised` with a local
`RandomState`. scipy is imported only inside the functions that need it, so importing this is light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mnist1d import vectorised


def pad(x: np.ndarray, padding: Sequence[int]) -> np.ndarray:
    """Append `p` zeros to the last axis, `p` drawn uniformly from `low..high` (one global `rand()`).

    Every row of a 2-D `x` gets the same `p`, as in the reference.
    """
    low, high = padding
    p = low + int(np.random.rand() * (high - low + 1))
    x = np.asarray(x)
    return np.concatenate([x, np.zeros((*x.shape[:-1], p))], axis=-1)


def shear(x: np.ndarray, scale: float = 10) -> np.ndarray:
    """Subtract a random linear ramp (slope `scale * (rand() - 0.5)`), tilting the signal.

    The ramp has `len(x)` points, as in the reference, so a 2-D `x` must be square (or one column).
    """
    coeff = scale * (np.random.rand() - 0.5)
    return x - coeff * np.linspace(-0.5, 0.5, len(x))


def translate(x: np.ndarray, max_translation: int) -> np.ndarray:
    """Circularly shift along axis 0 by `k = np.random.choice(max_translation)`.

    As in the reference, `k = 0` and `k >= len(x)` leave `x` unshifted (a copy).
    """
    k = np.random.choice(max_translation)
    x = np.asarray(x)
    return np.roll(x, k, axis=0) if 0 < k < len(x) else x.copy()


def corr_noise_like(x: np.ndarray, scale: float) -> np.ndarray:
    """Smooth noise shaped like `x`: `scale * randn`, gaussian-filtered (sigma 2) along every axis.

    A 1-D `x` goes through the generator's own `vectorised.corr_noise` (the identical filter).
    """
    normals = np.random.randn(*np.shape(x))
    if normals.ndim == 1:
        return vectorised.corr_noise(normals, scale)
    from scipy.ndimage import gaussian_filter  # lazy: keeps `import mnist1d` light

    return gaussian_filter(scale * normals, 2)


def iid_noise_like(x: np.ndarray, scale: float) -> np.ndarray:
    """White gaussian noise shaped like `x`, standard deviation `scale`."""
    return scale * np.random.randn(*np.shape(x))


def interpolate(x: np.ndarray, N: int) -> np.ndarray:
    """Linearly resample axis 0 of `x` (an even grid over [0, 1]) onto `N` points (the reference's names).

    Bit for bit like the reference's `scipy.interpolate.interp1d(..., axis=0)`, which itself takes two
    routes: for 1-D float64 (or integer) data it delegates to `np.interp` (here: the generator's
    `vectorised.interpolate`); otherwise it computes `slope * (t - t_lo) + y_lo` from the bracketing
    points `lo = clip(searchsorted(grid, t), 1, len - 1) - 1` and `lo + 1`, reproduced below.
    """
    y = np.asarray(x)
    if y.ndim == 0:
        raise ValueError("interpolate needs an array with at least one dimension")
    if not np.issubdtype(y.dtype, np.inexact):
        y = y.astype(np.float64)
    n_in = len(y)
    if n_in == 1 and N > 1:
        raise ValueError(f"cannot interpolate a single point onto {N} points")
    if y.ndim == 1 and y.dtype == np.float64:
        return vectorised.interpolate(y, N)
    grid = np.linspace(0, 1, n_in)
    t = np.linspace(0, 1, N)
    hi = np.clip(np.searchsorted(grid, t), 1, n_in - 1)
    lo = hi - 1
    column = (N, *(1,) * (y.ndim - 1))  # broadcast the per-point values over the trailing axes
    slope = (y[hi] - y[lo]) / (grid[hi] - grid[lo]).reshape(column)
    return slope * (t - grid[lo]).reshape(column) + y[lo]


def transform(x: np.ndarray, y: np.ndarray, args: Any, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """One reference sample: pad, dilate, scale, translate, noise, shear, downsample; returns (x, y).

    `args` has the generator's attributes (an ObjectView or DatasetConfig). `y` (the templates' `t`) is
    only resampled. Global draws, in order: pad, scale, translation, correlated noise, iid noise, shear.
    """
    seq_len = args.template_len + args.padding[-1]
    new_x = interpolate(pad(x + eps, args.padding), seq_len)  # eps: the signal never equals the padding
    new_y = interpolate(y, seq_len)
    new_x = new_x * (1 + args.scale_coeff * (np.random.rand() - 0.5))
    new_x = translate(new_x, args.max_translation)
    # correlated noise fills only the padding (still exactly 0); iid noise goes everywhere
    new_x = np.where(new_x != 0, new_x, corr_noise_like(new_x, args.corr_noise_scale))
    new_x = new_x + iid_noise_like(new_x, args.iid_noise_scale)
    new_x = shear(new_x, args.shear_scale)
    return interpolate(new_x, args.final_seq_length), interpolate(new_y, args.final_seq_length)
