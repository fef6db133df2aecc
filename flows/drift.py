"""`python -m flows.drift [--detect-only] [-n NS | --all-namespaces] [-l SELECTOR] [--report FILE.csv|FILE.json]
[--fail-on-drift] [--shard-by namespace|account]`: compare every resource with what AWS (or the cluster) holds,
remediate what policy allows, report.

Detection reads every live table at once, where its resource places it, and classes each resource from
reconcile's own decision (ack.lifecycle.decide); a Backup is DescribeBackup'd (MISSING when deleted outside the
cluster), a FieldExport's target key compared with its source's value (DRIFTED when changed by hand), each by its
own decision; remediation goes through the one reconcile entrance, with bounded concurrency, so no guard can be
skipped: a resource that reconcile refuses is reported with reconcile's reason and never changed. With
--shard-by the run is spread over child runs of the `drift` deployment and their rows gathered into one report.

Exit codes: 0 done (and, with --fail-on-drift, nothing drifted), 1 failure (the run, or a table that could
not be checked or fixed), 2 drift found with --fail-on-drift (as `terraform plan -detailed-exitcode`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import urllib3
from kubernetes import client
from prefect import flow, get_client, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from prefect.utilities.annotations import quote
from pydantic import BaseModel

from ack.delta import delta
from ack.drift import (
    DRIFT_FOUND,
    REPORT_COLUMNS,
    Action,
    DriftClass,
    ResourceCheck,
    backup_check,
    by_tags_alone,
    export_check,
    remediation_actions,
    report,
    reported_only,
)
from ack.backup import BackupResource
from ack.errors import ReconcileError
from ack.field_export import FieldExportResource, SkipExport
from ack.kinds import BACKUP, FIELD_EXPORT, TABLE, Key
from ack.lifecycle import Refuse
from ack.normalize import LiveTable
from ack.resource import DriftPolicy, TableResource
from ack.result import Result, Synced
from controller.events import announce
from controller.drift import classify, placed, record_check, readable as worth_reading
from controller.field_export import decide as decide_export
from controller.placement import Places, account_of
from controller.round import Options
from controller.table import capabilities_of
from controller.workers import DEFAULT_TIMEOUT_SECONDS, drive
from flows.cli import add_controller_namespace, add_scope, guarded, scope_of
from flows.output import counts, drift_lines
from tasks.connections import AWS_RETRIES, Connection, Target, caller_account, resolve_target
from tasks.dynamodb import BulkTags, confirm_tags, owned_tables_outside, read_backup, read_tables
from tasks.kube_lease import held
from tasks.kube_tables import ensure_crd, list_resources, read_resource

DRIFT_LEASE = "ackflow-drift"
DRIFT_DEPLOYMENT = "drift/drift"  # where a sharded run sends its shards
SHARD_START_SECONDS = 600.0  # how long a shard may wait for a worker, beyond the run's own timeout
SHARD_POLL_SECONDS = 2.0
ShardBy = Literal["namespace", "account"]
REPORT_ARTIFACT = "drift-report"
SUMMARY_ARTIFACT = "drift-summary"


class DriftResult(BaseModel):
    """What a drift run found and did: counts, and the report's rows of every resource not in sync."""

    counts: dict[str, int]
    findings: list[dict[str, str]]
    drift_found: bool
    failures: int  # resources that could not be checked or fixed
    remediated: int  # differences fixed
    rows: int
    aws_retries: int


