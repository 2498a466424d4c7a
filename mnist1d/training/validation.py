"""Refuse a bad training config before any work, naming every bad field, its value and what is allowed.

The fields are checked against rule tables (mnist1d/rules.py says how to add one): `RULES` below for the
run's own keys (`RUN_RULES`: those eval.py shares), `TRAINER_RULES` (engine/plan.py) for the Lightning
Trainer's; the data's arguments are checked by `DatasetConfig` and `MNIST1DDataModule` when the DataModule
is built. What no single field's rule can see is checked beside the tables (`config_problems`): keys that no
component reads, arguments a component does not take, numbers that are infinite or overflow. Then the model
and optimizer are built on the CPU and probed with one tiny forward/backward pass, so that errors only torch
would find (a sequence too short for an architecture, a bad optimizer argument) surface here instead of
mid-run. Nothing is written: no dataset is generated or cached, no checkpoint loaded, no output file created.
The commands run `validate` before Hydra creates the run directory (mnist1d/preflight.py), so a refused run
leaves no directory behind.
"""

from __future__ import annotations

import inspect
import math
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.accelerators import AcceleratorRegistry, CUDAAccelerator, MPSAccelerator

from mnist1d.config.compose import TRAIN_CONF, root_keys
from mnist1d.errors import ConfigError
from mnist1d.preflight import creatable_dir
from mnist1d.rules import Rule, is_int, is_number, one_of, problems
from mnist1d.training.datamodule import MNIST1DDataModule
from mnist1d.training.engine import MAX_STEPS, TRAINER_RULES, make_plan
from mnist1d.training.eval_norm import EVAL_NORMS, net_config
from mnist1d.training.loggers import WANDB_MODES, wandb_option_problems

LONGEST_PROBED_LENGTH = 256  # search bound for an architecture's minimum sequence length
PRECISIONS = ("32-true", "32", "64-true", "64", "bf16-mixed", "bf16-true", "16-true")
MAX_THREADS = 1024  # torch accepts more, then crashes on exit
RUN_NAME_LENGTH = 200  # the run directory's name adds a time stamp; file names end at 255 bytes
# Nodes whose keys are Hydra's instructions to `instantiate`, not the target's arguments.
INSTANTIATE_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}
# Components built from a `_target_` (nodes of several, like callbacks and logger, list them one level down).
COMPONENTS = ("data", "model", "optimizer", "scheduler", "trainer")
# Keys of a component's config that the framework reads itself, never passed to its callable.
FRAMEWORK_KEYS = {"model": frozenset({"eval_norm"})}  # mnist1d/training/eval_norm.py
COMPONENT_GROUPS = ("callbacks", "logger")


def readable_checkpoint(path: Any) -> bool:
    """A torch checkpoint (a zip archive) that this process may read; the file is not loaded."""
    path = Path(str(path))
    return path.is_file() and os.access(path, os.R_OK) and zipfile.is_zipfile(path)


