"""Refuse a bad training config before any work, naming every bad field, its value and what is allowed.

Scalar fields are checked against a declarative schema (`RULES`), the whole config against what no
component can use (`config_problems`: keys no component reads, arguments a component does not take, numbers
that are infinite or overflow); components are then built on the CPU and probed with one tiny
forward/backward pass, so that errors only torch would find (a sequence too short for an architecture, a bad
optimizer argument) surface here as a `ConfigError` instead of mid-run. Nothing is written: no dataset is
generated or cached, no checkpoint loaded, no output file created. The commands run `validate` before Hydra
creates the run directory (mnist1d/preflight.py), so a refused run leaves no directory behind.
"""

from __future__ import annotations

import inspect
import math
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.accelerators import AcceleratorRegistry, CUDAAccelerator, MPSAccelerator

from mnist1d.dataset_config import is_int
from mnist1d.training.compose import TRAIN_CONF, root_keys
from mnist1d.training.loggers import WANDB_MODES, wandb_option_problems
from mnist1d.training.plan import MAX_STEPS, make_plan, refusals

LONGEST_PROBED_LENGTH = 256  # search bound for an architecture's minimum sequence length
_ABSENT = object()


class ConfigError(ValueError):
    """A training config that cannot run; the message lists every problem found, the first one per field
    (each starts with the field's key: `key=value is invalid: ...`)."""

    def __init__(self, problems: list[str]) -> None:
        fields = [re.split(r"[= ]", problem, maxsplit=1)[0] for problem in problems]
        problems = [problem for index, problem in enumerate(problems) if fields[index] not in fields[:index]]
        self.problems = problems
        super().__init__("invalid training config:\n  - " + "\n  - ".join(problems))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


MAX_THREADS = 1024  # torch accepts more, then crashes on exit
RUN_NAME_LENGTH = 200  # the run directory's name adds a time stamp; file names end at 255 bytes
PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed", "bf16-true", "16-true")


@dataclass(frozen=True)
class Rule:
    """One config field: its dotted key, what it must be (in words), the test; may it be absent."""

    key: str
    allowed: str
    ok: Callable[[Any], bool]
    required: bool = True


RULES = (
    Rule("eval_every", "an integer >= 1", lambda v: is_int(v) and v >= 1),
    Rule("trainer.log_every_n_steps", "an integer >= 0", lambda v: is_int(v) and v >= 0),
    Rule("chunk_steps", "an integer >= 1", lambda v: is_int(v) and v >= 1),
    Rule("compile", "true or false", lambda v: isinstance(v, bool)),
    Rule("cuda_graphs", "auto, true or false", lambda v: v == "auto" or isinstance(v, bool), required=False),
    Rule(
        "trainer.precision",
        f"one of {list(PRECISIONS)} (16-mixed needs loss scaling, which Classifier.training_step omits)",
        lambda v: str(v) in PRECISIONS,
    ),
    Rule("optimizer.lr", "a finite number > 0", lambda v: is_finite(v) and v > 0, required=False),
    Rule("skip_completed", "true or false", lambda v: isinstance(v, bool)),
    Rule("logger.wandb.mode", f"one of {list(WANDB_MODES)}", lambda v: v in WANDB_MODES, required=False),
    Rule("logger.wandb.init_timeout", "a number > 0", lambda v: _is_number(v) and v > 0, required=False),
    Rule("ckpt_path", "null or a readable checkpoint file", lambda v: v is None or readable_checkpoint(v)),
)


