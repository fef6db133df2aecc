"""The Prefect events about Table resources: what the controller and the drift flow emit, and what the
`reconcile-on-change` deployment's trigger reads."""

from __future__ import annotations

TABLE_CHANGED = "ackflow.table.changed"
TABLE_DRIFTED = "ackflow.table.drifted"
TABLE_REMEDIATED = "ackflow.table.remediated"


def table_resource(namespace: str, name: str) -> dict[str, str]:
    """The Prefect event resource for one Table resource; the reconcile-on-change trigger reads the namespace
    and name from its labels."""
    return {"prefect.resource.id": f"ackflow.table.{namespace}.{name}", "prefect.resource.name": f"{namespace}/{name}",
            "ackflow.namespace": namespace, "ackflow.name": name}