def is_finite(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


def is_run_name(value: Any) -> bool:
    """A run directory's name: one path component (no `/`), short enough for a file name."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= RUN_NAME_LENGTH
        and "/" not in value
        and "\0" not in value
    )


def accelerator_available(name: Any) -> bool:
    """`auto`, or an accelerator that Lightning knows and this machine has (`gpu`: CUDA or MPS)."""
    if name == "auto":
        return True
    if name == "gpu":
        return CUDAAccelerator.is_available() or MPSAccelerator.is_available()
    return name in AcceleratorRegistry and AcceleratorRegistry[name]["accelerator"].is_available()


ACCELERATORS = (
    f"auto, gpu or {one_of(sorted(AcceleratorRegistry.available_accelerators()))} that this machine has"
)
RUN_NAME = f"1-{RUN_NAME_LENGTH} characters without '/'"
# The fields of every command that runs a model (train.py and eval.py).
RUN_RULES = (
    Rule("trainer.accelerator", ACCELERATORS, accelerator_available, required=True),
    Rule("seed", "an integer in [0, 2**32)", lambda v: is_int(v) and 0 <= v < 2**32, required=True),
    Rule(
        "num_threads",
        f"null (torch's default) or an integer in [1, {MAX_THREADS}]",
        lambda v: v is None or (is_int(v) and 1 <= v <= MAX_THREADS),
    ),
    Rule("run_name", RUN_NAME, is_run_name, required=True),
    Rule("data.cache_dir", "a directory, or a path where one can be created", creatable_dir, required=True),
)
RULES = (
    Rule("eval_every", "an integer >= 1", lambda v: is_int(v) and v >= 1, required=True),
    Rule("trainer.log_every_n_steps", "an integer >= 0", lambda v: is_int(v) and v >= 0, required=True),
    Rule("chunk_steps", "an integer >= 1", lambda v: is_int(v) and v >= 1, required=True),
    Rule("compile", "true or false", lambda v: isinstance(v, bool), required=True),
    Rule("cuda_graphs", "auto, true or false", lambda v: v == "auto" or isinstance(v, bool)),
    Rule(
        "trainer.precision",
        f"{one_of(PRECISIONS)} (16-mixed needs loss scaling, which Classifier.training_step omits)",
        lambda v: str(v) in PRECISIONS,
        required=True,
    ),
    Rule("optimizer.lr", "a finite number > 0", lambda v: is_finite(v) and v > 0),
    Rule("skip_completed", "true or false", lambda v: isinstance(v, bool), required=True),
    Rule("model_name", RUN_NAME, is_run_name, required=True),
    *RUN_RULES,
    Rule("model.eval_norm", one_of(EVAL_NORMS), lambda v: v in EVAL_NORMS),
    Rule("protocol.accuracy", "final or best", lambda v: v in ("final", "best")),
    Rule("logger.wandb.mode", one_of(WANDB_MODES), lambda v: v in WANDB_MODES),
    Rule("logger.wandb.init_timeout", "a number > 0", lambda v: is_number(v) and v > 0),
    Rule(
        "ckpt_path", "null or a readable checkpoint file", lambda v: v is None or readable_checkpoint(v), True
    ),
    *TRAINER_RULES,
)


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
    found = []
    for key, value in leaves(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)):
        if isinstance(value, float) and not math.isfinite(value):
            found.append(f"{key}={value!r} is invalid: must be a finite number")
        elif is_int(value) and not -(2**63) <= value < 2**63:
            found.append(f"{key}={value} is invalid: must be an integer of at most 64 bits (< 2**63)")
    return found


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
    except Exception as error:  # not importable, or no signature: say so before anything is built
        return [f"{key}._target_={node._target_!r} is invalid: {error}"]
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    return [
        f"{key}.{name} is not an argument of {node._target_}: see its documentation"
        for name in sorted(set(node) - set(parameters) - INSTANTIATE_KEYS - FRAMEWORK_KEYS.get(key, set()))
    ]


def config_problems(cfg: DictConfig, root: str) -> list[str]:
    """What no single field's rule can see: top-level keys no component reads, arguments a component does not
    take, numbers that are infinite or overflow (`root`: the name of the command's root config)."""
    found = unknown_keys(cfg, root)
    for key in COMPONENTS:
        found += argument_problems(cfg.get(key), key)
    for group in COMPONENT_GROUPS:
        for name, node in (cfg.get(group) or {}).items():
            found += argument_problems(node, f"{group}.{name}")
    return found + number_problems(cfg)


def unnamed(more: list[str], found: list[str]) -> list[str]:
    """The problems of `more` whose field none of `found` names (`optimizer.lr=inf` breaks its rule and the
    one for every number: it is named once)."""
    named = {problem.split("=")[0].split(" ")[0] for problem in found}
    return [problem for problem in more if problem.split("=")[0].split(" ")[0] not in named]


def length_problems(cfg: DictConfig, datamodule: MNIST1DDataModule) -> list[str]:
    """A run longer than `MAX_STEPS` optimizer steps by its epochs (max_steps and fast_dev_run have rules)."""
    steps = make_plan(cfg, datamodule.batches_per_epoch).total_steps
    if steps <= MAX_STEPS:
        return []
    epochs = cfg.trainer.max_epochs
    return [
        f"trainer.max_epochs={epochs} is invalid: {epochs} passes over the training split are {steps} "
        f"optimizer steps, more than the {MAX_STEPS} a run may take"
    ]


def _trains(cfg: DictConfig, seq_length: int, batch_size: int, num_classes: int) -> str | None:
    """None when the model and optimizer survive one step on a (batch, seq_length) input, else the error."""
    try:
        net = instantiate(net_config(cfg.model), seq_length=seq_length, num_classes=num_classes).train()
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


def probe_components(cfg: DictConfig, datamodule: MNIST1DDataModule) -> list[str]:
    """Probe the model and optimizer on the CPU with the DataModule's input size."""
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


def validate(cfg: DictConfig) -> MNIST1DDataModule:
    """Raise `ConfigError` listing every problem of `cfg`, before anything is trained or written; return the
    DataModule it built on the way (no data loaded yet), which the run then uses."""
    found = problems(RULES, cfg)
    found += unnamed(config_problems(cfg, "train"), found)
    if OmegaConf.select(cfg, "logger.wandb"):
        found += wandb_option_problems(cfg.logger.wandb)
    if not found:
        try:
            datamodule = instantiate(cfg.data)
        except Exception as error:  # the DataModule's and DatasetConfig's rules, or an unknown argument
            found = [f"data: {error}"]
        else:
            found = length_problems(cfg, datamodule) or probe_components(cfg, datamodule)
    if found:
        raise ConfigError(found)
    return datamodule
