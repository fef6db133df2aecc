"""Drift, as pure logic: how each resource is classed, what remediation did to each difference, the report.

The flow (flows/drift.py) reads; this decides. Each resource is classed from the reconciler's own decision
(ack.lifecycle.decide), so drift and reconcile can never disagree about what "in sync" means, or about what may
be changed: a resource that reconcile refuses is reported as REFUSED with reconcile's reason, never changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pandas as pd

from ack.backup import AwaitBackup, BackupReady, BackupResource, CreateBackup, decide_backup
from ack.delta import Difference, delta
from ack.field_export import AwaitExport, ExportDecision, FieldExportResource, WriteExport
from ack.kinds import BACKUP, FIELD_EXPORT, TABLE, Key
from ack.lifecycle import Adopt, AwaitTable, Converge, Create, Decision, Observe, Refuse
from ack.model import rfc3339
from ack.normalize import LiveTable
from ack.resource import DriftPolicy, TableResource
from ack.result import Requeue, Result, Synced, Terminal


class DriftClass(StrEnum):
    IN_SYNC = "IN_SYNC"
    DRIFTED = "DRIFTED"
    MISSING = "MISSING"  # deleted outside the cluster
    NOT_READY = "NOT_READY"  # CREATING or UPDATING, not created or adopted yet, or being deleted: checked next time
    REFUSED = "REFUSED"  # reconcile refuses the resource (not its table, a rename, a replacement ...): its reason
    ERROR = "ERROR"
    UNMANAGED = "UNMANAGED"  # carries the ownership tag, but no resource names it: reported, never touched


# What a drift run reports as drift found (for --fail-on-drift): the estate differs from what the resources say.
DRIFT_FOUND = (DriftClass.DRIFTED, DriftClass.MISSING, DriftClass.REFUSED)


class Action(StrEnum):
    REMEDIATED = "remediated"
    REPORTED = "reported"  # policy (detect-only, read-only) or a destructive change without opt-in
    REFUSED = "refused"  # reconcile refuses the resource: nothing was changed
    IGNORED = "ignored"  # left to others: ackflow.dev/ignore-fields, or capacity Application Auto Scaling owns
    RETRY_LATER = "retry later"  # AWS's own rate limits (TTL, billing mode switches)
    FAILED = "failed"
    NONE = ""


@dataclass
class ResourceCheck:
    """One resource's drift check: what was found, and (after remediation) what was done about each part."""

    namespace: str
    name: str
    table: str
    drift_class: DriftClass
    differences: list[Difference] = field(default_factory=list)
    actions: dict[str, tuple[Action, str]] = field(default_factory=dict)  # difference path -> (action, message)
    message: str = ""
    policy: DriftPolicy = "remediate"
    reason: str = ""  # reconcile's reason, for a REFUSED (or MISSING) resource
    remediable: bool = False  # reconcile would change the table: remediation may run
    kind: str = TABLE.kind
    remedy: str = "created again (empty)"  # what remediating a MISSING resource does
    account: str = ""  # where its AWS resource is (ack/placement.py); "" when it could not be placed
    region: str = ""
    ignored: list[tuple[Difference, str]] = field(default_factory=list)  # left as they are live, and why

    @property
    def key(self) -> Key:
        return Key(self.kind, self.namespace, self.name)

    @property
    def failed(self) -> bool:
        return self.drift_class == DriftClass.ERROR or any(a == Action.FAILED for a, _ in self.actions.values())


