"""`python -m flows.drift [--detect-only] [-n NS | --all-namespaces] [-l SELECTOR] [--report FILE.csv|FILE.json]
[--fail-on-drift]`: compare every Table's spec with its live table, remediate what policy allows, report.

Exit codes: 0 done (and, with --fail-on-drift, nothing drifted), 1 failure (the run, or a table that could
not be checked or fixed), 2 drift found with --fail-on-drift (as `terraform plan -detailed-exitcode`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.utilities.annotations import quote
from pydantic import BaseModel, ValidationError

from ack import conditions as cond
from ack.delta import delta
from ack.drift import (
    Action,
    DriftClass,
    TableCheck,
    classify,
    console_rows,
    drift_record,
    policy_of,
    record_changed,
    report,
    reported_only,
    summary_markdown,
)
from ack.errors import ReconcileError
from ack.model import ALLOW_DESTRUCTIVE, RECREATE_MISSING, TableSpec
from ack.plan import plan
from ack.validate import validate
from flows.cli import add_scope, guarded, scope_of
from flows.reconcile import DEFAULT_TIMEOUT_SECONDS, converge_table, reconcile_subflow, status_after
from flows.watch import table_resource
from tasks.connections import AWS_RETRIES, Connection, Target, resolve_target
from tasks.dynamodb import LiveTable, owned_tables_outside, read_live, read_tables
from tasks.kube_lease import held
from tasks.kube_tables import Conflict, ensure_crd, list_resources, read_resource, write_status

DRIFT_LEASE = "ackflow-drift"
REPORT_ARTIFACT = "drift-report"
SUMMARY_ARTIFACT = "drift-summary"
DRIFT_FOUND = (DriftClass.DRIFTED, DriftClass.MISSING)


class DriftResult(BaseModel):
    """What a drift run found and did, in counts (the rows are in the report)."""

    counts: dict[str, int]
    drift_found: bool
    failures: int
    remediated: int
    rows: int
    aws_retries: int


@flow(name="drift", log_prints=True)
def drift(namespace: str | None = None, label_selector: str | None = None, detect_only: bool = False,
          report_path: str | None = None, connection: Connection = Connection(), concurrency: int = 16,
          timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> DriftResult:
    """Check every Table resource (a namespace, or all; optionally by label) against its live table.

    Args:
        namespace: Only this namespace; empty for every namespace.
        label_selector: Only the Table resources matching this label selector, e.g. `team=payments`.
        detect_only: Report differences and change nothing, whatever the tables' `ackflow.dev/drift-policy`
            annotations say.
        report_path: Also write the report rows to this file (.csv or .json) on the machine that runs the flow.
        connection: Where the flow acts: the target and, optionally, credentials blocks.
        concurrency: How many live tables are read at once.
        timeout_seconds: How long remediation may wait for one table to converge.
    """
    where = resolve_target(connection)
    ensure_crd(where)  # on a cluster that never had a Table there is nothing to list otherwise (404)
    # Two runs at once would remediate the same tables twice: the second waits for the first.
    with held(where, DRIFT_LEASE, on_wait=lambda holder: print(f"waiting for the drift run {holder} to finish")):
        return _drift(where, namespace, label_selector, detect_only, report_path, concurrency, timeout_seconds)


def _drift(where: Target, namespace: str | None, label_selector: str | None, detect_only: bool,
           report_path: str | None, concurrency: int, timeout_seconds: float) -> DriftResult:
    default_policy = "detect-only" if detect_only else "remediate"
    resources = {f"{r['metadata']['namespace']}/{r['metadata']['name']}": r
                 for r in list_resources(where, namespace, label_selector)}
    # quote(): Prefect would otherwise walk every element of these large inputs looking for futures.
    checks, specs, lives = check_tables(where, quote(resources), default_policy, concurrency)
    checks += unmanaged_tables(where, quote({s.table_name for s in specs.values()}), quote(set(resources)),
                               namespace, bool(label_selector))
    for check in checks:
        if check.drift_class not in DRIFT_FOUND:
            continue
        if check.policy == "detect-only":
            check.actions = reported_only(check, "detect-only: not changed")
        else:
            check.actions, after = remediate(where, resources[check.key], specs[check.key], lives.get(check.key),
                                             check, timeout_seconds)
            if after is not None:
                lives[check.key] = after
    record_checks(where, quote(resources), quote(checks), quote(lives))
    frame = report(checks)
    publish(quote(frame), summary_markdown(checks, detect_only), report_path)
    announce(checks)
    return DriftResult(
        counts={c.value: sum(1 for check in checks if check.drift_class == c) for c in DriftClass},
        drift_found=any(check.drift_class in DRIFT_FOUND for check in checks),
        failures=sum(1 for check in checks if check.drift_class == DriftClass.ERROR)
        + sum(1 for check in checks for a, _ in check.actions.values() if a == Action.FAILED),
        remediated=sum(1 for check in checks for a, _ in check.actions.values() if a == Action.REMEDIATED),
        rows=len(frame),
        aws_retries=AWS_RETRIES.value,
    )


@task(cache_policy=NO_CACHE)
def check_tables(target: Target, resources: dict[str, dict[str, Any]], default_policy: str, concurrency: int
                 ) -> tuple[list[TableCheck], dict[str, TableSpec], dict[str, LiveTable]]:
    """Read every live table (the fewest calls that suffice, concurrently) and class each resource."""
    specs: dict[str, TableSpec] = {}
    checks: list[TableCheck] = []
    for key, resource in resources.items():
        meta = resource["metadata"]
        policy = policy_of(meta.get("annotations") or {}, default_policy)
        table = (resource.get("spec") or {}).get("tableName", "")
        try:
            spec = TableSpec.model_validate(resource.get("spec") or {})
            problems = validate(spec)
        except ValidationError as exc:
            problems = [str(exc.errors()[0]["msg"])]
        if problems:
            checks.append(classify(meta["namespace"], meta["name"], table, exists=False, had_table=False,
                                   table_status="", index_statuses={}, differences=[], policy=policy,
                                   error="the spec is invalid: " + "; ".join(map(str, problems))))
        else:
            specs[key] = spec
    lives: dict[str, LiveTable] = {}
    for key, live in read_tables(target, specs, concurrency).items():
        meta, spec = resources[key]["metadata"], specs[key]
        status = resources[key].get("status") or {}
        error = live if isinstance(live, str) else ""
        if isinstance(live, LiveTable):
            lives[key] = live
        observed = live.observed if isinstance(live, LiveTable) else None
        checks.append(classify(
            meta["namespace"], meta["name"], spec.table_name, exists=observed is not None,
            had_table=bool((status.get("ackResourceMetadata") or {}).get("arn")),
            table_status=observed.table_status if observed else "",
            index_statuses=observed.index_status if observed else {},
            differences=delta(spec, observed.spec) if observed else [],
            policy=policy_of(meta.get("annotations") or {}, default_policy), error=error))
    return checks, specs, lives


@task(cache_policy=NO_CACHE)
def unmanaged_tables(target: Target, managed: set[str], listed: set[str], namespace: str | None,
                     partial: bool) -> list[TableCheck]:
    """Tables that carry the ownership tag of a resource (in scope) that no longer exists: reported, never
    touched. `listed` holds the resources seen; when a label selector made it `partial`, ask the cluster."""
    checks = []
    for table, owner in sorted(owned_tables_outside(target, managed).items()):
        owner_namespace, _, owner_name = owner.partition("/")
        if owner in listed or (namespace and owner_namespace != namespace):
            continue
        if partial and read_resource.fn(target, owner_namespace, owner_name) is not None:
            continue
        checks.append(TableCheck(owner_namespace, owner_name, table, DriftClass.UNMANAGED, policy="detect-only",
                                 message=f"tagged as managed by {owner}, but that Table resource does not exist"))
    return checks


Actions = dict[str, tuple[Action, str]]


def remediate(target: Target, resource: dict[str, Any], spec: TableSpec, live: LiveTable | None,
              check: TableCheck, timeout_seconds: float) -> tuple[Actions, LiveTable | None]:
    """Put one table back to its spec with the reconciler's own plan, never destroying data without opt-in.
    Returns what happened to each difference, and the table as it is afterwards."""
    annotations = resource["metadata"].get("annotations") or {}
    if live is None:  # MISSING
        if annotations.get(RECREATE_MISSING) != "true":
            return {"": (Action.REPORTED, f'{check.message}; annotate {RECREATE_MISSING}: "true" to '
                                          "create it again (empty)")}, None
        outcome = reconcile_subflow(check.namespace, check.name, target, timeout_seconds)
        return {"": (Action.REMEDIATED, "created again (empty)") if outcome.ok
                else (Action.FAILED, outcome.message)}, None
    allow_destructive = annotations.get(ALLOW_DESTRUCTIVE) == "true"
    first_round = plan(check.differences, live.observed, spec, allow_destructive=allow_destructive)
    replacements = {p.field: p.message for p in first_round.replacements}
    error: ReconcileError | None = None
    try:
        # No known indexes: drift deletes no index without the opt-in (one beyond the spec was made out of band).
        after = converge_table(target, spec, live, time.monotonic() + timeout_seconds, allow_destructive, frozenset())
    except ReconcileError as exc:
        error = exc
        after = read_live(target, spec)
    remaining = {d.path for d in delta(spec, after.observed.spec)} if after else {d.path for d in check.differences}
    actions: Actions = {}
    for difference in check.differences:
        if difference.path not in remaining:
            actions[difference.path] = (Action.REMEDIATED, "")
        elif difference.path in replacements:
            actions[difference.path] = (Action.REQUIRES_REPLACEMENT, replacements[difference.path])
        elif error is None or error.reason == "DestructiveChange":
            actions[difference.path] = (Action.REPORTED, error.message if error else "not changed")
        elif error.reason == "RetryLater":
            actions[difference.path] = (Action.RETRY_LATER, error.message)
        else:
            actions[difference.path] = (Action.FAILED, error.message)
    return actions, after


@task(cache_policy=NO_CACHE)
def record_checks(target: Target, resources: dict[str, dict[str, Any]], checks: list[TableCheck],
                  lives: dict[str, LiveTable]) -> int:
    """Write each resource's lastDriftCheck and conditions, only where they changed; returns the patches."""
    patched = 0
    for check in checks:
        resource = resources.get(check.key)
        if resource is None:  # UNMANAGED: no resource to write to
            continue
        old = resource.get("status") or {}
        record = drift_record(check)
        if not record_changed(old.get("lastDriftCheck"), record):
            continue
        conditions = _conditions_after(old.get("conditions") or [], check)
        new = status_after(old, lives.get(check.key), conditions, old.get("observedGeneration"))
        new["lastDriftCheck"] = record
        try:
            write_status.fn(target, resource, new)
            patched += 1
        except Conflict:  # changed meanwhile (a reconcile ran): its own status wins; checked again next time
            get_run_logger().info("%s changed during the drift check; its record is left to the next run", check.key)
    return patched


