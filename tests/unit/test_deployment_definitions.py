"""The deployment definitions without a server: names, schedules, the concurrency limit, the interval
override, the UI forms, the watch's trigger, and prefect.yaml agreeing with all of it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prefect.events.schemas.events import Resource
from prefect.server.events.schemas.events import Event
from prefect.server.utilities.user_templates import render_user_template_sync

from deployments.definitions import (
    DEFAULT_DRIFT_INTERVAL_SECONDS,
    DRIFT_INTERVAL_ENV,
    deployments,
    drift_interval_seconds,
    table_changed_trigger,
)
from ack.kinds import KINDS
from controller.events import event_name, event_resource

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"
NAMES = {"drift", "bootstrap", "teardown", "apply", "reconcile", "reconcile-on-change"}


@pytest.fixture
def by_name(monkeypatch):
    monkeypatch.delenv(DRIFT_INTERVAL_ENV, raising=False)
    return {d.name: d for d in deployments()}


def _intervals(deployment) -> list[timedelta]:
    return [s.schedule.interval for s in deployment.schedules]


def test_every_deployment_is_defined_once_with_a_module_entrypoint(by_name):
    assert set(by_name) == NAMES
    assert by_name["drift"].entrypoint == "flows.drift.drift"
    assert by_name["reconcile-on-change"].entrypoint == "flows.reconcile.reconcile"


def test_drift_runs_every_ten_hours_and_no_deployment_is_limited(by_name):
    """One drift run at a time is the drift lease's work (tests/integration/test_sharded_drift.py): a concurrency
    limit on the deployment would hold back a sharded run's own shards."""
    assert DEFAULT_DRIFT_INTERVAL_SECONDS == 36000
    assert _intervals(by_name["drift"]) == [timedelta(seconds=36000)]
    for name in NAMES:
        assert by_name[name].concurrency_limit is None, name
    for name in NAMES - {"drift"}:  # started from the UI (or by the trigger) only
        assert by_name[name].schedules == []


def test_the_drift_interval_comes_from_the_environment_or_the_option(monkeypatch):
    monkeypatch.setenv(DRIFT_INTERVAL_ENV, "7200")
    [drift] = [d for d in deployments() if d.name == "drift"]
    assert _intervals(drift) == [timedelta(seconds=7200)]
    [drift] = [d for d in deployments(drift_interval=900) if d.name == "drift"]  # --drift-interval wins
    assert _intervals(drift) == [timedelta(seconds=900)]


@pytest.mark.parametrize("bad", ["ten hours", "0", "-5", "59"])
def test_a_bad_drift_interval_is_refused_with_the_variable_named(bad):
    with pytest.raises(ValueError, match=DRIFT_INTERVAL_ENV):
        drift_interval_seconds(bad)


def test_the_ui_forms_describe_every_parameter_and_default_all_but_the_manifests(by_name):
    for name, deployment in by_name.items():
        schema = deployment._parameter_openapi_schema.model_dump()
        assert schema.get("required", []) == (["manifests"] if name == "apply" else []), name
        for field in schema["definitions"]["Connection"]["properties"].values():
            assert field["description"] and "default" in field, name
        for parameter, spec in schema["properties"].items():
            assert spec.get("description"), f"{name}: {parameter} has no description"


@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda kind: kind.kind)
def test_a_changed_event_starts_reconcile_for_the_resource_it_names(kind):
    trigger = table_changed_trigger()
    assert trigger.expect == {"ackflow.table.changed", "ackflow.backup.changed", "ackflow.fieldexport.changed"}
    event = Event(occurred="2026-01-01T00:00:00Z", event=event_name(kind, "changed"),
                  resource=event_resource("team-a", "orders", kind), id="00000000-0000-0000-0000-000000000001")
    assert event.event in trigger.expect
    assert trigger.match.matches(Resource(event_resource("team-a", "orders", kind)))
    assert not trigger.match.matches(Resource({"prefect.resource.id": "prefect.flow-run.1"}))
    rendered = {key: render_user_template_sync(template, {"event": event})
                for key, template in trigger.parameters.items()}
    assert rendered == {"kind": kind.kind, "namespace": "team-a", "name": "orders"}


def test_prefect_yaml_mirrors_the_definitions(by_name):
    config = yaml.safe_load(PREFECT_YAML.read_text())
    deployed = {d["name"]: d for d in config["deployments"]}
    assert set(deployed) == set(by_name)
    for name, spec in deployed.items():
        assert spec["entrypoint"] == by_name[name].entrypoint, name
        assert spec["description"] == by_name[name].description, name
        assert spec["tags"] == by_name[name].tags, name
        assert spec.get("concurrency_limit") == by_name[name].concurrency_limit, name
        assert [timedelta(seconds=s["interval"]) for s in spec["schedules"]] == _intervals(by_name[name]), name
    [yaml_trigger] = deployed["reconcile-on-change"]["triggers"]
    code_trigger = table_changed_trigger()
    assert set(yaml_trigger["expect"]) == code_trigger.expect
    assert yaml_trigger["match"] == code_trigger.match.model_dump()
    assert yaml_trigger["parameters"] == code_trigger.parameters