@flow(name="drift", log_prints=True)
def drift(namespace: str | None = None, label_selector: str | None = None, detect_only: bool = False,
          report_path: str | None = None, connection: Connection = Connection(), concurrency: int = 16,
          timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, controller_namespace: str | None = None,
          shard_by: ShardBy | None = None, account: str | None = None, shard_of: str | None = None) -> DriftResult:
    """Check every Table resource (a namespace, or all; optionally by label) against its live table.

    Args:
        namespace: Only this namespace; empty for every namespace.
        label_selector: Only the Table resources matching this label selector, e.g. `team=payments`.
        detect_only: Report differences and change nothing, whatever the tables' `ackflow.dev/drift-policy`
            annotations say.
        report_path: Also write the report rows to this file (.csv or .json) on the machine that runs the flow.
        connection: Where the flow acts: the target and, optionally, credentials blocks.
        concurrency: How many live tables are read, and how many resources remediated, at once.
        timeout_seconds: How long remediation may go on before what is not fixed is reported.
        controller_namespace: Where ACK's role maps are (default: ACK_SYSTEM_NAMESPACE, else ack-system).
        shard_by: Spread the run over child runs of the `drift` deployment, one per namespace or per account (a
            work pool spreads them over its workers); this run gathers their rows into one report.
        account: Only the resources placed in this AWS account (a shard; the controller's own account also takes
            what cannot be placed, and the FieldExports).
        shard_of: Set by the run that started this one as a shard: that run holds the drift lease for it.
    """
    options = Options.from_environment(controller_namespace=controller_namespace)
    where = resolve_target(connection)
    ensure_crd(where)  # on a cluster that never had a Table there is nothing to list otherwise (404)
    scope = Scope(namespace, label_selector, account)
    if shard_of:  # the parent run holds the lease for its shards, and looks for unmanaged tables itself
        return _drift(where, scope, detect_only, report_path, concurrency, timeout_seconds, options, unmanaged=False)
    # Two runs at once would remediate the same tables twice: the second waits for the first.
    def waiting(holder: str) -> None:
        print(f"waiting for the drift run {holder} to finish")

    with held(where, DRIFT_LEASE, on_wait=waiting) as lease:
        if shard_by:
            return sharded(where, scope, shard_by, lease, detect_only, report_path, concurrency, timeout_seconds,
                           options, connection)
        return _drift(where, scope, detect_only, report_path, concurrency, timeout_seconds, options)


@dataclass(frozen=True)
class Scope:
    """What one run checks: a namespace (None: all), a label selector, an account (None: all; a shard's)."""

    namespace: str | None = None
    label_selector: str | None = None
    account: str | None = None


def _drift(where: Target, scope: Scope, detect_only: bool, report_path: str | None, concurrency: int,
           timeout_seconds: float, options: Options, unmanaged: bool = True) -> DriftResult:
    default: DriftPolicy = "detect-only" if detect_only else "remediate"
    resources, backups, placer, places = _inventory(where, scope, options)
    bulk = BulkTags()  # the tagging API's pages, read once for the checks and the look for unmanaged tables
    # quote(): Prefect would otherwise walk every element of these large inputs looking for futures.
    checks, lives = check_tables(where, quote(resources), quote(places), default, concurrency, quote(bulk))
    if unmanaged:
        checks += unmanaged_tables(where, quote(resources), quote(places), quote(placer.in_use(places)),
                                   scope.namespace, bool(scope.label_selector), quote(bulk))
    with_exports = scope.account in (None, caller_account(where))  # exports have no account: the own one's shard
    checks += check_backups_and_exports(where, quote(backups), quote(places), scope.namespace, scope.label_selector,
                                        default, concurrency, with_exports)
    fix = [c for c in checks if c.remediable and c.policy == "remediate"]
    for check in checks:
        if check.drift_class in DRIFT_FOUND and check not in fix:  # detect-only, read-only, refused, not opted in
            check.actions = reported_only(check, check.message or "detect-only: not changed")
    results = drive(where, [c.key for c in fix], concurrency, timeout_seconds, options=options) if fix else {}
    unsynced = {c.key: resources[c.key] for c in fix
                if c.kind == TABLE.kind and not isinstance(results[c.key], Synced)}
    after = read_tables(quote(places), quote(unsynced), concurrency) if unsynced else {}
    for check in fix:
        live = after.get(check.key)
        remaining = {d.path for d in delta(resources[check.key].spec, live.observed.spec)} \
            if isinstance(live, LiveTable) else {d.path for d in check.differences}
        check.actions = remediation_actions(check, results[check.key], remaining)
    record_checks(where, quote(resources), quote(checks), quote(lives), quote(results), concurrency)
    frame = report(checks)
    publish(quote(frame), summary_markdown(checks, detect_only), report_path)
    announce(checks)
    return result_of(frame, failures=sum(1 for check in checks if check.failed))


