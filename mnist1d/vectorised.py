"""Vectorised MNIST-1D transforms, numerically identical to the reference's per-sample `transform`.

The reference transforms one sample at a time (pad, dilate, scale, translate, noise, shear, downsample),
drawing from the legacy global RandomState. Here the random draws stay a cheap per-sample loop over a
*local* `np.random.RandomState` (legacy `randn` uses rejection sampling, so the stream order must be kept
call by call), while all array math runs over a whole chunk of samples at once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

EPS = 1e-8  # the reference adds this before padding, so the signal (unlike the padding) is never 0
MAX_TABLE = 2**22  # most values Dilation tabulates (32 MB); beyond, rows are computed per chunk


class Draws(NamedTuple):
    """The random numbers one chunk of samples consumes, in the reference's order per sample."""

    pad_u: np.ndarray  # (n,) uniform for the pad length
    scale_u: np.ndarray  # (n,) uniform for the amplitude scale
    shift: np.ndarray  # (n,) int, `np.random.choice(max_translation)`
    gauss: np.ndarray  # (n, 2 * seq_len): correlated-noise normals, then iid-noise normals
    shear_u: np.ndarray  # (n,) uniform for the shear coefficient


class Stream:
    """A local `RandomState(seed)` consumed exactly like the reference's per-sample `transform` calls.

    Per sample the reference calls rand, rand, choice(max_translation), randn(L), randn(L), rand. Here
    `randint(0, m, dtype=int64)` equals `choice(m)`, one `standard_normal(2 L)` equals two `randn(L)`
    (the polar method's cached value is used up after an even count), and one `random_sample(3)` gives
    this sample's shear and the next sample's pad and scale: three calls per sample instead of six.
    """

    def __init__(self, seed: int, n_samples: int) -> None:
        self.rs = np.random.RandomState(seed)
        self.left = n_samples  # samples still to draw; the very last one must not draw ahead
        self.head: np.ndarray | None = None  # the next sample's (pad, scale) uniforms, drawn early

    def draw(self, n: int, seq_len: int, max_translation: int) -> Draws:
        """The draws of the next `n` samples."""
        if not 0 < n <= self.left:
            raise ValueError(f"cannot draw {n} samples, {self.left} left")
        self.left -= n
        uniform, randint, normal = self.rs.random_sample, self.rs.randint, self.rs.standard_normal
        u = np.empty(3 * n + 2)  # per sample: pad, scale, shear; then the next chunk's pad, scale
        u[:2] = uniform(2) if self.head is None else self.head
        shift = np.empty(n, dtype=np.int64)
        gauss = np.empty((n, 2 * seq_len))
        ahead = n if self.left else n - 1
        for i in range(ahead):
            shift[i] = randint(0, max_translation, dtype=np.int64)
            gauss[i] = normal(2 * seq_len)
            u[3 * i + 2 : 3 * i + 5] = uniform(3)
        if ahead < n:  # the dataset's last sample: only its shear is left to draw
            shift[-1] = randint(0, max_translation, dtype=np.int64)
            gauss[-1] = normal(2 * seq_len)
            u[-3] = uniform()
        self.head = u[-2:] if self.left else None
        per_sample = u[: 3 * n].reshape(n, 3)
        return Draws(per_sample[:, 0], per_sample[:, 1], shift, gauss, per_sample[:, 2])


def interpolate(y: np.ndarray, n_out: int) -> np.ndarray:
    """Resample the last axis of `y` onto `n_out` evenly spaced points, bit-for-bit like `np.interp`.

    The reference's `interp1d(linspace(0,1,L), y)(linspace(0,1,N))` delegates to `np.interp` for 1-D
    float64 data; this applies the same formula, `slope * (x - xp[j]) + y[j]`, to every row at once.
    """
    n_in = y.shape[-1]
    xp = np.linspace(0, 1, n_in)
    x = np.linspace(0, 1, n_out)
    lo = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    exact = (x == xp[lo]) | (lo == hi)  # np.interp returns y[j] itself at a grid point
    width = np.where(lo == hi, 1.0, xp[hi] - xp[lo])
    y_lo = y[..., lo]
    slope = (y[..., hi] - y_lo) / width
    return np.where(exact, y_lo, slope * (x - xp[lo]) + y_lo)


