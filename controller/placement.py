"""Where a resource's AWS calls go, read from the cluster: its namespace's annotations, ACK's role maps (only when the
namespace names an account or team) and the controller's own account; decided by ack.placement."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from ack.kinds import Key
from ack.lifecycle import Refuse
from ack.placement import Placement, RoleMaps, moved, needs_role_maps, place
from ack.resource import annotations_of
from tasks.connections import Target, aws_regions, caller_account
from tasks.kube_tables import role_maps


def placement(target: Target, raw: dict[str, Any], namespace_annotations: dict[str, str], controller_namespace: str,
              maps: RoleMaps | None = None) -> Target | Refuse:
    """`target` pointed at the region and account of the resource `raw` (whose namespace has
    `namespace_annotations`); ACK's refusal when it cannot be, or when its AWS resource exists elsewhere (its status
    records where). `maps`: the role maps, when the caller read them already (a drift run reads them once)."""
    if maps is None:
        maps = role_maps(target, controller_namespace) if needs_role_maps(namespace_annotations) \
            else RoleMaps(controller_namespace)
    placed = place(annotations_of(raw), namespace_annotations, maps, target.region, aws_regions())
    if isinstance(placed, Refuse):
        return placed
    if placed.role_arn is None:
        placed = Placement(placed.region, caller_account(target))
    recorded = (raw.get("status") or {}).get("ackResourceMetadata") or {}
    if refused := moved(placed, recorded.get("region"), recorded.get("ownerAccountID")):
        return refused
    return target.placed(placed.region, placed.role_arn)


def account_of(target: Target) -> str:
    """The account a placed target acts in: its role's, else the credentials' own."""
    return target.role_arn.split(":")[4] if target.role_arn else caller_account(target)


class Places:
    """Where many resources' AWS calls go, as `placement` says it, the namespaces and role maps read once for all (a
    drift run's thousand resources cost two reads, not two thousand)."""

    def __init__(self, target: Target, controller_namespace: str):
        self.target, self.controller_namespace = target, controller_namespace
        self.namespaces = {ns.metadata.name: ns.metadata.annotations or {}
                           for ns in client.CoreV1Api(target.kube_api()).list_namespace().items}
        needed = any(needs_role_maps(annotations) for annotations in self.namespaces.values())
        self.maps = role_maps(target, controller_namespace) if needed else RoleMaps(controller_namespace)

    def of(self, raw: dict[str, Any]) -> Target | Refuse:
        namespace = raw["metadata"].get("namespace") or "default"
        return placement(self.target, raw, self.namespaces.get(namespace, {}), self.controller_namespace, self.maps)

    def all(self, raws: list[dict[str, Any]]) -> dict[Key, Target | Refuse]:
        return {Key.of(raw): self.of(raw) for raw in raws}

    def in_use(self, placed: dict[Key, Target | Refuse]) -> list[Target]:
        """Every account and region in use: the resources', each namespace's own (where a resource there would go,
        though none is there now), and the controller's."""
        defaults = [self.of({"metadata": {"namespace": name}}) for name in self.namespaces]
        found = {(t.region, t.role_arn): t for t in [self.target, *placed.values(), *defaults] if isinstance(t, Target)}
        return list(found.values())