def _conditions_after(conditions: list[dict], check: TableCheck) -> list[dict]:
    actions = [a for a, _ in check.actions.values()]
    if check.drift_class == DriftClass.IN_SYNC or (check.differences and actions
                                                   and all(a == Action.REMEDIATED for a in actions)):
        return cond.synced(conditions)
    if check.drift_class == DriftClass.ERROR:
        return cond.recoverable(conditions, "DriftCheckFailed", check.message)
    for action, reason in ((Action.RETRY_LATER, "RetryLater"), (Action.FAILED, "RemediationFailed")):
        if messages := sorted({m for a, m in check.actions.values() if a == action}):
            return cond.recoverable(conditions, reason, "; ".join(messages))
    what = ", ".join(d.path for d in check.differences) or check.message
    return cond.set_condition(conditions, "ACK.ResourceSynced", "False", "Drifted", f"drift: {what}")


@task(cache_policy=NO_CACHE)
def publish(frame: pd.DataFrame, markdown: str, report_path: str | None) -> None:
    """The report where people read it: stdout, the Prefect UI (stable keys keep its history), a file."""
    create_table_artifact(key=REPORT_ARTIFACT, table=frame.to_dict(orient="records"),
                          description="Drift report: one row per difference")
    create_markdown_artifact(key=SUMMARY_ARTIFACT, markdown=markdown, description="Drift summary")
    if report_path:
        write_report(frame, Path(report_path))
    print(f"\n{console_rows(frame)}\n\n{markdown}\n\nAWS calls retried (throttling, 5xx): {AWS_RETRIES.value}")