def check_of(resource: TableResource, live: LiveTable | None, decision: Decision | None, default: DriftPolicy,
             error: str = "") -> ResourceCheck:
    """The class of one resource, from its live table (None: none exists) and reconcile's decision about it
    (None when the live table could not be read: `error` says why)."""
    check = ResourceCheck(resource.namespace, resource.name, resource.table_name, DriftClass.IN_SYNC,
                       policy=resource.policies.drift_policy(default))
    table_status = live.observed.table_status if live else ""
    busy = live is not None and (table_status != "ACTIVE"
                                 or any(s != "ACTIVE" for s in live.observed.index_status.values()))
    match decision:
        case None:
            check.drift_class, check.message = DriftClass.ERROR, error
        case _ if resource.deleting:
            check.drift_class, check.message = DriftClass.NOT_READY, "the resource is being deleted"
        case Refuse("DestructiveChange", message) if live is not None and resource.spec is not None:
            # Drift all the same (an index made out of band, say), left as it is without the opt-in.
            check.drift_class, check.message = DriftClass.DRIFTED, message
            check.differences = delta(resource.spec, live.observed.spec)
        case Refuse(reason, message):
            missing = reason == "TableMissing" and live is None and bool(resource.owned_arn)
            check.drift_class = DriftClass.MISSING if missing else DriftClass.REFUSED
            check.reason, check.message = reason, message
        case Create() if resource.owned_arn:
            check.drift_class, check.message = DriftClass.MISSING, "the table was deleted outside the cluster"
            check.remediable = True
        case Create():
            check.drift_class, check.message = DriftClass.NOT_READY, "the table has not been created yet"
        case Adopt() | AwaitTable():
            check.drift_class, check.message = DriftClass.NOT_READY, "the table has not been adopted yet"
        case _ if busy:
            check.drift_class, check.message = DriftClass.NOT_READY, f"the table is {table_status}: checked next time"
        case Converge(_, differences) | Observe(differences) if differences:
            check.drift_class, check.differences = DriftClass.DRIFTED, differences
            check.remediable = isinstance(decision, Converge)
            if isinstance(decision, Observe):
                check.message = "services.k8s.aws/read-only: observed, not changed"
    if isinstance(decision, Converge | Observe) and not busy and not resource.deleting:
        check.ignored = decision.ignored  # reported as such, never remediated
    return check


def backup_check(resource: BackupResource, live: dict[str, Any] | None, default: DriftPolicy, error: str = "",
                 refused: Refuse | None = None) -> ResourceCheck:
    """The class of one Backup resource, from its backup as DescribeBackup describes it (None: there is none) and
    the Backup's own decision (`error`: why the backup could not be read; `refused`: why it may not be looked for,
    e.g. its account has no role)."""
    check = ResourceCheck(resource.namespace, resource.name, resource.spec.table_name if resource.spec else "",
                          DriftClass.IN_SYNC, policy=resource.policies.drift_policy(default), kind=BACKUP.kind,
                          remedy="made again: a new backup of the table as it is now")
    if error:
        check.drift_class, check.message = DriftClass.ERROR, error
        return check
    if resource.deleting:
        check.drift_class, check.message = DriftClass.NOT_READY, "the resource is being deleted"
        return check
    match refused or decide_backup(resource, live):
        case Refuse(reason, message):
            check.drift_class, check.reason, check.message = DriftClass.REFUSED, reason, message
        case CreateBackup() if resource.arn:
            check.drift_class, check.message = DriftClass.MISSING, "the backup was deleted outside the cluster"
            check.remediable = True
        case CreateBackup():
            check.drift_class, check.message = DriftClass.NOT_READY, "the backup has not been made yet"
        case AwaitBackup(message):
            check.drift_class, check.message = DriftClass.NOT_READY, message
        case BackupReady():
            pass
    return check


SECRET_VALUE = "(a Secret's value, not shown)"


def export_check(resource: FieldExportResource, decision: ExportDecision | None, default: DriftPolicy,
                 error: str = "") -> ResourceCheck:
    """The class of one FieldExport resource from its own decision: DRIFTED when the target's key no longer holds
    the source's value (changed by hand, say); remediation writes it again."""
    spec = resource.spec
    check = ResourceCheck(resource.namespace, resource.name, "", DriftClass.IN_SYNC, policy=default,
                          kind=FIELD_EXPORT.kind)
    if error:
        check.drift_class, check.message = DriftClass.ERROR, error
        return check
    match decision:
        case _ if resource.deleting:
            check.drift_class, check.message = DriftClass.NOT_READY, "the resource is being deleted"
        case Refuse(reason, message):
            check.drift_class, check.reason, check.message = DriftClass.REFUSED, reason, message
        case AwaitExport(_, message):
            check.drift_class, check.message = DriftClass.NOT_READY, message
        case WriteExport(value, current) as write if write.needed and spec is not None:
            check.drift_class, check.remediable = DriftClass.DRIFTED, True
            where = f"{spec.to.kind} {spec.to.name}: data[{resource.target_key}]"
            if spec.to.kind == "secret":  # a report is read widely: a Secret's values never go in it
                value, current = SECRET_VALUE, None if current is None else SECRET_VALUE
            check.differences = [Difference(where, value, current)]
    return check


# Refusals that rest on a table's tags (who owns it).
OWNERSHIP_REFUSALS = frozenset({"OwnedElsewhere", "TableExists"})


