"""A Table resource's drift check, shared by the drift flow (every resource at once, tags in bulk) and the
controller's drift events (one resource, when its table changed out of band): classed from reconcile's own decision
(ack.drift.check_of), and recorded in the resource's status."""

from __future__ import annotations

from typing import Any

from ack import conditions as cond
from ack.drift import DriftClass, ResourceCheck, check_of, drift_record, record_changed
from ack.kinds import TABLE, Key
from ack.lifecycle import Capabilities, Refuse, decide, refusal
from ack.normalize import LiveTable
from ack.resource import DriftPolicy, TableResource
from controller.placement import account_of
from controller.table import capabilities_of, status_after
from tasks.connections import Target
from tasks.dynamodb import read_tables
from tasks.kube_tables import Conflict, record_status, write_status


def placed(check: ResourceCheck, place: Target | Refuse | None) -> ResourceCheck:
    """The check, with the account and region its resource is placed in (blank when it could not be placed)."""
    if isinstance(place, Target):
        check.account, check.region = account_of(place), place.region
    return check


def readable(resource: TableResource, place: Target | Refuse, capabilities: Capabilities) -> bool:
    """Whether the resource's table is worth reading: not when reconcile refuses it whatever AWS holds (its spec, or
    where it would have to go)."""
    return resource.spec is not None and isinstance(place, Target) and (
        resource.deleting or refusal(resource, capabilities) is None)


def classify(resource: TableResource, place: Target | Refuse, live: LiveTable | None | str, default: DriftPolicy,
             capabilities: Capabilities) -> ResourceCheck:
    """The resource's class from its live table (None: there is none; a string: why it could not be read)."""
    if isinstance(place, Refuse) and not resource.deleting and refusal(resource, capabilities) is None:
        return check_of(resource, None, place, default)  # reconcile's own refusal, with its reason
    if isinstance(live, str):
        return placed(check_of(resource, None, None, default, error=live), place)
    return placed(check_of(resource, live, decide(resource, live, capabilities), default), place)


def check_table(target: Target, resource: TableResource, place: Target | Refuse, default: DriftPolicy
                ) -> tuple[ResourceCheck, LiveTable | None]:
    """One resource checked now, its table read table by table (a single table has no bulk to gain from)."""
    capabilities = capabilities_of(target)
    live: LiveTable | None | str = None
    if readable(resource, place, capabilities):
        assert isinstance(place, Target)
        key = Key.of(resource.raw, TABLE)
        live = read_tables.fn({key: place}, {key: resource}, 1)[key]
    return classify(resource, place, live, default, capabilities), live if isinstance(live, LiveTable) else None


def conditions_after(status: dict[str, Any], check: ResourceCheck) -> list[dict]:
    """The conditions drift writes for what it found and reconcile did not act on."""
    conditions = status.get("conditions") or []
    match check.drift_class:
        case DriftClass.IN_SYNC:
            return cond.synced(conditions)
        case DriftClass.ERROR:
            return cond.recoverable(conditions, "DriftCheckFailed", check.message)
        case DriftClass.REFUSED:
            return cond.terminal(conditions, check.reason, check.message)
        case DriftClass.DRIFTED | DriftClass.MISSING:
            what = ", ".join(d.path for d in check.differences) or check.message
            return cond.pending(conditions, f"drift: {what}", reason="Drifted")
    return conditions


def record_check(target: Target, resource: TableResource, check: ResourceCheck, live: LiveTable | None,
                 reconciled: bool) -> bool:
    """Write the resource's lastDriftCheck (and, where drift found something reconcile did not act on, its
    conditions), only when it says something new; whether it was written. A `reconciled` resource's status is
    reconcile's: only the record is added. False too when the resource changed meanwhile (a reconcile ran): its own
    status wins, and the next check records again."""
    entry = drift_record(check)
    if not record_changed(resource.raw_status.get("lastDriftCheck"), entry):
        return False
    if reconciled:
        record_status(target, check.namespace, check.name, {"lastDriftCheck": entry})
        return True
    old = resource.raw_status
    new = status_after(old, live.describe if live else None, conditions_after(old, check),
                       old.get("observedGeneration"))
    try:
        write_status(target, resource.raw, {**new, "lastDriftCheck": entry})
        return True
    except Conflict:
        return False
