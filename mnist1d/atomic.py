"""Files that appear complete or not at all, so parallel jobs and readers never see half of one."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path`, fsync it, then rename it over `path`; on error remove it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other users of a shared directory
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    with atomic_open(path, "w") as file:
        file.write(text)


def write_json(path: Path, payload: Any) -> None:
    with atomic_open(path, "w") as file:
        json.dump(payload, file, indent=2)


def save_figure(
    fig: Figure, out_dir: Path, stem: str, formats: Sequence[str] = ("png", "pdf"), **savefig_args: Any
) -> list[Path]:
    """Write `fig` as `<stem>.<format>` for each format (150 dpi, tight bounding box unless told otherwise),
    then close it; returns the paths."""
    args = {"dpi": 150, "bbox_inches": "tight"} | savefig_args
    paths = []
    for suffix in formats:
        path = out_dir / f"{stem}.{suffix}"
        with atomic_open(path) as file:
            fig.savefig(file, format=suffix, **args)
        paths.append(path)
    import matplotlib.pyplot as plt  # lazy: the dataset layer stays light

    plt.close(fig)
    return paths


def set_aside(path: Path, label: str) -> Path:
    """Rename `path` to `<name>.<label>` (numbered if taken) and return the new path: a file kept for
    inspection instead of being deleted or overwritten."""
    for attempt in range(1000):
        target = path.with_name(f"{path.name}.{label}{f'.{attempt}' if attempt else ''}")
        if not target.exists():
            return path.rename(target)
    raise FileExistsError(f"{path}: too many earlier {label} copies beside it")