def _inventory(where: Target, scope: Scope, options: Options
               ) -> tuple[dict[Key, TableResource], list[dict[str, Any]], Places, dict[Key, Target | Refuse]]:
    """The Tables and Backups in scope, and where each is placed (the namespaces and role maps read once)."""
    raws = {kind: list_resources(where, scope.namespace, scope.label_selector, kind=kind) for kind in (TABLE, BACKUP)}
    placer = Places(where, options.controller_namespace)
    places = placer.all([*raws[TABLE], *raws[BACKUP]])
    if scope.account:  # a shard: its account's, and (the controller's own account) what cannot be placed
        own = scope.account == caller_account(where)
        keep = {key for key, place in places.items()
                if (account_of(place) == scope.account if isinstance(place, Target) else own)}
        raws = {kind: [r for r in found if Key.of(r, kind) in keep] for kind, found in raws.items()}
        places = {key: place for key, place in places.items() if key in keep}
    resources = {Key(TABLE.kind, r.namespace, r.name): r for r in map(TableResource.parse, raws[TABLE])}
    return resources, raws[BACKUP], placer, places


def result_of(frame: pd.DataFrame, failures: int) -> DriftResult:
    """What the report says, in a run's result."""
    resources = frame.drop_duplicates(["namespace", "kind", "resource"])
    return DriftResult(
        counts={c.value: int((resources["class"] == c.value).sum()) for c in DriftClass},
        drift_found=bool(resources["class"].isin([c.value for c in DRIFT_FOUND]).any()),
        failures=failures,
        remediated=int((frame["action"] == Action.REMEDIATED.value).sum()),
        findings=frame[frame["class"] != DriftClass.IN_SYNC.value].to_dict(orient="records"),
        rows=len(frame),
        aws_retries=AWS_RETRIES.value,
    )


def sharded(where: Target, scope: Scope, shard_by: ShardBy, lease: str, detect_only: bool, report_path: str | None,
            concurrency: int, timeout_seconds: float, options: Options, connection: Connection) -> DriftResult:
    """One child run of the `drift` deployment per namespace or account (its work pool spreads them over its
    workers), under this run's lease; their report rows gathered into one report and one result, with this run's
    own look for unmanaged tables (which no one shard could see whole). A shard that fails is reported as failed."""
    if missing := no_shard_deployment():  # before anything: with no deployment, no shard could ever run
        raise RuntimeError(missing)
    resources, backups, placer, places = _inventory(where, scope, options)
    shards = _shards(where, scope, shard_by, [*resources, *(Key.of(b, BACKUP) for b in backups)], places)
    print(f"drift: {len(shards)} shards by {shard_by}: " + ", ".join(v for shard in shards for v in shard.values()))
    common = {"label_selector": scope.label_selector, "detect_only": detect_only, "concurrency": concurrency,
              "timeout_seconds": timeout_seconds, "controller_namespace": options.controller_namespace,
              "connection": connection.model_dump(), "shard_of": lease}
    runs = [run_deployment(DRIFT_DEPLOYMENT, parameters={**common, "namespace": scope.namespace, **shard},
                           timeout=0) for shard in shards]
    rows: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []  # a row for each shard that failed
    with get_client(sync_client=True) as prefect:
        for shard, started in zip(shards, runs):
            finished = _finished(prefect, started.id, timeout_seconds + SHARD_START_SECONDS)
            if finished.state is not None and finished.state.is_completed():
                rows += _report_rows(prefect, finished.id)
                continue
            state = finished.state.name if finished.state else "not started"
            lost.append({**dict.fromkeys(REPORT_COLUMNS, ""), **shard, "class": DriftClass.ERROR.value,
                         "action": Action.FAILED.value,
                         "message": f"the shard's run {finished.name} ended {state}: nothing of it was checked"})
    checks = unmanaged_tables(where, quote(resources), quote(places), quote(placer.in_use(places)), scope.namespace,
                              bool(scope.label_selector))
    found = pd.concat([pd.DataFrame(rows, columns=REPORT_COLUMNS), report(checks)], ignore_index=True)
    failed = found[(found["class"] == DriftClass.ERROR.value) | (found["action"] == Action.FAILED.value)]
    frame = pd.concat([found, pd.DataFrame(lost, columns=REPORT_COLUMNS)], ignore_index=True)
    announce(checks)
    publish(quote(frame), shards_markdown(frame, shards, len(lost), detect_only), report_path)
    return result_of(frame, len(lost) + len(failed.drop_duplicates(["namespace", "kind", "resource"])))