def is_run_name(value: Any) -> bool:
    """A run directory's name: one path component (no `/`), short enough for a file name."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= RUN_NAME_LENGTH
        and "/" not in value
        and "\0" not in value
    )


def creatable_dir(path: Any) -> bool:
    """An existing directory this user may write, or a path whose first existing ancestor is one (no file
    on the way); nothing is created."""
    path = Path(str(path)).absolute()
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def accelerator_available(name: Any) -> bool:
    """`auto`, or an accelerator that Lightning knows and this machine has (`gpu`: CUDA or MPS)."""
    if name == "auto":
        return True
    if name == "gpu":
        return CUDAAccelerator.is_available() or MPSAccelerator.is_available()
    return name in AcceleratorRegistry and AcceleratorRegistry[name]["accelerator"].is_available()


# The fields of every command that runs a model (train.py and eval.py).
RUN_RULES = (
    Rule(
        "trainer.accelerator",
        f"auto, gpu or one of {sorted(AcceleratorRegistry.available_accelerators())} that this machine has",
        accelerator_available,
    ),
    Rule("seed", "an integer in [0, 2**32)", lambda v: is_int(v) and 0 <= v < 2**32),
    Rule(
        "num_threads",
        f"null (torch's default) or an integer in [1, {MAX_THREADS}]",
        lambda v: v is None or (is_int(v) and 1 <= v <= MAX_THREADS),
    ),
    Rule("run_name", f"1-{RUN_NAME_LENGTH} characters without '/'", is_run_name),
    Rule("data.cache_dir", "a directory, or a path where one can be created", creatable_dir),
)
RULES += (Rule("model_name", f"1-{RUN_NAME_LENGTH} characters without '/'", is_run_name), *RUN_RULES)
# Nodes whose keys are Hydra's instructions to `instantiate`, not the target's arguments.
INSTANTIATE_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}
# Components built from a `_target_` (nodes of several, like callbacks and logger, list them one level down).
COMPONENTS = ("data", "model", "optimizer", "scheduler", "trainer")
COMPONENT_GROUPS = ("callbacks", "logger")


def readable_checkpoint(path: Any) -> bool:
    """A torch checkpoint (a zip archive) that this process may read; the file is not loaded."""
    path = Path(str(path))
    return path.is_file() and os.access(path, os.R_OK) and zipfile.is_zipfile(path)


def check_fields(cfg: DictConfig, rules: tuple[Rule, ...] = RULES) -> list[str]:
    """Problems with the scalar fields of `rules`, one message per bad field."""
    problems = []
    for rule in rules:
        value = OmegaConf.select(cfg, rule.key, default=_ABSENT)
        if value is _ABSENT:
            if rule.required:
                problems.append(f"{rule.key} is missing: must be {rule.allowed}")
        elif not rule.ok(value):
            problems.append(f"{rule.key}={value!r} is invalid: must be {rule.allowed}")
    return problems


def leaves(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every scalar of a resolved config."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from leaves(value, f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, f"{key}[{index}]")
    else:
        yield key, node


def number_problems(cfg: DictConfig) -> list[str]:
    """Numbers no component can use: infinite or NaN (`1e400` reads as inf) and integers beyond 64 bits."""
    problems = []
    for key, value in leaves(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)):
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{key}={value!r} is invalid: must be a finite number")
        elif is_int(value) and not -(2**63) <= value < 2**63:
            problems.append(f"{key}={value} is invalid: must be an integer of at most 64 bits (< 2**63)")
    return problems


def unknown_keys(cfg: DictConfig, root: str, module: str = TRAIN_CONF) -> list[str]:
    """Keys that no component reads (added with `+key=value`), refused as Hydra's struct mode refuses
    `key=value` for them: top-level keys that root config `root` of `module` does not define, and keys of
    `paths` that conf/train/paths does not."""
    known = {"": root_keys(module, root), "paths.": root_keys(TRAIN_CONF, "paths/default")}
    nodes = {"": cfg, "paths.": cfg.get("paths") or {}}
    return [
        f"{prefix}{key} is not a key of this config (added with +{prefix}{key}=...?): its keys are "
        f"{sorted(known[prefix])}"
        for prefix, node in nodes.items()
        for key in sorted(set(node) - known[prefix])
    ]


def argument_problems(node: Any, key: str) -> list[str]:
    """Keys of a `_target_` node that its callable does not take (a typo such as +trainer.max_step=5
    would otherwise fail mid-build); none for callables that take any keyword (`**kwargs`)."""
    if not isinstance(node, DictConfig) or "_target_" not in node:
        return []
    try:
        parameters = inspect.signature(get_object(node._target_)).parameters
    except Exception as error:  # not importable, or no signature: instantiate reports it in the probe
        return [f"{key}._target_={node._target_!r} is invalid: {error}"]
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    return [
        f"{key}.{name} is not an argument of {node._target_}: see its documentation"
        for name in sorted(set(node) - set(parameters) - INSTANTIATE_KEYS)
    ]


def config_problems(cfg: DictConfig, root: str) -> list[str]:
    """What no component can use: top-level keys none reads, arguments a component does not take, numbers
    that are infinite or overflow (`root`: the name of the command's root config)."""
    problems = unknown_keys(cfg, root)
    for key in COMPONENTS:
        problems += argument_problems(cfg.get(key), key)
    for group in COMPONENT_GROUPS:
        for name, node in (cfg.get(group) or {}).items():
            problems += argument_problems(node, f"{group}.{name}")
    return problems + number_problems(cfg)


def _trains(cfg: DictConfig, seq_length: int, batch_size: int, num_classes: int) -> str | None:
    """None when the model and optimizer survive one step on a (batch, seq_length) input, else the error."""
    try:
        net = instantiate(cfg.model, seq_length=seq_length, num_classes=num_classes).train()
        optimizer = instantiate(cfg.optimizer)(net.parameters())
        if cfg.get("scheduler"):
            instantiate(cfg.scheduler)(optimizer)
        loss = F.cross_entropy(
            net(torch.zeros(batch_size, seq_length)), torch.zeros(batch_size, dtype=torch.long)
        )
        loss.backward()
    except Exception as error:  # any failure of the probe is a config problem to report
        return f"{type(error).__name__}: {error}"
    return None


def check_components(cfg: DictConfig) -> list[str]:
    """Build the DataModule (no data is loaded) and probe the model and optimizer on the CPU."""
    try:
        datamodule = instantiate(cfg.data)
    except Exception as error:
        return [f"data: {error}"]
    steps = make_plan(cfg, datamodule.batches_per_epoch).total_steps
    if steps > MAX_STEPS:
        epochs = cfg.trainer.max_epochs
        return [
            f"trainer.max_epochs={epochs} is invalid: {epochs} passes over the training split are {steps} "
            f"optimizer steps, more than the {MAX_STEPS} a run may take"
        ]
    seq_length, classes, batch = datamodule.seq_length, datamodule.num_classes, min(datamodule.batch_size, 2)
    error = _trains(cfg, seq_length, batch, classes)
    if error is None:
        return []
    model = cfg.get("model_name", cfg.model.get("_target_"))
    lengths = range(seq_length + 1, LONGEST_PROBED_LENGTH + 1)
    shortest = next((n for n in lengths if _trains(cfg, n, batch, classes) is None), None)
    if shortest is None:
        return [f"model={model} with optimizer {cfg.optimizer.get('_target_')} cannot train: {error}"]
    return [
        f"data.final_seq_length={seq_length} is invalid for model={model}: must be >= {shortest} "
        f"(this architecture fails on shorter inputs: {error})"
    ]


def validate(cfg: DictConfig) -> None:
    """Raise `ConfigError` listing every problem of `cfg`, before anything is trained or written."""
    problems = check_fields(cfg) + refusals(cfg.trainer) + config_problems(cfg, "train")
    if OmegaConf.select(cfg, "logger.wandb"):
        problems += wandb_option_problems(cfg.logger.wandb)
    if not problems:
        problems = check_components(cfg)
    if problems:
        raise ConfigError(problems)
