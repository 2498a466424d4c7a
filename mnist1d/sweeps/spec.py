"""What a sweep runs: its config (conf/sweeps/sweep.yaml + sweep/<name>.yaml there) as train.py jobs.

A sweep kind is one file `conf/sweeps/sweep/<name>.yaml` (package _global_) with three keys:

- `grid`: train.py override key -> list of values; every combination is one job (a Hydra multirun),
  e.g. `{model: [cnn, gru], trainer.max_steps: [1000, 2000], seed: [0, 1, 2]}`. Keys may be nested
  (`trainer: {max_steps: [...]}`) or dotted; an empty list is refused.
- `fixed`: train.py overrides of every job, e.g. `{data: mnist1d_shuffled}`.
- `report_fn`: dotted path of `<kind>_report(sweep_dir: Path, rows: list[dict], cfg: DictConfig) ->
  list[Path]`, a function of a module of `mnist1d.reports`, called after summary.csv is written with one row
  per run (see mnist1d/sweeps/summary.py for the row keys, among them `overrides`: the job's grid values,
  `history` and the resolved `config`) and the sweep config; it writes its files into sweep_dir
  (atomically) and returns their paths.

Select it with `python sweep.py sweep=<name>`.

sweep.json is read back as data (`SweepSpec.load`, `check_overrides`): its fields as sweep.py writes them, a
report function of `mnist1d.reports`, and, for a resume, overrides that set keys of the train config, choose
options of its groups or set launcher sizes and places. An entry that names code (`_target_`, `hydra.*`
callbacks, ...) runs only when the resume command repeats it.
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict

from mnist1d.config.compose import SWEEP_CONF, compose_config, compose_train, config_options
from mnist1d.records import read_record, write_record
from mnist1d.trusted import SPECIAL_KEYS, UntrustedFileError, check_data, report_function

SPEC_FILE = "sweep.json"
STEPS_AXIS = "trainer.max_steps"
SLURM_LAUNCHER = "submitit_slurm"  # the slurm extra: mnist1d/sweeps/slurm_jobs.py
LAUNCHERS = ("basic", "stacked", "joblib", "submitit_local", SLURM_LAUNCHER)
# The launcher options a sweep.json may set on its own: how many jobs, where and how large they run. Not
# submitit's `setup` or `srun_args` (commands), `additional_parameters` or folders.
LAUNCHER_OPTIONS = frozenset({
    "n_jobs", "timeout_min", "signal_delay_s", "max_num_timeout", "array_parallelism", "nodes",
    "tasks_per_node", "cpus_per_task", "gpus_per_node", "gpus_per_task", "cpus_per_gpu", "mem_gb",
    "mem_per_cpu", "mem_per_gpu", "partition", "qos", "account", "constraint", "exclude", "gres", "comment",
})  # fmt: skip
FIELD_TYPES = {"name": str, "axes": dict, "fixed": list, "launcher": str, "share_budgets": bool}
FIELD_TYPES |= {"report_fn": str, "config": dict}


@dataclass
class SweepSpec:
    """A sweep as train.py sees it; saved as sweep.json so a sweep can be resumed and reported later.

    `config` is the sweep config (conf/sweeps/sweep.yaml with its kind), whose `report_fn` writes the report.
    """

    name: str
    axes: dict[str, list[str]]
    fixed: list[str]
    launcher: str
    share_budgets: bool
    report_fn: str
    config: dict[str, Any] = field(default_factory=dict)

    def budgets(self) -> list[int]:
        return sorted(int(value) for value in self.axes.get(STEPS_AXIS, []))

    def launched_axes(self) -> dict[str, list[str]]:
        """The axes train.py runs: with shared budgets only the largest step budget."""
        if not self.share_budgets:
            return self.axes
        return self.axes | {STEPS_AXIS: [str(self.budgets()[-1])]}

    def jobs(self) -> list[dict[str, str]]:
        """Each job's grid values, in Hydra's job-number order (the product, last axis fastest)."""
        axes = self.launched_axes()
        return [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]

    def train_arguments(self, sweep_dir: Path, resume: bool) -> list[str]:
        """The arguments of `python train.py` that run this sweep into sweep_dir."""
        arguments = ["-m", f"hydra/launcher={self.launcher}", f"hydra.sweep.dir={sweep_dir}", *self.fixed]
        arguments += [f"{key}={','.join(values)}" for key, values in self.launched_axes().items()]
        if self.launcher == SLURM_LAUNCHER:  # with skip_completed=true: a requeued job resumes
            from mnist1d.sweeps import slurm_jobs

            return [*arguments, *slurm_jobs.TRAIN_ARGUMENTS]
        return [*arguments, "skip_completed=true"] if resume else arguments

    def entries(self) -> list[str]:
        """The train overrides sweep.json holds: the fixed ones, and each axis as `key=value,value`."""
        return [*self.fixed, *(f"{key}={','.join(values)}" for key, values in self.axes.items())]

    def save(self, sweep_dir: Path) -> None:
        """sweep.json: the one writer of this record (versioned, see mnist1d/records.py)."""
        write_record(sweep_dir / SPEC_FILE, self)

    @classmethod
    def load(cls, sweep_dir: Path) -> SweepSpec | None:
        """The sweep.json of `sweep_dir` (read as every record is: mnist1d/records.py), or None; then
        checked as data (`check_saved`). What a resume would run is checked by `check_overrides`."""
        path = sweep_dir / SPEC_FILE
        spec = read_record(path, lambda fields, path: cls)
        if spec is not None:
            check_saved(vars(spec), path)
        return spec


def check_saved(saved: dict[str, Any], path: Path) -> None:
    """sweep.json's fields as sweep.py writes them (types, plain values, a known launcher, report functions of
    `mnist1d.reports`), or `UntrustedFileError` naming the first field that is not."""
    for key, kind in FIELD_TYPES.items():
        if not isinstance(saved[key], kind):
            raise UntrustedFileError(path, key, f" is not allowed: must be a {kind.__name__}")
        check_data(saved[key], key, path)
    strings = [saved["fixed"], *saved["axes"].values()]
    if not all(isinstance(items, list) and all(isinstance(x, str) for x in items) for items in strings):
        raise UntrustedFileError(path, "axes and fixed", " are not allowed: must be lists of strings")
    if saved["launcher"] not in LAUNCHERS:
        raise UntrustedFileError(
            path, "launcher", f"={saved['launcher']!r} is not allowed: not in {LAUNCHERS}"
        )
    report_function(saved["report_fn"], path)
    report_function(saved["config"].get("report_fn"), path)


def check_overrides(spec: SweepSpec, source: Path, repeated: Sequence[str] = ()) -> None:
    """What a resume runs from sweep.json: each entry (not `repeated` on the command line, which vouches for
    it) sets a key of the train config, chooses an option of one of its config groups, or sets a launcher
    option of `LAUNCHER_OPTIONS`, with plain values; anything else (`hydra.callbacks`, a `_target_`, a new
    top-level key) raises `UntrustedFileError` naming the entry."""
    keys = set(compose_train([]))
    groups = {group for group in HydraConfig.get().runtime.choices if "/" not in group}
    parser = OverridesParser.create()
    for line in spec.entries():
        if line in repeated:
            continue
        problem = _override_problem(line, parser, keys, groups)
        if problem:
            raise UntrustedFileError(
                source, f"entry {line!r}", f" is not allowed: {problem}; if you started the sweep with it, "
                f"repeat it to run it again: python sweep.py resume={source.parent} {shlex.quote(line)}"
            )  # fmt: skip


def _override_problem(line: str, parser: OverridesParser, keys: set[str], groups: set[str]) -> str | None:
    """Why `line` may not come from a file, or None."""
    if any(ord(char) < 32 for char in line):
        return "it holds a control character"
    try:
        (override,) = parser.parse_overrides([line])
    except HydraException:
        return "it is not a Hydra override"
    key, parts = override.key_or_group, override.key_or_group.split(".")
    values = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
    if override.package is not None or "/" in key or SPECIAL_KEYS & set(parts):
        return "sweep.py writes no package, config group path or Hydra special key"
    if parts[0] == "hydra":
        plain = all(isinstance(value, str | int | float | bool | None) for value in values)
        if len(parts) == 3 and parts[1] == "launcher" and parts[2] in LAUNCHER_OPTIONS and plain:
            return None
        return f"of hydra.*, only launcher options {sorted(LAUNCHER_OPTIONS)} (plain values)"
    if parts[0] not in keys | groups:
        return "not a key of the train config"
    if len(parts) == 1 and key in groups:
        options = config_options(key)
        unknown = [value for value in values if value is not None and value not in options]
        return f"{key} must be one of {options}" if unknown else None
    try:
        check_data(values, key, "")
    except UntrustedFileError:
        return "its value names code or holds an interpolation"
    return None


def split_arguments(argv: Sequence[str], sweep_keys: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split `key=value` arguments into sweep-config overrides and train.py overrides (all others)."""
    sweep_overrides, train_overrides = [], []
    for argument in argv:
        root = argument.split("=", 1)[0].lstrip("+~").split(".", 1)[0].split("/", 1)[0]
        (sweep_overrides if root in sweep_keys else train_overrides).append(argument)
    return sweep_overrides, train_overrides