def no_shard_deployment() -> str | None:
    """Why shards cannot run on the Prefect API in use (it has no `drift` deployment), or None."""
    with get_client(sync_client=True) as prefect:
        try:
            prefect.read_deployment_by_name(DRIFT_DEPLOYMENT)
            return None
        except ObjectNotFound:
            return (f"--shard-by: the Prefect API has no deployment {DRIFT_DEPLOYMENT} for the shards to run as: "
                    "deploy it (`prefect deploy --all`, or `python -m deployments serve`) and point PREFECT_API_URL "
                    "at that server")


def _shards(where: Target, scope: Scope, shard_by: ShardBy, keys: list[Key], places: dict[Key, Target | Refuse]
            ) -> list[dict[str, str]]:
    """The children's own parameters: each namespace with resources (FieldExports too), or each account in use (the
    controller's own always: what cannot be placed, and the FieldExports, are its)."""
    if shard_by == "namespace":
        exports = list_resources(where, scope.namespace, scope.label_selector, kind=FIELD_EXPORT)
        names = {key.namespace for key in keys} | {r["metadata"]["namespace"] for r in exports}
        return [{"namespace": name} for name in sorted(names)]
    accounts = {account_of(place) for place in places.values() if isinstance(place, Target)}
    return [{"account": account} for account in sorted(accounts | {caller_account(where)})]


def _finished(prefect: Any, flow_run_id: Any, timeout: float) -> FlowRun:
    """The flow run once it is final (or as it is when `timeout` passed)."""
    deadline = time.monotonic() + timeout
    while True:
        flow_run = prefect.read_flow_run(flow_run_id)
        if (flow_run.state and flow_run.state.is_final()) or time.monotonic() > deadline:
            return flow_run
        time.sleep(SHARD_POLL_SECONDS)


