"""Generate reference fixtures with the real `mnist1d==0.0.2.post1` (run in a throwaway venv).

    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install mnist1d==0.0.2.post1
    /tmp/refvenv/bin/python scripts/make_fixtures.py [NAME ...]   # default: every fixture

Writes one compressed `.npz` per configuration to tests/dataset/fixtures/ (x, y, x_test, y_test, t and the
arguments as JSON in `args_json`); tests/dataset/test_data.py checks our generator against them.

`api` writes tests/dataset/fixtures/api/reference_api.npz (kept out of the dataset fixtures' folder):
the reference's public names and signatures, the outputs of each per-step transform and of `transform`
for fixed global seeds (plus the global state's next draws after each call), and `plot_signals`'s
figure layout; tests/dataset/test_transform.py and test_utils.py check ours against it. Arrays only,
the rest as JSON: nothing in a fixture is a pickle.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "dataset" / "fixtures"
API_OUT = OUT / "api" / "reference_api.npz"
REFERENCE_VERSION = "0.0.2.post1"
MODULES = ("mnist1d", "mnist1d.data", "mnist1d.transform", "mnist1d.utils")

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


def write_dataset_fixture(name: str, overrides: dict) -> None:
    from mnist1d.data import get_dataset_args, make_dataset
    from mnist1d.utils import ObjectView

    args = get_dataset_args(as_dict=True)
    args.update(overrides)
    data = make_dataset(ObjectView(dict(args)))
    arrays = {k: data[k] for k in ("x", "y", "x_test", "y_test", "t")}
    path = OUT / f"{name}.npz"
    np.savez_compressed(path, **arrays, args_json=np.str_(json.dumps(args, sort_keys=True)))
    print(f"{path.name}: x {arrays['x'].shape} x_test {arrays['x_test'].shape} {path.stat().st_size} bytes")


def describe(obj: Any) -> dict:
    """A public name's kind, defining module and signature (parameter name, kind, default repr)."""
    if inspect.ismodule(obj):
        return {"kind": "module", "origin": obj.__name__}
    entry = {"kind": "class" if inspect.isclass(obj) else "function", "origin": obj.__module__}
    signature = inspect.signature(obj)
    entry["signature"] = str(signature)
    entry["params"] = [
        [p.name, p.kind.name, None if p.default is p.empty else repr(p.default)]
        for p in signature.parameters.values()
    ]
    return entry


def public_api() -> dict[str, dict[str, dict]]:
    """Every public module-level name of the reference's modules, whatever its origin (tests filter)."""
    api = {}
    for name in MODULES:
        module = importlib.import_module(name)  # the module itself, also for the shadowed mnist1d.transform
        api[name] = {attr: describe(getattr(module, attr)) for attr in sorted(vars(module)) if attr[0] != "_"}
    return api


