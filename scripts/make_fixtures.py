"""Generate reference fixtures with the real `mnist1d==0.0.2.post1` (run in a throwaway venv).

    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install mnist1d==0.0.2.post1
    /tmp/refvenv/bin/python scripts/make_fixtures.py

Writes one compressed `.npz` per configuration to tests/fixtures/ (x, y, x_test, y_test, t and the
arguments as JSON in `args_json`); tests/test_generator.py checks our generator against them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

# name -> overrides of the reference defaults; each probes a different path or edge case
CONFIGS: dict[str, dict] = {
    "default": {},
    "seed0": {"seed": 0, "num_samples": 1000},
    "shuffle_seq": {"shuffle_seq": True, "seed": 7, "num_samples": 1000},
    "odd_count_len72": {"num_samples": 1234, "final_seq_length": 72, "seed": 3},
    # max_translation > dilated length: shifts k >= len leave the signal unshifted in the reference
    "wide_shift_no_iid": {
        "num_samples": 500,
        "padding": [0, 5],
        "max_translation": 100,
        "scale_coeff": 1.5,
        "corr_noise_scale": 0.5,
        "iid_noise_scale": 0.0,
        "shear_scale": 2.0,
        "seed": 11,
    },
    "small_train_split": {"num_samples": 800, "train_split": 0.05, "seed": 5},
    # fixed padding, no shift (k always 0), no correlated noise / shear, upsampling to 100 points
    "fixed_pad_upsample": {
        "num_samples": 300,
        "padding": [10, 10],
        "template_len": 20,
        "max_translation": 1,
        "corr_noise_scale": 0.0,
        "shear_scale": 0.0,
        "final_seq_length": 100,
        "seed": 123,
    },
    "no_pad_len2": {
        "num_samples": 200,
        "padding": [0, 0],
        "max_translation": 2,
        "final_seq_length": 2,
        "seed": 9,
    },
}


def main() -> None:
    import mnist1d
    from mnist1d.data import get_dataset_args, make_dataset

    if not hasattr(mnist1d, "utils"):
        sys.exit("run this with the reference mnist1d==0.0.2.post1 installed, not the lab's package")
    OUT.mkdir(parents=True, exist_ok=True)
    for name, overrides in CONFIGS.items():
        args = get_dataset_args(as_dict=True)
        args.update(overrides)
        data = make_dataset(mnist1d.utils.ObjectView(dict(args)))
        arrays = {k: data[k] for k in ("x", "y", "x_test", "y_test", "t")}
        path = OUT / f"{name}.npz"
        np.savez_compressed(path, **arrays, args_json=np.str_(json.dumps(args, sort_keys=True)))
        print(
            f"{path.name}: x {arrays['x'].shape} x_test {arrays['x_test'].shape} {path.stat().st_size} bytes"
        )


if __name__ == "__main__":
    main()