def compose_sweep(overrides: Sequence[str]) -> DictConfig:
    """conf/sweeps/sweep.yaml with the chosen sweep kind, its name added as `name`."""
    cfg = compose_config(SWEEP_CONF, "sweep", overrides)
    with open_dict(cfg):
        cfg.name = HydraConfig.get().runtime.choices.sweep
    return cfg


def sweep_keys() -> list[str]:
    return ["sweep", *(key for key in compose_sweep([]) if key != "name")]


def render(value: Any) -> str:
    """A config value in Hydra's override syntax."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "[" + ",".join(render(item) for item in value) + "]"
    text = str(value)
    return f"'{text}'" if any(char in text for char in ",[]{}()=' \"") else text


def flatten(node: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{trainer: {max_steps: x}}` -> `{"trainer.max_steps": x}` (lists and scalars are leaves)."""
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def build_spec(cfg: DictConfig, train_overrides: Sequence[str]) -> SweepSpec:
    """The sweep's jobs: the config's grid and fixed overrides, then the command line's train overrides
    (a sweep `k=a,b` or a key of the grid sets that axis; any other is fixed for every job)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    axes = {key: [render(v) for v in values] for key, values in flatten(container["grid"]).items()}
    fixed = {key: f"{key}={render(value)}" for key, value in flatten(container["fixed"]).items()}
    for override in OverridesParser.create().parse_overrides(list(train_overrides)):
        key = override.get_key_element()
        if override.is_sweep_override():
            axes[key] = list(override.sweep_string_iterator())
        elif key in axes:
            axes[key] = [override.get_value_element_as_str()]
        else:
            fixed[key] = override.input_line
    spec = SweepSpec(
        name=cfg.name,
        axes=axes,
        fixed=list(fixed.values()),
        launcher=cfg.launcher,
        share_budgets=cfg.share_budgets,
        report_fn=cfg.report_fn,
        config=container,
    )
    validate(spec)
    return spec


def validate(spec: SweepSpec) -> None:
    """Refuse a sweep that cannot run as asked, before any job starts."""
    for key, values in spec.axes.items():
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"sweep grid axis {key!r} is empty ({values!r}): give it at least one value, e.g. {key}=a,b"
            )
    both = [key for key in spec.axes if any(line.split("=", 1)[0].lstrip("+~") == key for line in spec.fixed)]
    if both:
        raise ValueError(f"sweep keys {both} are both fixed overrides and grid axes: give each only once")
    if spec.share_budgets:
        validate_shared_budgets(spec)


def validate_shared_budgets(spec: SweepSpec) -> None:
    """Budgets can be read from one run's history only when the run passes through the same states
    (no learning-rate schedule, which would depend on max_steps) and evaluates at every budget."""
    if STEPS_AXIS not in spec.axes:
        raise ValueError(f"share_budgets=true needs a {STEPS_AXIS} axis in the sweep grid")
    try:
        budgets = spec.budgets()
    except ValueError as error:
        raise ValueError(f"share_budgets=true needs integer {STEPS_AXIS} values: {error}") from error
    for job in spec.jobs():
        job_overrides = (f"{key}={value}" for key, value in job.items())
        train_cfg = compose_train([f"hydra/launcher={spec.launcher}", *spec.fixed, *job_overrides])
        if train_cfg.get("scheduler"):
            raise ValueError(
                f"share_budgets=true is refused with scheduler={train_cfg.scheduler._target_}: the learning"
                f" rate schedule depends on {STEPS_AXIS}, so a shorter run is not a prefix of the longest;"
                " use scheduler=null or share_budgets=false"
            )
        uneven = [steps for steps in budgets if steps % train_cfg.eval_every]
        if uneven:
            raise ValueError(
                f"share_budgets=true needs every {STEPS_AXIS} to be a multiple of eval_every="
                f"{train_cfg.eval_every}; {uneven} are not"
            )
