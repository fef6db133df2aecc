"""`python -m flows.reconcile [-n NS | --all-namespaces] [NAME]`: the ACK controller's part.

For each Table resource: read the live table, create (or adopt) it, then read, diff, plan and run one
round of calls at a time until nothing differs, and write the status once, only when it changed.
Deleting a resource deletes its table (unless retained) before its finalizer is removed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.settings import temporary_settings
from pydantic import ValidationError

from ack import conditions as cond
from ack.delta import delta
from ack.errors import Recoverable, ReconcileError, Terminal
from ack.model import (
    ADOPTION_FIELDS,
    ADOPTION_POLICY,
    ALLOW_DESTRUCTIVE,
    DELETION_POLICY,
    FINALIZER,
    NAMESPACE_DELETION_POLICY,
    OWNER_TAG,
    READ_ONLY,
    RECREATE_MISSING,
    TableSpec,
)
from ack.outcome import Outcome, summary
from flows.cli import add_scope, guarded, outcomes_exit, scope_of
from ack.plan import Step, create_table_params, delete_table, plan
from ack.validate import unsupported, validate
from tasks.connections import AWS_RETRIES, Connection, Target, resolve_target
from tasks.dynamodb import LiveTable, read_table, run_step, wait_until_gone, wait_until_settled
from tasks.kube_tables import (
    Conflict,
    ensure_crd,
    list_resources,
    namespace_annotations,
    read_resource,
    set_finalizer,
    write_status,
)

# What the sandbox's AWS endpoint cannot serve: refused before any AWS call, with this field named.
SANDBOX_UNSUPPORTED = ("tableReplicas", "resourcePolicy", "sseSpecification.kmsMasterKeyRef")
CONFLICT_RETRIES = 3
DEFAULT_TIMEOUT_SECONDS = 600.0


def poll_seconds(target: Target) -> float:
    return 0.2 if target.kind == "sandbox" else 5.0


@flow(name="reconcile-table", flow_run_name="{namespace}/{name}", log_prints=True)
def reconcile_table(namespace: str, name: str, target: Target,
                    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Outcome:
    """One Table resource, brought to its spec (or deleted, if it is being deleted)."""
    for _ in range(CONFLICT_RETRIES):
        resource = read_resource(target, namespace, name)
        if resource is None:
            return Outcome(namespace=namespace, name=name, state="Gone", message="the resource no longer exists")
        try:
            if resource["metadata"].get("deletionTimestamp"):
                return _finalize(target, resource, timeout_seconds)
            return _converge(target, resource, timeout_seconds)
        except Conflict as exc:  # changed while we worked: read it again, never overwrite blindly
            get_run_logger().info("%s; reading it again", exc)
    return Outcome(namespace=namespace, name=name, state="Recoverable",
                   message=f"the resource kept changing during {CONFLICT_RETRIES} attempts; try again")


def _converge(target: Target, resource: dict[str, Any], timeout_seconds: float) -> Outcome:
    resource = set_finalizer(target, resource, True)
    meta, status = resource["metadata"], resource.get("status") or {}
    annotations = meta.get("annotations") or {}
    conditions = status.get("conditions") or []
    spec_name = (resource.get("spec") or {}).get("tableName", "")
    live: LiveTable | None = None
    managed: list[str] | None = None  # set once a spec's indexes all exist
    state, message = "Synced", ""
    deadline = time.monotonic() + timeout_seconds
    try:
        spec = _checked_spec(target, resource)
        live = read_table(target, spec)
        if annotations.get(READ_ONLY) == "true":
            live, message = _observe_only(spec, live)
            conditions = cond.synced(conditions, message) if not message else cond.pending(conditions, message)
        else:
            live, adopted = _ensure_table(target, resource, spec, live, deadline)
            if adopted:
                conditions = cond.adopted(conditions, f"took over the existing table {spec.table_name}")
            live = converge_table(target, spec, live, deadline, annotations.get(ALLOW_DESTRUCTIVE) == "true",
                                  frozenset(status.get("managedIndexes") or []))
            managed = [index.index_name for index in spec.global_secondary_indexes or []]
            conditions = cond.synced(conditions)
    except Terminal as exc:
        state, message = "Terminal", exc.message
        conditions = cond.terminal(conditions, exc.reason, exc.message)
    except Recoverable as exc:
        state, message = "Recoverable", exc.message
        conditions = cond.recoverable(conditions, exc.reason, exc.message)

    new_status = status_after(status, live, conditions, meta.get("generation"), managed)
    if cond.status_changed(status, new_status):
        write_status(target, resource, new_status)
    return Outcome(namespace=meta["namespace"], name=meta["name"], table=spec_name, state=state, message=message)


def _checked_spec(target: Target, resource: dict[str, Any]) -> TableSpec:
    """The spec, checked for all that AWS would refuse and the schema cannot say, before any AWS call."""
    try:
        spec = TableSpec.model_validate(resource.get("spec") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "spec." + ".".join(str(part) for part in first["loc"])
        raise Terminal("InvalidSpec", f"{field}: {first['msg']}") from None
    problems = validate(spec)
    if target.kind == "sandbox":
        problems += unsupported(spec, SANDBOX_UNSUPPORTED, "is not served by the sandbox's AWS endpoint")
        if spec.contributor_insights in ("ENABLE", "ENABLED"):
            problems += unsupported(spec, ["contributorInsights"], "is not served by the sandbox's AWS endpoint")
    if problems:
        kind = "Unsupported" if all(p.kind == "unsupported" for p in problems) else "InvalidSpec"
        raise Terminal(kind, "; ".join(map(str, problems)))
    owned_arn = ((resource.get("status") or {}).get("ackResourceMetadata") or {}).get("arn", "")
    if owned_arn and not owned_arn.endswith(f":table/{spec.table_name}"):
        old = owned_arn.rsplit("/", 1)[-1]
        raise Terminal("RequiresReplacement", f'spec.tableName: renaming needs a new resource: the table "{old}" '
                                              f'stays; create a new Table resource for "{spec.table_name}"')
    return spec


def _owner(resource: dict[str, Any]) -> str:
    return f"{resource['metadata']['namespace']}/{resource['metadata']['name']}"


def _ensure_table(target: Target, resource: dict[str, Any], spec: TableSpec,
                  live: LiveTable | None, deadline: float) -> tuple[LiveTable, bool]:
    """The table this resource manages: found, created, or adopted (True) when the annotations allow it."""
    annotations = resource["metadata"].get("annotations") or {}
    policy = annotations.get(ADOPTION_POLICY, "")
    if policy not in ("", "adopt", "adopt-or-create"):
        raise Terminal("InvalidAnnotation", f"metadata.annotations[{ADOPTION_POLICY}]: {policy!r} is not one of "
                                            "'adopt', 'adopt-or-create'")
    if policy:
        _check_adoption_fields(annotations.get(ADOPTION_FIELDS), spec)
    owner = _owner(resource)
    if live is None:
        had_table = bool(((resource.get("status") or {}).get("ackResourceMetadata") or {}).get("arn"))
        if had_table and annotations.get(RECREATE_MISSING) != "true":
            raise Terminal("TableMissing", f"the table {spec.table_name} was deleted outside the cluster; annotate "
                                           f'{RECREATE_MISSING}: "true" to create it again (empty)')
        if policy == "adopt":
            raise Terminal("NothingToAdopt", f"{ADOPTION_POLICY} is adopt but no table {spec.table_name} exists")
        params = create_table_params(spec)
        params["Tags"] = [*params.get("Tags", []), {"Key": OWNER_TAG, "Value": owner}]
        try:
            run_step(target, Step("CreateTable", params, f"create the table {spec.table_name}"))
        except Recoverable as exc:
            if exc.reason != "Busy":  # ResourceInUse: made meanwhile (a rerun after a crash); read it below
                raise
        return _settled(target, spec, deadline), False
    if live.owner == owner:
        return live, False
    if live.owner:
        raise Terminal("OwnedElsewhere", f"the table {spec.table_name} is managed by the resource {live.owner}")
    if not policy:
        raise Terminal("TableExists", f"a table named {spec.table_name} already exists and this resource does not "
                                      f"own it; annotate {ADOPTION_POLICY}: adopt to take it over")
    run_step(target, Step("TagResource", {"ResourceArn": live.observed.arn,
                                          "Tags": [{"Key": OWNER_TAG, "Value": owner}]},
                          f"adopt the table {spec.table_name}"))
    return live, True


def _check_adoption_fields(raw: str | None, spec: TableSpec) -> None:
    if raw is None:
        return
    try:
        fields = json.loads(raw)
    except ValueError:
        raise Terminal("InvalidAnnotation", f"metadata.annotations[{ADOPTION_FIELDS}]: not valid JSON") from None
    named = fields.get("tableName") if isinstance(fields, dict) else None
    if named is not None and named != spec.table_name:
        raise Terminal("InvalidAnnotation", f"metadata.annotations[{ADOPTION_FIELDS}]: tableName {named!r} differs "
                                            f"from spec.tableName {spec.table_name!r}")


def _wait_until_settled(target: Target, spec: TableSpec, deadline: float) -> None:
    timeout = max(deadline - time.monotonic(), 1.0)
    if not wait_until_settled(target, spec.table_name, timeout, poll_seconds(target)):
        raise Recoverable("TableMissing", f"the table {spec.table_name} disappeared while it was reconciled")


def _settled(target: Target, spec: TableSpec, deadline: float) -> LiveTable:
    """The table once it and its indexes are ACTIVE again, read in full."""
    _wait_until_settled(target, spec, deadline)
    live = read_table(target, spec)
    if live is None:
        raise Recoverable("TableMissing", f"the table {spec.table_name} disappeared while it was reconciled")
    return live


def converge_table(target: Target, spec: TableSpec, live: LiveTable, deadline: float,
                   allow_destructive: bool, known_indexes: frozenset[str]) -> LiveTable:
    """Read, diff, plan and run one round at a time until nothing differs (or the deadline passes)."""
    while True:
        differences = delta(spec, live.observed.spec)
        step_plan = plan(differences, live.observed, spec, allow_destructive=allow_destructive,
                         known_indexes=known_indexes)
        if step_plan.replacements:
            raise Terminal("RequiresReplacement", "; ".join(map(str, step_plan.replacements)))
        if step_plan.terminal:
            raise Terminal("TableUnavailable", step_plan.terminal)
        if not step_plan.steps and not step_plan.wait:
            if step_plan.refused:
                raise Terminal("DestructiveChange", "not done without an opt-in: " + "; ".join(
                    s.reason for s in step_plan.refused) + f'; annotate {ALLOW_DESTRUCTIVE}: "true" to allow it')
            return live
        if time.monotonic() >= deadline:
            raise Recoverable("Timeout", f"the table {spec.table_name} did not converge in time; "
                                         f"left to do: {', '.join(d.path for d in differences)}")
        for previous, step in zip([None, *step_plan.steps], step_plan.steps):
            if previous is not None and previous.api == "UpdateTable":
                _wait_until_settled(target, spec, deadline)  # AWS takes no call while the last update runs
            try:
                run_step(target, step)
            except Recoverable as exc:
                if exc.reason != "Busy":
                    raise
                break  # AWS is not ready for this step: wait, read again, plan again
        live = _settled(target, spec, deadline)


def _observe_only(spec: TableSpec, live: LiveTable | None) -> tuple[LiveTable, str]:
    """services.k8s.aws/read-only: report the differences, change nothing."""
    if live is None:
        raise Terminal("TableMissing", f"read-only: no table {spec.table_name} exists")
    differences = delta(spec, live.observed.spec)
    if not differences:
        return live, ""
    return live, f"read-only: {len(differences)} differences not applied: " + ", ".join(d.path for d in differences)


KEPT = ("managedIndexes", "lastDriftCheck")  # the reconciler's and the drift flow's own records


def status_after(old: dict[str, Any], live: LiveTable | None, conditions: list[dict], generation: int | None,
                 managed_indexes: list[str] | None = None) -> dict:
    """The new status: what AWS reports, the conditions, and the records the flows keep."""
    observed = cond.status_from_describe(live.describe) if live else {
        key: value for key, value in old.items() if key not in ("conditions", "observedGeneration", *KEPT)
    }
    status = {**observed, "conditions": conditions, "observedGeneration": generation}
    status.update({key: old[key] for key in KEPT if key in old})
    if managed_indexes is not None:
        status["managedIndexes"] = managed_indexes
    return status


# ------------------------------------------------------------------------------------- deletion


def _finalize(target: Target, resource: dict[str, Any], timeout_seconds: float) -> Outcome:
    """Delete the table (policy `delete`, the default) or keep it (`retain`), then release the resource."""
    meta = resource["metadata"]
    outcome = Outcome(namespace=meta["namespace"], name=meta["name"],
                      table=(resource.get("spec") or {}).get("tableName", ""), state="Deleted")
    if FINALIZER not in (meta.get("finalizers") or []):
        return outcome
    annotations = meta.get("annotations") or {}
    policy = (annotations.get(DELETION_POLICY)
              or namespace_annotations(target, meta["namespace"]).get(NAMESPACE_DELETION_POLICY) or "delete")
    if policy == "retain" or annotations.get(READ_ONLY) == "true":
        set_finalizer(target, resource, False)
        return outcome.model_copy(update={"state": "Retained", "message": f"the table {outcome.table} was kept"})
    if policy != "delete":
        return _refuse_deletion(target, resource, outcome, "InvalidAnnotation",
                                f"metadata.annotations[{DELETION_POLICY}]: {policy!r} is not one of 'delete', 'retain'")
    try:
        spec = TableSpec.model_validate(resource.get("spec") or {})
        live = read_table(target, spec)
        if live is not None and live.owner == _owner(resource):  # never delete a table it does not own
            deletion = delete_table(live.observed, spec)
            if deletion.terminal:
                return _refuse_deletion(target, resource, outcome, "DeletionProtected", deletion.terminal)
            for step in deletion.steps:
                run_step(target, step)
                if step.api == "UpdateTable":  # AWS deletes no table while it is UPDATING
                    wait_until_settled(target, spec.table_name, timeout_seconds, poll_seconds(target))
            wait_until_gone(target, spec.table_name, timeout_seconds, poll_seconds(target))
    except ValidationError:
        pass  # a spec that never validated never made a table
    except ReconcileError as exc:
        return _refuse_deletion(target, resource, outcome, exc.reason, exc.message)
    set_finalizer(target, resource, False)
    return outcome


def _refuse_deletion(target: Target, resource: dict[str, Any], outcome: Outcome, reason: str, message: str) -> Outcome:
    status = resource.get("status") or {}
    conditions = cond.terminal(status.get("conditions") or [], reason, message)
    new_status = {**status, "conditions": conditions}
    if cond.status_changed(status, new_status):
        write_status(target, resource, new_status)
    return outcome.model_copy(update={"state": "Terminal", "message": message})


# ------------------------------------------------------------------------------------------ command


def reconcile_subflow(namespace: str, name: str, target: Target,
                      timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Outcome:
    """reconcile_table as a subflow of the run in progress, without a heartbeat of its own: the parent run's
    already shows the process alive, and Prefect 3.9 ends each run's heartbeat by joining a thread that sleeps
    in 1 s steps (up to a second per table, measured in the bootstrap and watch benchmarks)."""
    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        return reconcile_table(namespace, name, target, timeout_seconds)


@flow(name="reconcile", log_prints=True)
def reconcile(namespace: str | None = None, name: str | None = None, connection: Connection = Connection(),
              timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> list[Outcome]:
    """Reconcile the Table resources already in the cluster: one namespace (or all), or one by name.

    Args:
        namespace: Only this namespace; empty for every namespace (with a name: `default`).
        name: Only the Table resource of this name.
        connection: Where the flow acts: the target and, optionally, credentials blocks.
        timeout_seconds: How long to wait for each table to converge.
    """
    where = resolve_target(connection)
    ensure_crd(where)
    if name:
        keys = [(namespace or "default", name)]
    else:
        keys = [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in list_resources(where, namespace)]
    outcomes = [reconcile_subflow(ns, n, where, timeout_seconds) for ns, n in keys]
    print("\n" + summary(outcomes) + f"\n\nAWS calls retried (throttling, 5xx): {AWS_RETRIES.value}")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.reconcile", description=__doc__.splitlines()[0])
    add_scope(parser)
    parser.add_argument("name", nargs="?", help="one resource by name")
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                        help="seconds to wait for each table to converge")
    args = parser.parse_args(argv)
    if args.all_namespaces and args.name:
        parser.error("a NAME needs a namespace (-n), not --all-namespaces")
    namespace = scope_of(args)
    return outcomes_exit("reconcile", guarded("reconcile", lambda: reconcile(
        namespace, args.name, Connection(target=args.target), args.timeout)))


if __name__ == "__main__":
    sys.exit(main())