def write_report(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        frame.to_json(path, orient="records", indent=2)
    else:
        frame.to_csv(path, index=False)


def announce(checks: list[TableCheck]) -> None:
    """Prefect events, so that an automation (a notification) can follow drift and remediation."""
    for check in checks:
        if check.drift_class not in DRIFT_FOUND:
            continue
        resource = table_resource(check.namespace, check.name) | {"ackflow.table-name": check.table}
        payload = {"class": check.drift_class.value, "differences": [d.path for d in check.differences]}
        emit_event(event="ackflow.table.drifted", resource=resource, payload=payload)
        fixed = [path for path, (action, _) in check.actions.items() if action == Action.REMEDIATED]
        if fixed:
            emit_event(event="ackflow.table.remediated", resource=resource, payload={"fixed": fixed})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.drift", description=__doc__.splitlines()[0])
    add_scope(parser, default_all=True)
    parser.add_argument("-l", "--selector", help="a label selector, e.g. team=payments")
    parser.add_argument("--detect-only", action="store_true", help="report, change nothing")
    parser.add_argument("--report", metavar="FILE.csv|FILE.json", help="also write the report rows to a file")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 2 when drift was found")
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    parser.add_argument("--concurrency", type=int, default=16, help="tables read at once (default 16)")
    args = parser.parse_args(argv)
    if args.report and Path(args.report).suffix not in (".csv", ".json"):
        parser.error(f"--report: {args.report!r} must end in .csv or .json")
    result = guarded("drift", lambda: drift(
        namespace=scope_of(args, default_all=True), label_selector=args.selector, detect_only=args.detect_only,
        report_path=args.report, connection=Connection(target=args.target), concurrency=args.concurrency))
    if result is None:
        return 1
    if result.failures:
        print(f"drift: {result.failures} tables could not be checked or fixed (see the report)", file=sys.stderr)
        return 1
    return 2 if args.fail_on_drift and result.drift_found else 0


if __name__ == "__main__":
    sys.exit(main())
