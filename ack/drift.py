"""Drift, as pure logic: how each resource is classed, which differences policy lets us fix, the report.

The flow (flows/drift.py) reads; this decides. The differences come from the reconciler's own delta,
so drift and reconcile can never disagree about what "in sync" means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pandas as pd

from ack.delta import Difference
from ack.model import DRIFT_POLICY, READ_ONLY, rfc3339

POLICIES = ("remediate", "detect-only")  # a flow-level default, overridden by the DRIFT_POLICY annotation


class DriftClass(StrEnum):
    IN_SYNC = "IN_SYNC"
    DRIFTED = "DRIFTED"
    MISSING = "MISSING"  # deleted outside the cluster
    NOT_READY = "NOT_READY"  # CREATING or UPDATING (or never created): checked next time
    ERROR = "ERROR"
    UNMANAGED = "UNMANAGED"  # carries the ownership tag, but no resource names it: reported, never touched


class Action(StrEnum):
    REMEDIATED = "remediated"
    REPORTED = "reported"  # policy (detect-only) or a destructive change without opt-in
    REQUIRES_REPLACEMENT = "requires replacement"
    RETRY_LATER = "retry later"  # AWS's own rate limits (TTL, billing mode switches)
    FAILED = "failed"
    NONE = ""


@dataclass
class TableCheck:
    """One resource's drift check: what was found, and (after remediation) what was done about each part."""

    namespace: str
    name: str
    table: str
    drift_class: DriftClass
    differences: list[Difference] = field(default_factory=list)
    actions: dict[str, tuple[Action, str]] = field(default_factory=dict)  # difference path -> (action, message)
    message: str = ""
    policy: str = "remediate"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def policy_of(annotations: dict[str, str], default: str) -> str:
    """The resource's drift policy: detect-only when the flow or ACK's read-only annotation says so, else
    the resource's annotation, else remediate."""
    if default == "detect-only" or annotations.get(READ_ONLY) == "true":
        return "detect-only"
    policy = annotations.get(DRIFT_POLICY, default)
    return policy if policy in POLICIES else "detect-only"  # an unknown policy must never act


def classify(namespace: str, name: str, table: str, *, exists: bool, had_table: bool, table_status: str,
             index_statuses: dict[str, str], differences: list[Difference], policy: str, error: str = "") -> TableCheck:
    """The class of one resource from what was read."""
    check = TableCheck(namespace, name, table, DriftClass.IN_SYNC, policy=policy, message=error)
    if error:
        check.drift_class = DriftClass.ERROR
    elif not exists:
        check.drift_class = DriftClass.MISSING if had_table else DriftClass.NOT_READY
        check.message = ("the table was deleted outside the cluster" if had_table
                         else "the table has not been created yet")
    elif table_status != "ACTIVE" or any(s != "ACTIVE" for s in index_statuses.values()):
        check.drift_class = DriftClass.NOT_READY
        check.message = f"the table is {table_status}: checked next time"
    elif differences:
        check.drift_class = DriftClass.DRIFTED
        check.differences = differences
    return check


def _text(value: Any) -> str:
    """A value as a person reads it in the report: strings bare, everything else as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def reported_only(check: TableCheck, why: str) -> dict[str, tuple[Action, str]]:
    """The actions of a check that nothing acts on (detect-only policy): every difference reported."""
    return {d.path: (Action.REPORTED, why) for d in check.differences} or {"": (Action.REPORTED, check.message)}


REPORT_COLUMNS = ["namespace", "resource", "table", "class", "field", "desired", "actual", "action", "message"]


def report(checks: list[TableCheck]) -> pd.DataFrame:
    """One row per difference; one row per resource with none (in sync, missing, not ready, error, unmanaged)."""
    rows = []
    for check in checks:
        base = {"namespace": check.namespace, "resource": check.name, "table": check.table,
                "class": check.drift_class.value}
        if not check.differences:
            action = check.actions.get("", (Action.NONE, ""))
            rows.append({**base, "field": "", "desired": "", "actual": "", "action": action[0].value,
                         "message": action[1] or check.message})
        for difference in check.differences:
            action, message = check.actions.get(difference.path, (Action.REPORTED, check.message))
            rows.append({**base, "field": difference.path, "desired": _text(difference.desired),
                         "actual": _text(difference.actual), "action": action.value, "message": message})
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


CONSOLE_ROWS = 50  # a longer report is printed without its in-sync rows


def console_rows(frame: pd.DataFrame) -> str:
    """The report's rows for a terminal: all of them when few, else those that are not in sync."""
    if not len(frame):
        return "no Table resources"
    shown = frame if len(frame) <= CONSOLE_ROWS else frame[frame["class"] != DriftClass.IN_SYNC.value]
    with pd.option_context("display.max_colwidth", 80, "display.width", 250):
        text = shown.to_string(index=False) if len(shown) else ""
    if len(shown) < len(frame):
        text += (f"\n({len(frame) - len(shown)} resources in sync not listed: the report artifact and --report "
                 "have every row)")
    return text.lstrip("\n")


def summary_markdown(checks: list[TableCheck], detect_only: bool) -> str:
    """The short summary a person reads first: counts per class, what was fixed, what needs a person."""
    counts = {c: sum(1 for check in checks if check.drift_class == c) for c in DriftClass}
    lines = ["# Drift report", "", f"Mode: {'detect only' if detect_only else 'remediate'}", "",
             "| class | resources |", "|---|---|"]
    lines += [f"| {c.value} | {n} |" for c, n in counts.items() if n]
    fixed = [(check, path) for check in checks for path, (action, _) in check.actions.items()
             if action == Action.REMEDIATED]
    attention = [(check, path, action, message) for check in checks
                 for path, (action, message) in check.actions.items()
                 if action in (Action.REQUIRES_REPLACEMENT, Action.FAILED, Action.RETRY_LATER, Action.REPORTED)]
    attention += [(check, "", Action.REPORTED, check.message) for check in checks
                  if check.drift_class in (DriftClass.ERROR, DriftClass.MISSING, DriftClass.UNMANAGED)
                  and "" not in check.actions]
    if fixed:
        lines += ["", "## Fixed", ""] + [f"- `{c.key}` {p}" for c, p in fixed]
    if attention:
        lines += ["", "## Needs a person", ""]
        lines += [f"- `{c.key}` {p or c.drift_class.value}: {a.value}{': ' + m if m else ''}"
                  for c, p, a, m in attention]
    if not fixed and not attention:
        lines += ["", "Everything is in sync."]
    return "\n".join(lines)


def drift_record(check: TableCheck, now: datetime | None = None) -> dict[str, Any]:
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
