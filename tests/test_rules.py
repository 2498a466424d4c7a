"""The one way configs are checked: rule tables whose messages name the field, its value, what is allowed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from omegaconf import OmegaConf

from mnist1d.rules import Refused, Rule, Together, is_int, problems, refuse

TABLE = (
    Rule("steps", "an integer >= 1", lambda v: is_int(v) and v >= 1, required=True),
    Rule("trainer.lr", "a number > 0", lambda v: v > 0),
    Refused("trainer.epochs", "set steps instead"),
    Together(
        ("steps", "trainer.limit"),
        "is too many: steps must not exceed the limit",
        lambda steps, limit: limit is None or steps <= limit,  # an absent field's value is None
    ),
)


@pytest.mark.parametrize(
    "values",
    [
        {"steps": 20, "trainer": {"lr": 0.1, "limit": 10}},
        OmegaConf.create({"steps": 20, "trainer": {"lr": 0.1, "limit": 10}}),
    ],
    ids=["dict", "DictConfig"],
)
def test_a_table_names_every_broken_rule_in_one_form(values):
    assert problems(TABLE, values) == [
        "steps=20 with trainer.limit=10 is too many: steps must not exceed the limit"
    ]
    values["steps"], values["trainer"]["lr"], values["trainer"]["epochs"] = 0, "fast", 3
    assert problems(TABLE, values, prefix="cfg.") == [
        "cfg.steps=0 is invalid: must be an integer >= 1",  # (the relation is skipped: steps is bad)
        "cfg.trainer.lr='fast' is invalid: must be a number > 0",  # a type the test cannot compare
        "cfg.trainer.epochs is not supported here: set steps instead",
    ]


def test_absent_fields_are_skipped_unless_required_and_a_mandatory_value_is_absent():
    assert problems(TABLE, {"steps": 1}) == []
    assert problems(TABLE, {}) == ["steps is missing: must be an integer >= 1"]
    assert problems(TABLE, OmegaConf.create({"steps": "???"})) == [
        "steps is missing: must be an integer >= 1"
    ]


def test_a_relation_is_moot_when_its_unless_field_is_set():
    forever = Together(("max_steps",), "would train forever", lambda steps: steps != -1, unless="debug")
    assert problems([forever], {"max_steps": -1}) == ["max_steps=-1 would train forever"]
    assert problems([forever], {"max_steps": -1, "debug": 0}) == ["max_steps=-1 would train forever"]
    assert problems([forever], {"max_steps": -1, "debug": True}) == []


def test_refuse_raises_the_first_problem_as_the_given_error_and_reads_dataclasses():
    @dataclass
    class Settings:
        steps: int
        trainer: dict

    class SettingError(ValueError):
        pass

    refuse(TABLE, Settings(steps=5, trainer={"lr": 1.0}))
    with pytest.raises(SettingError, match=r"^steps=-1 is invalid: must be an integer >= 1$"):
        refuse(TABLE, Settings(steps=-1, trainer={"lr": -1.0}), error=SettingError)