def _report_rows(prefect: Any, flow_run_id: Any) -> list[dict[str, Any]]:
    """A finished run's report rows, from its drift-report artifact."""
    found = prefect.read_artifacts(artifact_filter=ArtifactFilter(
        key=ArtifactFilterKey(any_=[REPORT_ARTIFACT]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    if not found:
        return []
    data = found[0].data
    return json.loads(data) if isinstance(data, str) else list(data)


@task(cache_policy=NO_CACHE)
def check_tables(target: Target, resources: dict[Key, TableResource], places: dict[Key, Target | Refuse],
                 default: DriftPolicy, concurrency: int, bulk: BulkTags
                 ) -> tuple[list[ResourceCheck], dict[Key, LiveTable]]:
    """Read every live table, where its resource places it (the fewest calls that suffice, concurrently), and class
    each resource by what reconcile would decide about it."""
    capabilities = capabilities_of(target)
    # What reconcile refuses whatever AWS holds needs no read: the spec, or where it would have to go.
    readable = {key: r for key, r in resources.items() if worth_reading(r, places[key], capabilities)}
    # Tags in bulk (the tagging API, 100 tables a call), then what was found only in them confirmed with each such
    # table's own tags (one ListTagsOfResource): the bulk tags may lag by seconds, and nothing is reported, let alone
    # changed, on a stale read.
    read = read_tables.fn(places, readable, concurrency, bulk)
    first = {key: classify(resource, places[key], read.get(key), default, capabilities)
             for key, resource in resources.items()}
    stale = {key: live for key, check in first.items()
             if by_tags_alone(check) and isinstance(live := read.get(key), LiveTable)}
    if stale:
        read |= confirm_tags(places, stale, concurrency)
        first |= {key: classify(resources[key], places[key], read.get(key), default, capabilities) for key in stale}
    lives = {key: live for key, live in read.items() if isinstance(live, LiveTable)}
    return list(first.values()), lives


@task(cache_policy=NO_CACHE)
def check_backups_and_exports(target: Target, backups: list[dict[str, Any]], places: dict[Key, Target | Refuse],
                              namespace: str | None, label_selector: str | None, default: DriftPolicy,
                              concurrency: int, with_exports: bool = True) -> list[ResourceCheck]:
    """Every Backup (its backup described where it is placed) and FieldExport (its source and target read),
    `concurrency` at once, each classed by its own decision; FieldExports of kinds served by other controllers are
    not ours to check."""
    def backup(raw: dict[str, Any]) -> ResourceCheck:
        resource, place = BackupResource.parse(raw, BACKUP.finalizer), places[Key.of(raw, BACKUP)]
        if isinstance(place, Refuse):
            return backup_check(resource, None, default, refused=place)
        try:
            return placed(backup_check(resource, read_backup(place, resource.arn) if resource.arn else None,
                                       default), place)
        except ReconcileError as exc:
            return placed(backup_check(resource, None, default, error=exc.message), place)

    def export(raw: dict[str, Any]) -> ResourceCheck | None:
        resource = FieldExportResource.parse(raw, FIELD_EXPORT.finalizer)
        try:
            decision = decide_export(target, resource)
        except (client.ApiException, urllib3.exceptions.HTTPError) as exc:
            return export_check(resource, decision=None, default=default, error=str(exc).splitlines()[0])
        return None if isinstance(decision, SkipExport) else export_check(resource, decision, default)

    exports = list_resources.fn(target, namespace, label_selector, FIELD_EXPORT) if with_exports else []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        found = [*pool.map(backup, backups), *pool.map(export, exports)]
    return [check for check in found if check is not None]


@task(cache_policy=NO_CACHE)
def unmanaged_tables(target: Target, resources: dict[Key, TableResource], places: dict[Key, Target | Refuse],
                     in_use: list[Target], namespace: str | None, partial: bool, bulk: BulkTags | None = None
                     ) -> list[ResourceCheck]:
    """Tables that carry the ownership tag of a resource (in scope) that no longer exists: reported, never
    touched. Looked for in each account and region `in_use`. `resources` are those seen; when a label selector
    made them `partial`, the cluster is asked."""
    listed = {r.key for r in resources.values()}

    def wanted(owner: str) -> bool:  # an owner in scope that was not seen
        return owner not in listed and (not namespace or owner.partition("/")[0] == namespace)

    checks = []
    for place in in_use:
        managed = {r.table_name for key, r in resources.items() if places.get(key) == place}
        outside = owned_tables_outside(place, managed, wanted, bulk)
        for table, owner in sorted(outside.items()):
            owner_namespace, _, owner_name = owner.partition("/")
            if partial and read_resource.fn(target, owner_namespace, owner_name) is not None:
                continue
            checks.append(placed(ResourceCheck(owner_namespace, owner_name, table, DriftClass.UNMANAGED,
                                               policy="detect-only", message=f"tagged as managed by {owner}, but "
                                                                             "that Table resource does not exist"),
                                 place))
    return checks


@task(cache_policy=NO_CACHE)
def record_checks(target: Target, resources: dict[Key, TableResource], checks: list[ResourceCheck],
                  lives: dict[Key, LiveTable], results: dict[Key, Result], concurrency: int) -> int:
    """Write each resource's lastDriftCheck (and, where drift found something reconcile did not act on, its
    conditions), only where they changed, `concurrency` at once; returns the patches. A remediated resource's
    status is reconcile's: only the record is added to it."""
    def record(check: ResourceCheck) -> bool:
        return record_check(target, resources[check.key], check, lives.get(check.key), check.key in results)

    # Tables only: not UNMANAGED (no resource to write to), nor the other kinds (their status has no such record).
    recorded = [c for c in checks if c.key in resources]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return sum(pool.map(record, recorded))


@task(cache_policy=NO_CACHE)
def publish(frame: pd.DataFrame, markdown: str, report_path: str | None) -> None:
    """The report where people read it: the Prefect UI (stable keys keep its history), a file; the run's log
    gets the counts (the command line prints the differences: flows/output.py)."""
    create_table_artifact(key=REPORT_ARTIFACT, table=frame.to_dict(orient="records"),
                          description="Drift report: one row per difference")
    create_markdown_artifact(key=SUMMARY_ARTIFACT, markdown=markdown, description="Drift summary")
    if report_path:
        write_report(frame, Path(report_path))
    found = counts(frame.drop_duplicates(["namespace", "kind", "resource"])["class"]) or "no resources"
    print(f"drift: {found}; AWS calls retried (throttling, 5xx): {AWS_RETRIES.value}")


def shards_markdown(frame: pd.DataFrame, shards: list[dict[str, str]], lost: int, detect_only: bool) -> str:
    """The short summary of a sharded run: the shards, counts per class, what needs a person."""
    resources = frame.drop_duplicates(["namespace", "kind", "resource"])
    lines = ["# Drift report", "", f"Mode: {'detect only' if detect_only else 'remediate'}; {len(shards)} shards "
             f"({lost} failed)", "", "| class | resources |", "|---|---|"]
    lines += [f"| {c} | {n} |" for c, n in resources["class"].value_counts().sort_index().items()]
    attention = frame[frame["action"].isin([a.value for a in (Action.REFUSED, Action.FAILED, Action.RETRY_LATER,
                                                               Action.REPORTED)])]
    if len(attention):
        lines += ["", "## Needs a person", ""]
        lines += [f"- `{r['kind'] or 'shard'} {r['namespace']}/{r['resource']}` {r['field'] or r['class']}: "
                  f"{r['action']}: {r['message']}" for r in attention.to_dict(orient="records")]
    return "\n".join(lines)


def summary_markdown(checks: list[ResourceCheck], detect_only: bool) -> str:
    """The short summary a person reads first: counts per class, what was fixed, what needs a person."""
    counts = {c: sum(1 for check in checks if check.drift_class == c) for c in DriftClass}
    lines = ["# Drift report", "", f"Mode: {'detect only' if detect_only else 'remediate'}", "",
             "| class | resources |", "|---|---|"]
    lines += [f"| {c.value} | {n} |" for c, n in counts.items() if n]
    fixed = [(check, path) for check in checks for path, (action, _) in check.actions.items()
             if action == Action.REMEDIATED]
    attention = [(check, path, action, message) for check in checks
                 for path, (action, message) in check.actions.items()
                 if action in (Action.REFUSED, Action.FAILED, Action.RETRY_LATER, Action.REPORTED)]
    attention += [(check, "", Action.REPORTED, check.message) for check in checks
                  if check.drift_class in (DriftClass.ERROR, DriftClass.MISSING, DriftClass.UNMANAGED,
                                           DriftClass.REFUSED)
                  and "" not in check.actions]
    if fixed:
        lines += ["", "## Fixed", ""] + [f"- `{c.key}` {p}" for c, p in fixed]
    if attention:
        lines += ["", "## Needs a person", ""]
        lines += [f"- `{c.key}` {p or c.drift_class.value}: {a.value}{': ' + m if m else ''}"
                  for c, p, a, m in attention]
    left = [(check, difference, why) for check in checks for difference, why in check.ignored]
    if left:
        lines += ["", "## Left to others", ""] + [f"- `{c.key}` {d.path}: {why}" for c, d, why in left]
    if not fixed and not attention:
        lines += ["", "Everything is in sync."]
    return "\n".join(lines)


def write_report(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        frame.to_json(path, orient="records", indent=2)
    else:
        frame.to_csv(path, index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.drift", description=__doc__.splitlines()[0])
    add_scope(parser, default_all=True)
    parser.add_argument("-l", "--selector", help="a label selector, e.g. team=payments")
    parser.add_argument("--detect-only", action="store_true", help="report, change nothing")
    parser.add_argument("--report", metavar="FILE.csv|FILE.json", help="also write the report rows to a file")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 2 when drift was found")
    parser.add_argument("--shard-by", choices=["namespace", "account"],
                        help="one child run of the drift deployment per namespace or account, spread over its work "
                             "pool's workers; one report")
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="tables read, and resources remediated, at once (default 16)")
    add_controller_namespace(parser)
    args = parser.parse_args(argv)
    if args.report and Path(args.report).suffix not in (".csv", ".json"):
        parser.error(f"--report: {args.report!r} must end in .csv or .json")
    if args.concurrency < 1:
        parser.error("--concurrency: at least 1")
    if args.shard_by and (missing := guarded("drift", no_shard_deployment)):
        print(f"drift: {missing}", file=sys.stderr)
        return 1
    result = guarded("drift", lambda: drift(
        namespace=scope_of(args, default_all=True), label_selector=args.selector, detect_only=args.detect_only,
        report_path=args.report, connection=Connection(target=args.target), concurrency=args.concurrency,
        controller_namespace=args.controller_namespace, shard_by=args.shard_by))
    if result is None:
        return 1
    print(drift_lines(result.findings, result.counts[DriftClass.IN_SYNC.value], args.report))
    if result.failures:
        print(f"drift: {result.failures} tables could not be checked or fixed (see the report)", file=sys.stderr)
        return 1
    return 2 if args.fail_on_drift and result.drift_found else 0


if __name__ == "__main__":
    sys.exit(main())
