"""The project's Prefect deployments, defined once: `python -m deployments serve` serves these, and
prefect.yaml mirrors them for `prefect deploy --all` (tests/unit/test_deployment_definitions.py keeps both in step).

- `drift`: every ACKFLOW_DRIFT_INTERVAL_SECONDS (default 10 hours, as ACK's resync period), one run at a time (the
  drift lease: a deployment concurrency limit would hold back a sharded run's own shards, runs of it too).
- `bootstrap`, `teardown`, `apply`, `reconcile`: started from the UI, with a typed form.
- `reconcile-on-change`: the reconcile flow, started by each `ackflow.table.changed` event the watch emits.
"""

from __future__ import annotations

import os

from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.events import DeploymentEventTrigger

from flows.apply import apply
from flows.bootstrap import bootstrap
from flows.drift import drift
from flows.reconcile import reconcile
from flows.teardown import teardown
from controller.events import CHANGED_EVENTS

DRIFT_INTERVAL_ENV = "ACKFLOW_DRIFT_INTERVAL_SECONDS"
DEFAULT_DRIFT_INTERVAL_SECONDS = 36000
TAGS = ["ackflow"]


def drift_interval_seconds(value: str | int | None = None) -> int:
    """The drift schedule's interval: `value`, else ACKFLOW_DRIFT_INTERVAL_SECONDS, else 36000."""
    raw = value if value is not None else os.environ.get(DRIFT_INTERVAL_ENV) or DEFAULT_DRIFT_INTERVAL_SECONDS
    where = f"the drift interval (--drift-interval or {DRIFT_INTERVAL_ENV})"
    try:
        seconds = int(raw)
    except ValueError:
        raise ValueError(f"{where}: {raw!r} is not a whole number of seconds") from None
    if seconds < 60:
        raise ValueError(f"{where}: {seconds} s is too short; at least 60 s")
    return seconds


def table_changed_trigger() -> DeploymentEventTrigger:
    """Each `ackflow.<kind>.changed` event (ackflow.table.changed, ...) starts one reconcile run for the resource
    the event names."""
    return DeploymentEventTrigger(
        name="reconcile on ackflow.table.changed",
        expect=set(CHANGED_EVENTS),
        match={"prefect.resource.id": sorted(f"{event.rsplit('.', 1)[0]}.*" for event in CHANGED_EVENTS)},
        parameters={"kind": "{{ event.resource['ackflow.kind'] }}",
                    "namespace": "{{ event.resource['ackflow.namespace'] }}",
                    "name": "{{ event.resource['ackflow.name'] }}"},
    )


def deployments(drift_interval: int | None = None) -> list[RunnerDeployment]:
    # Module paths, not file paths: the runner then loads the flows whatever its working directory.
    def deployment(flow, name: str, **options) -> RunnerDeployment:
        return flow.to_deployment(name, tags=TAGS, entrypoint_type=EntrypointType.MODULE_PATH, **options)

    return [
        deployment(drift, "drift", interval=drift_interval_seconds(drift_interval),
                   description="Drift detection and remediation for every Table resource, on a schedule"),
        deployment(bootstrap, "bootstrap", description="The getting-started checklist"),
        deployment(teardown, "teardown", description="Remove what the bootstrap made, in reverse order"),
        deployment(apply, "apply", description="Apply Table manifests and reconcile them until synced"),
        deployment(reconcile, "reconcile", description="Reconcile the Table resources already in the cluster"),
        deployment(reconcile, "reconcile-on-change", triggers=[table_changed_trigger()],
                   description="Reconcile one Table resource when the watch reports a change"),
    ]
