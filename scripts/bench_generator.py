"""Time our MNIST-1D generator against the reference `mnist1d==0.0.2.post1`.

    python scripts/bench_generator.py --reference-python /tmp/refvenv/bin/python   # side by side
    python scripts/bench_generator.py --samples 1000000                           # ours alone + peak RSS

The reference runs in its own interpreter (a venv with the PyPI package), timed inside that process
after its imports; ours is timed likewise. Each side reports its best of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo's mnist1d, not an installed one

REFERENCE_SNIPPET = """
import sys, time
import mnist1d.utils  # fails unless this interpreter has the reference package
from mnist1d.data import get_dataset_args, make_dataset
args = get_dataset_args()
args.num_samples = int(sys.argv[1])
best = float("inf")
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    make_dataset(args)
    best = min(best, time.perf_counter() - start)
print(best)
"""


def time_reference(python: str, samples: int, repeats: int) -> float:
    """Best-of-`repeats` seconds of the reference `make_dataset`, run under `python`."""
    with tempfile.TemporaryDirectory() as cwd:  # keep this repo's mnist1d off the child's sys.path
        out = subprocess.run(
            [python, "-c", REFERENCE_SNIPPET, str(samples), str(repeats)],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
        )
    return float(out.stdout.strip().splitlines()[-1])


def time_ours(samples: int, repeats: int) -> float:
    """Best-of-`repeats` seconds of our `make_dataset` (imports, scipy included, done beforehand)."""
    import scipy.ndimage  # noqa: F401  (the reference imports scipy at import time too)

    from mnist1d import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = samples
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        make_dataset(args)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference-python", help="interpreter with mnist1d==0.0.2.post1 installed")
    parser.add_argument("--samples", type=int, help="time ours alone at this num_samples, with peak memory")
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()

    if opts.samples is not None:
        seconds = time_ours(opts.samples, 1)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
        print(f"ours, num_samples={opts.samples}: {seconds:.2f} s, peak RSS {peak_mb:.0f} MiB")
        return
    if not opts.reference_python:
        parser.error("--reference-python is required unless --samples is given")
    samples = 5000
    ref = time_reference(opts.reference_python, samples, opts.repeats)
    ours = time_ours(samples, opts.repeats)
    print(f"num_samples={samples}, best of {opts.repeats}")
    print(f"reference: {ref:8.3f} s")
    print(f"ours:      {ours:8.3f} s")
    print(f"speed-up:  {ref / ours:8.1f}x")


if __name__ == "__main__":
    main()
