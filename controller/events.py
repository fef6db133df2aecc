"""The Prefect events about the resources served: what the controller and the drift flow emit, and what the
`reconcile-on-change` deployment's trigger reads."""

from __future__ import annotations

from ack.kinds import KINDS, TABLE, Kind



def changed_event(kind: Kind) -> str:
    """The event the controller emits (with --emit-only) when a resource of `kind` needs work."""
    return f"ackflow.{kind.singular}.changed"


def drifted_event(kind: Kind) -> str:
    """The event a drift run emits for a resource found drifted (`ackflow.table.drifted`, ...)."""
    return f"ackflow.{kind.singular}.drifted"


def remediated_event(kind: Kind) -> str:
    """The event a drift run emits for a resource it remediated."""
    return f"ackflow.{kind.singular}.remediated"


TABLE_CHANGED = changed_event(TABLE)
CHANGED_EVENTS = frozenset(changed_event(kind) for kind in KINDS.values())


def event_resource(namespace: str, name: str, kind: Kind = TABLE) -> dict[str, str]:
    """The Prefect event resource for one resource; the reconcile-on-change trigger reads its kind, namespace and
    name from the labels."""
    return {"prefect.resource.id": f"ackflow.{kind.singular}.{namespace}.{name}",
            "prefect.resource.name": f"{namespace}/{name}",
            "ackflow.kind": kind.kind, "ackflow.namespace": namespace, "ackflow.name": name}