def dilate(padded: np.ndarray, rows: np.ndarray, lengths: np.ndarray, n_out: int) -> np.ndarray:
    """Row i: the first `lengths[i]` values of `padded[rows[i]]` resampled to `n_out` points.

    Like `interpolate`, but each row has its own input length (the pad length varies per sample), so
    the grid `np.linspace(0, 1, L)` = `j * (1 / (L - 1))` (last point exactly 1) is built per row and the
    bracketing index found from a guess plus exact comparisons, as `np.interp`'s search would.
    """
    x = np.linspace(0, 1, n_out)
    last = (lengths - 1)[:, None]
    step = 1.0 / np.maximum(last, 1)

    def grid(j: np.ndarray) -> np.ndarray:
        return np.where((j == last) & (last > 0), 1.0, j * step)

    # guess, then settle on grid(lo) <= x < grid(lo + 1): the guess can be one off where x * (L - 1) rounds
    lo = np.minimum((x * last).astype(np.int64), last)
    for _ in range(2):
        lo += (lo < last) & (grid(np.minimum(lo + 1, last)) <= x)
        lo -= grid(lo) > x
    hi = np.minimum(lo + 1, last)
    x_lo = grid(lo)
    y_lo = padded[rows[:, None], lo]
    width = np.where(hi == lo, 1.0, grid(hi) - x_lo)
    slope = (padded[rows[:, None], hi] - y_lo) / width
    return np.where((x == x_lo) | (hi == lo), y_lo, slope * (x - x_lo) + y_lo)


class Dilation:
    """Padded-and-dilated templates, translated: the reference's pad + interpolate + translate steps.

    A sample's dilated signal depends only on (label, pad length), and there are usually few pad
    lengths, so all of them are tabulated once (each row stored twice, so that a circular shift is a
    contiguous window); a huge padding range (over MAX_TABLE values) is computed per chunk instead.
    """

    def __init__(self, templates_x: np.ndarray, padding: tuple[int, int], seq_len: int) -> None:
        n_templates, self.template_len = templates_x.shape
        self.low, high = padding
        self.n_pad = high - self.low + 1
        self.seq_len = seq_len
        # the reference adds EPS, then pads with zeros: every pad length is a prefix of the longest
        self.padded = np.concatenate([templates_x + EPS, np.zeros((n_templates, high))], axis=1)
        self.table = None
        if n_templates * self.n_pad * seq_len <= MAX_TABLE:
            label, pad_ix = np.divmod(np.arange(n_templates * self.n_pad), self.n_pad)
            table = dilate(self.padded, label, self.template_len + self.low + pad_ix, seq_len)
            self.table = np.concatenate([table, table], axis=1).ravel()

    def rows(self, labels: np.ndarray, pad_ix: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """Dilated templates `labels`, padded with `low + pad_ix` zeros, rolled right by `shift` < seq_len."""
        n = self.seq_len
        if self.table is not None:
            start = (labels * self.n_pad + pad_ix) * (2 * n) + (n - shift)
            return self.table[start[:, None] + np.arange(n)]
        rows = dilate(self.padded, labels, self.template_len + self.low + pad_ix, n)
        return np.take_along_axis(rows, (np.arange(n) - shift[:, None]) % n, axis=1)


def corr_noise(normals: np.ndarray, scale: float) -> np.ndarray:
    """Smooth noise per row: the reference's `gaussian_filter(scale * randn(L), 2)` (mode 'reflect')."""
    from scipy.ndimage import gaussian_filter1d  # lazy: keeps `import mnist1d` light

    return gaussian_filter1d(scale * normals, 2, axis=-1)


def transform_batch(labels: np.ndarray, d: Draws, dilation: Dilation, args) -> np.ndarray:
    """Apply the reference `transform` to a chunk of samples at once; returns (n, final_seq_length).

    `args` is a DatasetConfig, `dilation` its `Dilation`, `d` the chunk's draws.
    """
    seq_len = dilation.seq_len
    pad_ix = (d.pad_u * dilation.n_pad).astype(np.int64)  # p - low, as `low + int(rand() * (high - low + 1))`

    # translate: `concat([x[-k:], x[:-k]])` is a roll by k, except k = 0 and k >= len(x) leave x as is
    x = dilation.rows(labels, pad_ix, np.where(d.shift < seq_len, d.shift, 0))
    x *= (1 + args.scale_coeff * (d.scale_u - 0.5))[:, None]  # elementwise, so order vs roll is moot

    # correlated noise only where the (dilated, shifted) signal is exactly zero: the padding
    x = np.where(x != 0, x, corr_noise(d.gauss[:, :seq_len], args.corr_noise_scale))
    x += args.iid_noise_scale * d.gauss[:, seq_len:]

    coeff = args.shear_scale * (d.shear_u - 0.5)
    x -= coeff[:, None] * np.linspace(-0.5, 0.5, seq_len)
    return interpolate(x, args.final_seq_length)
