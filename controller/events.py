"""The Prefect events about the resources served: what the controller and the drift flow emit, and what the
`reconcile-on-change` deployment's trigger reads."""

from __future__ import annotations

from typing import Literal

from prefect.events import emit_event

from ack.drift import DRIFT_FOUND, Action, ResourceCheck
from ack.kinds import KINDS, TABLE, Kind


Happening = Literal["changed", "drifted", "remediated"]


def event_name(kind: Kind, happening: Happening) -> str:
    """A resource event's name: `ackflow.table.changed` (the controller, with --emit-only, for a resource that needs
    work), `ackflow.backup.drifted` and `ackflow.table.remediated` (a drift run), ..."""
    return f"ackflow.{kind.singular}.{happening}"


CHANGED_EVENTS = frozenset(event_name(kind, "changed") for kind in KINDS.values())


def event_resource(namespace: str, name: str, kind: Kind = TABLE) -> dict[str, str]:
    """The Prefect event resource for one resource; the reconcile-on-change trigger reads its kind, namespace and
    name from the labels."""
    return {"prefect.resource.id": f"ackflow.{kind.singular}.{namespace}.{name}",
            "prefect.resource.name": f"{namespace}/{name}",
            "ackflow.kind": kind.kind, "ackflow.namespace": namespace, "ackflow.name": name}


def announce(checks: list[ResourceCheck]) -> None:
    """`ackflow.<kind>.drifted` for each check that found drift, and `.remediated` for what was fixed: Prefect events,
    so that an automation (a notification) can follow drift and remediation."""
    for check in checks:
        if check.drift_class in DRIFT_FOUND:
            announce_drift(check)
            announce_fixed(check)


def announce_drift(check: ResourceCheck) -> None:
    emit_event(event=event_name(KINDS[check.kind], "drifted"), resource=_checked(check),
               payload={"class": check.drift_class.value, "differences": [d.path for d in check.differences]})


def announce_fixed(check: ResourceCheck, **more: str) -> list[str]:
    """`.remediated` with the paths the check's actions fixed (none: no event); those paths."""
    fixed = [path for path, (action, _) in check.actions.items() if action == Action.REMEDIATED]
    if fixed:
        emit_event(event=event_name(KINDS[check.kind], "remediated"), resource=_checked(check),
                   payload={"fixed": fixed, **more})
    return fixed


def _checked(check: ResourceCheck) -> dict[str, str]:
    return event_resource(check.namespace, check.name, KINDS[check.kind]) | {"ackflow.table-name": check.table}
