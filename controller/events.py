"""The Prefect events about the resources served: what the controller and the drift flow emit, and what the
`reconcile-on-change` deployment's trigger reads."""

from __future__ import annotations

from typing import Literal

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
