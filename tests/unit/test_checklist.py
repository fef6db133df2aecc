"""The checklist's declaration (flows/checklist.py), read without running it: every need is a step declared before
it, teardown waits for everything that needs a step, and a service turned off takes its steps with it."""

from __future__ import annotations

import pytest

from bootstrap.config import DEFAULT_CONFIG, load_config
from flows.checklist import CHECKLIST, _needing, enabled_steps

NAMES = [step.name for step in CHECKLIST]


def test_step_names_are_unique() -> None:
    assert len(NAMES) == len(set(NAMES))


@pytest.mark.parametrize("step", CHECKLIST, ids=lambda step: step.name)
def test_a_step_needs_only_steps_declared_before_it(step) -> None:
    earlier = NAMES[:NAMES.index(step.name)]
    assert [need for need in step.needs if need not in earlier] == []


def test_only_the_account_needs_nothing() -> None:
    assert [step.name for step in CHECKLIST if not step.needs] == ["account"]


def test_what_is_only_read_has_nothing_to_remove() -> None:
    assert [step.name for step in CHECKLIST if step.remove is None] == ["account", "cluster"]


def test_teardown_waits_for_everything_that_needs_a_step_directly_or_through_others() -> None:
    assert _needing("vpc", CHECKLIST) >= {"subnets", "security groups", "eks cluster", "msk", "ebs", "efs",
                                          "cluster", "tables", "sample app"}
    assert _needing("eks cluster", CHECKLIST) == {"eks nodegroup", "cluster", "tables", "table exports",
                                                   "cluster manifests", "sample app"}
    assert _needing("sample app", CHECKLIST) == set()


def test_a_service_turned_off_takes_its_steps_and_leaves_the_needs_of_the_rest_met() -> None:
    config = load_config(DEFAULT_CONFIG)
    off = config.model_copy(update={
        "docdb": config.docdb.model_copy(update={"enabled": False}),
        "codepipeline": config.codepipeline.model_copy(update={"enabled": False}),
        "ecr": config.ecr.model_copy(update={"enabled": False})})
    names = [step.name for step in enabled_steps(off)]
    assert {"docdb cluster", "docdb instances", "build projects", "pipeline", "ecr", "sample app"}.isdisjoint(names)
    assert {"vpc", "eks cluster", "tables", "cluster manifests"} <= set(names)
