"""A config read back from a file is data: it names code only where an allowlist here says so.

Hydra's `instantiate` calls whatever a `_target_` names, with arguments that may hold more `_target_`s, and
OmegaConf resolves `${...}` interpolations through resolvers; Hydra's own blocklist of dangerous callables
is best effort. Configs you pass (command-line overrides, your config files) are trusted as they are. A
config read back from a file (a checkpoint's hyperparameters, a sweep's sweep.json) is trusted with
nothing (a run's results.json is read as plain values, never resolved or built):

- a `_target_` only where the schema has one, the net, the optimizer and the scheduler, each resolved
  against an allowlist: a class of a module of `mnist1d.models` (or a net registered with `register_net`),
  a `torch.optim` optimizer, a `torch.optim.lr_scheduler` scheduler; `_partial_: true` beside the last two;
- none of Hydra's special keys (`_target_`, `_partial_`, `_args_`, ...) anywhere inside their arguments, and
  no interpolation anywhere;
- a report function only from a module of `mnist1d.reports`, by name.

Anything else is refused with `UntrustedFileError`, naming the file and the key, before anything is built.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from typing import Any

SPECIAL_KEYS = frozenset({"_target_", "_partial_", "_args_", "_recursive_", "_convert_"})
MODELS_PACKAGE, REPORTS_PACKAGE = "mnist1d.models", "mnist1d.reports"
REPORT_SUFFIX = "_report"  # the report functions' names: `<kind>_report(sweep_dir, rows, cfg)`
_registered_nets: set[str] = set()


class UntrustedFileError(ValueError):
    """A file read back names code, or holds an interpolation, where it may not; nothing was built."""

    def __init__(self, source: object, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}{problem} (a file read back is data: README, Security model)")


def register_net(net: type | str) -> None:
    """Let files name `net` (a class, or its dotted path) as a net: for your own architectures outside
    `mnist1d.models`. Registration is code you run, never something a file can do."""
    _registered_nets.add(net if isinstance(net, str) else f"{net.__module__}.{net.__qualname__}")


def _package_modules(package: str) -> set[str]:
    found = importlib.import_module(package).__path__
    return {f"{package}.{module.name}" for module in pkgutil.iter_modules(found)}


def _defined_in_package(target: str, package: str) -> Any:
    """The object `<package>.<module>.<name>` when `<name>` is defined in that module itself (not imported
    into it, so `mnist1d.models.cnn.os.system` is no way out), else None. Only the package's own modules
    are imported."""
    module_name, _, name = target.rpartition(".")
    if module_name not in _package_modules(package) or name.startswith("_"):
        return None
    found = getattr(importlib.import_module(module_name), name, None)
    return found if getattr(found, "__module__", None) == module_name else None


def _is_net(target: str) -> bool:
    from torch import nn

    if target in _registered_nets:
        return True
    found = _defined_in_package(target, MODELS_PACKAGE)
    return inspect.isclass(found) and issubclass(found, nn.Module)


def _is_torch_class(target: str, module_name: str, base: Callable[[], tuple[type, ...]]) -> bool:
    """`<module_name>.<Class>` where the class is one of `base()`'s subclasses."""
    prefix, _, name = target.rpartition(".")
    if prefix != module_name or name.startswith("_"):
        return False
    found = getattr(importlib.import_module(module_name), name, None)
    return inspect.isclass(found) and issubclass(found, base())


def _is_optimizer(target: str) -> bool:
    import torch

    return _is_torch_class(target, "torch.optim", lambda: (torch.optim.Optimizer,))


def _is_scheduler(target: str) -> bool:
    from torch.optim import lr_scheduler

    bases = lambda: (lr_scheduler.LRScheduler, lr_scheduler.ReduceLROnPlateau)  # noqa: E731
    return _is_torch_class(target, "torch.optim.lr_scheduler", bases)


# The components a config may instantiate: the allowlist of each, in words and as a test; may it be partial.
COMPONENTS: dict[str, tuple[str, Callable[[str], bool], bool]] = {
    "net": (f"a class of {MODELS_PACKAGE}.<module> or a registered net", _is_net, False),
    "optimizer": ("a torch.optim optimizer", _is_optimizer, True),
    "scheduler": ("a torch.optim.lr_scheduler scheduler", _is_scheduler, True),
}


def check_data(value: Any, key: str, source: object) -> None:
    """`value` is plain data: no Hydra special key at any depth, no `${...}` interpolation in any string."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            if name in SPECIAL_KEYS:
                raise UntrustedFileError(
                    source, f"{key}.{name}", " is not allowed: it would name code to run"
                )
            check_data(item, f"{key}.{name}", source)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_data(item, f"{key}[{index}]", source)
    elif isinstance(value, str) and "${" in value:
        raise UntrustedFileError(
            source, key, f"={value!r} is not allowed: interpolations are resolved by code"
        )


def check_component(node: Any, key: str, source: object, trusted: Iterable[str] = ()) -> None:
    """The net, optimizer or scheduler config at `key`: its `_target_` allowed (or one of `trusted`, the
    targets of the config you passed), `_partial_` only where that component takes it, plain data as its
    arguments."""
    allowed, test, partial = COMPONENTS[key]
    if not isinstance(node, Mapping) or not isinstance(node.get("_target_"), str):
        raise UntrustedFileError(source, key, " is not allowed: must be a mapping with a _target_")
    for name, value in node.items():
        if name == "_target_":
            if value not in trusted and not test(value):
                raise UntrustedFileError(
                    source, f"{key}._target_", f"={value!r} is not allowed: must be {allowed}"
                )
        elif name == "_partial_" and partial and isinstance(value, bool):
            continue
        else:
            check_data({name: value}, key, source)


def check_hyperparameters(hparams: Mapping[str, Any], source: object, trusted: Iterable[str] = ()) -> None:
    """A checkpoint's hyperparameters (the Classifier's): components allowed, everything else plain data."""
    trusted = tuple(trusted)
    for key, value in hparams.items():
        if key in COMPONENTS and value is not None:
            check_component(value, key, source, trusted)
        else:
            check_data(value, key, source)


def check_read_back(config: Mapping[str, Any], source: object) -> None:
    """A config read back from a record (a run's results.json, a sweep's sweep.json): the one thing in it that
    code calls, a sweep's `report_fn`, must be a report function; everything else is read as plain values,
    never resolved or built (a run's config keeps the `_target_`s of the config it was given)."""
    if "report_fn" in config:
        report_function(config["report_fn"], source)


def report_function(name: Any, source: object) -> Callable[..., Any]:
    """The report function `name` (`mnist1d.reports.<module>.<kind>_report`), imported only from there."""
    found = _defined_in_package(name, REPORTS_PACKAGE) if isinstance(name, str) else None
    if not (inspect.isfunction(found) and name.endswith(REPORT_SUFFIX)):
        raise UntrustedFileError(
            source, "report_fn", f"={name!r} is not allowed: must be a function {REPORTS_PACKAGE}.<module>."
            f"<name>{REPORT_SUFFIX}"
        )  # fmt: skip
    return found
