"""The reference's `mnist1d.utils` (`mnist1d==0.0.2.post1`): seeding, pickles, ObjectView, plotting.

Same names and signatures, with one deliberate difference: `from_pickle` reads through the restricted
unpickler of `mnist1d.frozen`, so it loads only numpy arrays and plain builtin containers/scalars (what
the reference's own files hold: dicts of arrays, lists, numbers, strings) and refuses any other object
instead of running code hidden in the file. matplotlib is imported only by `plot_signals`.
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np

from mnist1d.atomic import atomic_open
from mnist1d.transform import transform


def set_seed(seed: int) -> None:
    """Seed python's `random` and numpy's global state, which the per-step transforms draw from."""
    random.seed(seed)
    np.random.seed(seed)


def to_pickle(thing: Any, path: str | os.PathLike[str]) -> None:
    """Pickle `thing` to `path` (protocol 3, as the reference), atomically: never a half-written file."""
    with atomic_open(Path(path), "wb") as handle:
        pickle.dump(thing, handle, protocol=3)


def from_pickle(path: str | os.PathLike[str]) -> Any:
    """Unpickle `path`, admitting only numpy arrays and plain containers (raises UnpicklingError else).

    Unlike the reference's `pickle.load`, a file that names any other global (`os.system`, a class of
    your own, ...) is refused before anything is called.
    """
    from mnist1d import frozen  # lazy: the unpickler machinery only when a pickle is read

    with open(path, "rb") as handle:
        return frozen.unpickle(handle)


class ObjectView:
    """Attribute access over a dict (`args.padding` for `args["padding"]`); shares the dict."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__ = d

    def __repr__(self) -> str:
        return f"ObjectView({self.__dict__!r})"


def plot_signals(
    xs: np.ndarray,
    t: np.ndarray,
    labels: np.ndarray | None = None,
    args: Any = None,
    ratio: float = 2.6,
    do_transform: bool = False,
    dark_mode: bool = False,
    zoom: float = 1,
) -> Any:
    """Plot the first 10 signals side by side, upright (signal on x, `t` downwards), as the reference.

    `do_transform` first applies `transform(x, t, args)` to each (drawing from the global state).
    Calls `plt.show()` like the reference (a no-op on non-interactive backends such as Agg) and returns
    the matplotlib Figure.
    """
    import matplotlib.pyplot as plt  # lazy: keeps `import mnist1d` light

    rows, cols = 1, 10
    fig = plt.figure(figsize=[cols * 1.5, rows * 1.5 * ratio], dpi=60)
    for ix in range(rows * cols):
        ax = fig.add_subplot(rows, cols, ix + 1)
        x, y = xs[ix], t
        if do_transform:
            if args is None:
                raise ValueError("plot_signals(do_transform=True) needs `args` for the transform")
            x, y = transform(x, t, args)
        if dark_mode:
            ax.plot(x, y, "wo", linewidth=6)
            ax.set_facecolor("k")
        else:
            ax.plot(x, y, "k-", linewidth=2)
        if labels is not None:
            ax.set_title(f"label={labels[ix]!s}", fontsize=22)
        ax.set_xlim(-zoom, zoom)
        ax.set_ylim(-zoom, zoom)
        ax.invert_yaxis()
        ax.set_xticks([])
        ax.set_yticks([])
    fig.subplots_adjust(wspace=0, hspace=0)
    fig.tight_layout()
    plt.show()
    return fig
