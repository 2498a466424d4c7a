"""One way to check a config: a table of rules, one line each, and one function that applies a table.

A rule names a field by its dotted key, says in words what the field must be, and tests its value:

    Rule("eval_every", "an integer >= 1", lambda v: is_int(v) and v >= 1),

`problems(rules, values)` applies a table to a config (a DictConfig, a dict, a dataclass or any object with
the fields as attributes) and returns one message per broken rule, always in the same form, which names the
field, its value and what is allowed:

    eval_every=0 is invalid: must be an integer >= 1
    eval_every is missing: must be an integer >= 1                     (`required=True` and no such key)
    trainer.min_epochs is not supported here: set min_steps instead    (`Refused`: a key that may not be set)
    trainer.max_steps=-1 with trainer.max_epochs=-1 would train forever: set either   (`Together`)

`refuse(rules, values)` raises the first problem as a `ValueError` (or the error type given), as a
constructor does; training collects every problem of its config at once (`ConfigError`).

Adding a rule is adding one line to the table of the config that has the field:

- train.py and eval.py: `RULES` in mnist1d/training/validation.py; the Lightning Trainer options:
  `TRAINER_RULES` in mnist1d/training/engine/plan.py
- the data: the generator's arguments in `DATASET_RULES` (mnist1d/dataset_config.py), how they are served
  in `SERVING_RULES` (mnist1d/training/datamodule.py)
- a net's own arguments: its constructor, as in mnist1d/models/pool_cnn.py
- sweep.py: `SWEEP_RULES` in mnist1d/sweeps/launch.py
- an app: `RULES` at the top of mnist1d/apps/<name>.py (the human benchmark's: mnist1d/apps/human/app.py)

A test that cannot be one field's (an architecture too long for its input, a learning rate that diverges)
stays a function beside its table, and returns its problems in the same form.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ABSENT = object()  # a key the config does not have


def is_int(value: Any) -> bool:
    """Integers (Python or numpy) but not bools: a float count or seed would fail deep inside numpy."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Integers or floats (Python or numpy) but not bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def one_of(choices: Iterable[Any]) -> str:
    """`one of [...]`: the words of a rule whose field takes one of a few values."""
    return f"one of {list(choices)}"


@dataclass(frozen=True)
class Rule:
    """A field that must pass `ok`; `allowed` says what it must be (the message's end)."""

    key: str
    allowed: str
    ok: Callable[[Any], bool]
    required: bool = False

    def problem(self, values: Any, prefix: str) -> str | None:
        value = lookup(values, self.key)
        if value is ABSENT:
            return f"{prefix}{self.key} is missing: must be {self.allowed}" if self.required else None
        try:
            ok = self.ok(value)
        except TypeError:  # a value of another type than the test expects (a string for a number)
            ok = False
        return None if ok else f"{prefix}{self.key}={value!r} is invalid: must be {self.allowed}"


@dataclass(frozen=True)
class Refused:
    """A key that may not be set at all; `why` says what to do instead."""

    key: str
    why: str

    def problem(self, values: Any, prefix: str) -> str | None:
        if lookup(values, self.key) is ABSENT:
            return None
        return f"{prefix}{self.key} is not supported here: {self.why}"


@dataclass(frozen=True)
class Together:
    """Fields that are each valid but wrong together: `ok` gets their values (absent ones as None) in the
    order of `keys`; `why` ends the message that names them all. Checked only when none of these fields
    broke a rule of its own, and not at all when the field `unless` is set and true."""

    keys: tuple[str, ...]
    why: str
    ok: Callable[..., bool]
    unless: str | None = None

    def problem(self, values: Any, prefix: str) -> str | None:
        if self.unless is not None and lookup(values, self.unless) not in (ABSENT, None, False):
            return None
        found = [lookup(values, key) for key in self.keys]
        found = [None if value is ABSENT else value for value in found]
        if self.ok(*found):
            return None
        named = " with ".join(f"{prefix}{key}={value!r}" for key, value in zip(self.keys, found, strict=True))
        return f"{named} {self.why}"


Check = Rule | Refused | Together


def lookup(values: Any, key: str) -> Any:
    """The value at a dotted key of a mapping (a DictConfig too) or an object's attributes, or `ABSENT`."""
    node = values
    for part in key.split("."):
        if isinstance(node, Mapping):
            if part not in node:  # a DictConfig's mandatory `???` counts as absent
                return ABSENT
            node = node[part]
        elif hasattr(node, part):
            node = getattr(node, part)
        else:
            return ABSENT
    return node


def problems(rules: Iterable[Check], values: Any, prefix: str = "") -> list[str]:
    """One message per broken rule of `rules`, in table order (`prefix` goes before every key)."""
    found, bad_keys = [], set()
    for rule in rules:
        if isinstance(rule, Together) and bad_keys.intersection(rule.keys):
            continue
        problem = rule.problem(values, prefix)
        if problem is not None:
            found.append(problem)
            bad_keys.add(getattr(rule, "key", None))
    return found


def refuse(
    rules: Iterable[Check], values: Any, prefix: str = "", error: Callable[[str], Exception] = ValueError
) -> None:
    """Raise `error` with the first broken rule's message, if any."""
    found = problems(rules, values, prefix)
    if found:
        raise error(found[0])