def step_cases(templates: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Calls of the per-step functions: (name, function, global seed, keyword arguments, repeats).

    Inputs come from a local RandomState (stored in the fixture, the shared ones once, under `in.NAME`);
    the calls draw from the global state.
    Repeated calls after one seed check that the global stream continues as in the reference; odd
    lengths leave a cached gaussian in the global state, which the recorded next draws expose.
    """
    rs = np.random.RandomState(2024)
    digit, t = templates["x"][3], templates["t"]
    long, odd = rs.standard_normal(72), rs.standard_normal(11)
    batch = rs.standard_normal((4, 40))
    shared = {"digit": digit, "t": t, "long": long, "odd": odd, "batch": batch}
    from mnist1d.data import get_dataset_args

    defaults = {k: v for k, v in get_dataset_args(as_dict=True).items() if k != "url"}
    wide = {**defaults, "padding": [0, 5], "max_translation": 100, "iid_noise_scale": 0.0, "shear_scale": 2.0}
    upsample = {**defaults, "padding": [10, 10], "template_len": 20, "max_translation": 1}
    upsample.update(corr_noise_scale=0.0, final_seq_length=100)

    def case(name: str, func: str, seed: int, repeat: int = 1, **kwargs: Any) -> dict:
        return {"name": name, "func": func, "seed": seed, "repeat": repeat, "kwargs": kwargs}

    return shared, [
        case("pad_1d", "pad", 0, x=digit, padding=[36, 60]),
        case("pad_fixed", "pad", 1, x=digit, padding=[5, 5]),
        case("pad_int", "pad", 2, repeat=3, x=np.arange(6), padding=[0, 4]),
        case("pad_2d", "pad", 13, repeat=2, x=batch, padding=[36, 44]),
        case("shear_default_scale", "shear", 3, x=long),
        case("shear_1d", "shear", 4, repeat=3, x=long, scale=0.75),
        case("shear_2d_square", "shear", 5, x=rs.standard_normal((5, 5)), scale=2.0),
        case("translate_1d", "translate", 6, repeat=8, x=long, max_translation=48),
        case("translate_beyond_length", "translate", 7, repeat=8, x=digit, max_translation=30),
        case("translate_2d", "translate", 8, repeat=4, x=rs.standard_normal((6, 3)), max_translation=6),
        case("translate_none", "translate", 9, repeat=2, x=long, max_translation=1),
        case("corr_noise_1d", "corr_noise_like", 10, repeat=2, x=long, scale=0.25),
        case("corr_noise_odd", "corr_noise_like", 11, repeat=3, x=odd, scale=0.5),
        case("corr_noise_2d", "corr_noise_like", 12, x=batch, scale=0.5),
        case("iid_noise_1d", "iid_noise_like", 14, x=long, scale=0.02),
        case("iid_noise_odd", "iid_noise_like", 15, repeat=3, x=odd, scale=1.0),
        case("iid_noise_2d", "iid_noise_like", 16, x=rs.standard_normal((3, 5)), scale=0.1),
        case("interp_up", "interpolate", 17, x=digit, N=72),
        case("interp_down", "interpolate", 18, x=long, N=40),
        case("interp_on_grid", "interpolate", 19, x=long[:5], N=9),
        case("interp_same", "interpolate", 20, x=long[:40], N=40),
        case("interp_int", "interpolate", 21, x=np.arange(6) ** 2, N=11),
        case("interp_float32", "interpolate", 22, x=long[:12].astype(np.float32), N=40),
        case("interp_2d_axis0", "interpolate", 23, x=rs.standard_normal((12, 3)), N=72),
        case("interp_2d_on_grid", "interpolate", 24, x=rs.standard_normal((5, 2)), N=9),
        *(
            case(f"transform_digit{d}", "transform", 42 + d, x=templates["x"][d], y=t, args=defaults)
            for d in (0, 3, 7)
        ),
        case("transform_stream", "transform", 42, repeat=5, x=templates["x"][1], y=t, args=defaults),
        case("transform_wide_eps", "transform", 11, repeat=3, x=digit, y=t, args=wide, eps=1e-6),
        case("transform_upsample", "transform", 123, repeat=2, x=templates["x"][5], y=t, args=upsample),
    ]


def next_draws() -> list[float]:
    """The global state's next draws: gaussians first (they expose a cached one), then uniforms."""
    return [*np.random.standard_normal(3).tolist(), *np.random.random_sample(3).tolist()]


def record_steps(arrays: dict[str, np.ndarray]) -> list[dict]:
    from mnist1d.data import get_templates
    from mnist1d.utils import ObjectView

    steps = importlib.import_module("mnist1d.transform")  # the module: `mnist1d.transform` is a function
    shared, cases = step_cases(get_templates())
    arrays.update({f"in.{name}": value for name, value in shared.items()})
    for c in cases:
        kwargs = {}
        for key, value in c["kwargs"].items():
            if isinstance(value, np.ndarray):
                name = next((f"in.{n}" for n, v in shared.items() if v is value), f"{c['name']}.in.{key}")
                arrays[name] = value
                c["kwargs"][key] = {"array": name}
                kwargs[key] = value
            elif key == "args":
                kwargs[key] = ObjectView(dict(value))
            else:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
        np.random.seed(c["seed"])
        for i in range(c["repeat"]):
            out = getattr(steps, c["func"])(**kwargs)
            for j, part in enumerate(out if isinstance(out, tuple) else (out,)):
                arrays[f"{c['name']}.out{i}.{j}"] = part
        c["next"] = next_draws()  # JSON floats round-trip exactly
    return cases


def record_plots(arrays: dict[str, np.ndarray]) -> dict[str, dict]:
    """`plot_signals`'s figure: size, axes positions and limits, titles, line styles and data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mnist1d.data import get_dataset_args, get_templates
    from mnist1d.utils import plot_signals

    templates = get_templates()
    xs = np.random.RandomState(7).standard_normal((10, 20)) / 3
    calls = {
        "plot_labels": ({"xs": xs, "t": np.linspace(-1, 1, 20), "labels": np.arange(10) % 4}, 0),
        "plot_transform_dark": (
            {
                "xs": templates["x"],
                "t": templates["t"],
                "args": get_dataset_args(),
                "do_transform": True,
                "dark_mode": True,
                "zoom": 2,
                "ratio": 1.5,
            },
            21,
        ),
    }
    plots = {}
    for name, (kwargs, seed) in calls.items():
        np.random.seed(seed)
        fig = plot_signals(**kwargs)
        axes = fig.axes
        arrays[f"{name}.lines"] = np.stack([ax.lines[0].get_xydata() for ax in axes])
        inputs = {}
        for key, value in kwargs.items():
            if isinstance(value, np.ndarray):
                arrays[f"{name}.in.{key}"] = value
                inputs[key] = {"array": f"{name}.in.{key}"}
            else:  # `args` is the reference's default ObjectView
                inputs[key] = {"default_args": True} if key == "args" else value
        plots[name] = {
            "inputs": inputs,
            "seed": seed,
            "next": next_draws(),
            "figsize": list(map(float, fig.get_size_inches())),
            "dpi": fig.dpi,
            "axes": [
                {
                    "position": list(map(float, ax.get_position().bounds)),
                    "xlim": list(map(float, ax.get_xlim())),
                    "ylim": list(map(float, ax.get_ylim())),
                    "title": ax.get_title(),
                    "title_size": ax.title.get_fontsize(),
                    "facecolor": list(ax.get_facecolor()),
                    "ticks": [len(ax.get_xticks()), len(ax.get_yticks())],
                    "n_lines": len(ax.lines),
                    "line": {
                        "color": matplotlib.colors.to_hex(ax.lines[0].get_color()),
                        "linestyle": ax.lines[0].get_linestyle(),
                        "marker": ax.lines[0].get_marker(),
                        "linewidth": ax.lines[0].get_linewidth(),
                    },
                }
                for ax in axes
            ],
        }
        plt.close(fig)
    return plots


def write_api_fixture() -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "reference": f"mnist1d=={metadata.version('mnist1d')}",
        "versions": {name: metadata.version(name) for name in ("numpy", "scipy", "matplotlib")},
        "api": public_api(),
        "steps": record_steps(arrays),
        "plots": record_plots(arrays),
    }
    API_OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(API_OUT, **arrays, meta_json=np.str_(json.dumps(meta, sort_keys=True)))
    print(f"{API_OUT.relative_to(OUT)}: {len(arrays)} arrays, {API_OUT.stat().st_size} bytes")


def main(names: list[str]) -> None:
    import mnist1d

    try:
        version = metadata.version("mnist1d")
    except metadata.PackageNotFoundError:
        version = None
    if version != REFERENCE_VERSION or hasattr(mnist1d, "DatasetConfig"):
        sys.exit(f"run this with the reference mnist1d=={REFERENCE_VERSION} installed, not the lab's package")
    unknown = set(names) - {*CONFIGS, "api"}
    if unknown:
        sys.exit(f"unknown fixtures {sorted(unknown)}; choose from {[*CONFIGS, 'api']}")
    OUT.mkdir(parents=True, exist_ok=True)
    for name, overrides in CONFIGS.items():
        if not names or name in names:
            write_dataset_fixture(name, overrides)
    if not names or "api" in names:
        write_api_fixture()


if __name__ == "__main__":
    main(sys.argv[1:])