def by_tags_alone(check: ResourceCheck) -> bool:
    """Whether what the check found rests on the table's tags alone (tag differences only, or who owns it): read in
    bulk, they may lag, so such a finding is read again table by table before it is reported or acted on."""
    if check.drift_class == DriftClass.DRIFTED:
        return all(d.field == "tags" for d in check.differences)
    return check.drift_class == DriftClass.REFUSED and check.reason in OWNERSHIP_REFUSALS


def _text(value: Any) -> str:
    """A value as a person reads it in the report: strings bare, everything else as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def reported_only(check: ResourceCheck, why: str) -> dict[str, tuple[Action, str]]:
    """The actions of a check that nothing acts on: every difference reported (a REFUSED resource: refused)."""
    action = Action.REFUSED if check.drift_class == DriftClass.REFUSED else Action.REPORTED
    return {d.path: (action, why) for d in check.differences} or {"": (action, check.message)}


def remediation_actions(check: ResourceCheck, result: Result, remaining: set[str]) -> dict[str, tuple[Action, str]]:
    """What remediation through reconcile did to each difference: `result` is reconcile's last answer, and
    `remaining` the paths that still differ afterwards (read again unless the resource synced)."""
    if not check.differences:  # MISSING, recreated (or not)
        if isinstance(result, Synced):
            return {"": (Action.REMEDIATED, check.remedy)}
        action, message = _unfixed(result)
        return {"": (action, message)}
    actions: dict[str, tuple[Action, str]] = {}
    for difference in check.differences:
        if isinstance(result, Synced) or difference.path not in remaining:
            actions[difference.path] = (Action.REMEDIATED, "")
        else:
            actions[difference.path] = _unfixed(result)
    return actions


def _unfixed(result: Result) -> tuple[Action, str]:
    match result:
        case Terminal("DestructiveChange", message):
            return Action.REPORTED, message
        case Terminal(_, message):
            return Action.FAILED, message
        case Requeue("RetryLater", message):
            return Action.RETRY_LATER, message
        case Requeue(reason, message):
            return Action.FAILED, f"not fixed in time ({reason}): {message}"
    return Action.REPORTED, "not changed"


REPORT_COLUMNS = ["namespace", "kind", "resource", "account", "region", "table", "class", "field", "desired", "actual",
                  "action", "message"]


def report(checks: list[ResourceCheck]) -> pd.DataFrame:
    """One row per difference; one row per resource with none (in sync, missing, not ready, error, unmanaged)."""
    rows = []
    for check in checks:
        base = {"namespace": check.namespace, "kind": check.kind, "resource": check.name, "account": check.account,
                "region": check.region, "table": check.table, "class": check.drift_class.value}
        if not check.differences and not check.ignored:
            action = check.actions.get("", (Action.NONE, ""))
            rows.append({**base, "field": "", "desired": "", "actual": "", "action": action[0].value,
                         "message": action[1] or check.message})
        for difference, why in check.ignored:
            rows.append({**base, "field": difference.path, "desired": _text(difference.desired),
                         "actual": _text(difference.actual), "action": Action.IGNORED.value, "message": why})
        for difference in check.differences:
            action, message = check.actions.get(difference.path, (Action.REPORTED, check.message))
            rows.append({**base, "field": difference.path, "desired": _text(difference.desired),
                         "actual": _text(difference.actual), "action": action.value, "message": message})
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def drift_record(check: ResourceCheck, now: datetime | None = None) -> dict[str, Any]:
    """The `status.lastDriftCheck` of a resource after this check."""
    outcome = check.drift_class.value
    if check.differences and all(check.actions.get(d.path, (Action.NONE,))[0] == Action.REMEDIATED
                                 for d in check.differences):
        outcome = "REMEDIATED"
    return {
        "time": rfc3339(now or datetime.now(UTC)),
        "class": outcome,
        # An absent value is left out (the API server would turn "" into a refused null).
        "differences": [{"path": d.path, **{k: _text(v) for k, v in (("desired", d.desired), ("actual", d.actual))
                                            if v is not None}} for d in check.differences],
    }


def record_changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether the drift record says something new (its time aside). No record means in sync, so a
    resource that stays in sync is never patched: a scan of unchanged tables writes nothing."""
    if old is None:
        return new["class"] != DriftClass.IN_SYNC
    return {k: v for k, v in old.items() if k != "time"} != {k: v for k, v in new.items() if k != "time"}
