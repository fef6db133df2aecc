"""The getting-started checklist, declared once: each step, what it needs, how it is made and how it goes.

`flows.bootstrap` walks the list forward and `flows.teardown` in reverse. A step's `needs` are its real
dependencies: it is handed those steps' typed results (ServiceResults, as Prefect futures), so each task takes what
it depends on and the Prefect run graph shows the edges; teardown removes a step only once every step that needs
it is gone. Steps with nothing between them run at once. Adding a service: its task module, and one entry here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.artifacts import create_table_artifact
from prefect.futures import PrefectFuture

from ack.model import TableSpec
from bootstrap import cluster_manifests
from bootstrap.config import BootstrapConfig
from ack.kinds import FIELD_EXPORT, Key
from controller.round import Options
from controller.workers import DEFAULT_TIMEOUT_SECONDS, DEFAULT_WORKERS, settle
from flows.cli import read_manifests
from tasks.account import check_account
from tasks.aws import ServiceResult
from tasks.aws.apigateway import delete_http_api, ensure_http_api
from tasks.aws.appmesh import delete_mesh, ensure_mesh
from tasks.aws.cloudwatch import (
    alarm_specs, delete_alarm, delete_dashboard, delete_log_group, ensure_alarm, ensure_dashboard, ensure_log_group,
    log_group_specs,
)
from tasks.aws.codepipeline import (
    BUILD_STAGES, delete_build_project, delete_pipeline, ensure_build_project, ensure_pipeline,
)
from tasks.aws.databases import (
    delete_aurora_cluster, delete_db_instance, delete_db_subnet_group, delete_docdb_cluster, delete_docdb_instance,
    ensure_aurora_cluster, ensure_db_instance, ensure_db_subnet_group, ensure_docdb_cluster, ensure_docdb_instance,
    is_aurora,
)
from tasks.aws.drift_events import delete_drift_events, ensure_drift_events
from tasks.aws.ecr import delete_repository, ensure_repository
from tasks.aws.eks import cluster_name, delete_cluster, delete_nodegroup, ensure_cluster, ensure_nodegroup
from tasks.aws.iam import ROLE_KINDS, delete_role, ensure_role
from tasks.aws.msk import delete_msk_cluster, ensure_msk_cluster
from tasks.aws.network import (
    SECURITY_GROUPS, delete_security_group, delete_subnets, delete_vpc, ensure_security_group, ensure_subnets,
    ensure_vpc, vpc_id_of,
)
from tasks.aws.s3 import BUCKET_PURPOSES, delete_bucket, ensure_bucket
from tasks.aws.storage import (
    delete_ebs_volume, delete_file_system, ensure_ebs_volume, ensure_file_system, ensure_mount_targets,
)
from tasks.cluster import check_cluster, eks_target
from tasks.connections import Connection, Target, resolve_target
from tasks.dynamodb import read_live
from tasks.helm import ensure_release, uninstall_release
from tasks.kube_apply import apply_manifests, delete_manifests
from tasks.kube_tables import apply_resource, delete_resource, ensure_crd

# What a step made: futures of its results (one, a list, or a dict of them), or results themselves.
Made = Any


class StepFailed(RuntimeError):
    """A checklist step failed; the message names it."""


@dataclass
class Run:
    """One walk of the checklist: where, with which configuration, and whether it only plans."""

    where: Target
    config: BootstrapConfig
    dry_run: bool
    cluster: Target | None = None  # the cluster's API, once the cluster step reached it
    vpc_id: str | None = None  # for teardown: the VPC the bootstrap used
    options: Options | None = None  # the controller's options for the Tables' reconciles (None: the environment's)

    @property
    def p(self) -> str:
        return self.config.prefix


@dataclass(frozen=True)
class Step:
    name: str
    make: Callable[[Run, Mapping[str, Made]], Made]
    remove: Callable[[Run, list[PrefectFuture]], Made] | None = None  # (run, what must be gone first)
    needs: tuple[str, ...] = ()
    enabled: Callable[[BootstrapConfig], bool] = field(default=lambda config: True)


def _items(made: Made) -> list[Any]:
    """What a step made (one, a list or a dict of futures or results) as a list."""
    if isinstance(made, Mapping):
        return list(made.values())
    return made if isinstance(made, list) else [made]


def results(step: str, made: Made) -> list[ServiceResult]:
    """What a step made, as rows (waiting for its futures); StepFailed naming the step when one failed."""
    rows: list[ServiceResult] = []
    for item in _items(made):
        try:
            value = item.result() if isinstance(item, PrefectFuture) else item
        except Exception as exc:
            raise StepFailed(f"{step}: {exc}".splitlines()[0]) from exc
        rows += value if isinstance(value, list) else [value]
    return rows


def futures(made: Made) -> list[PrefectFuture]:
    return [item for item in _items(made) if isinstance(item, PrefectFuture)]


# ----------------------------------------------------------------------------------------- on the cluster


def _cluster(run: Run, up: Mapping[str, Made]) -> list[ServiceResult]:
    """The cluster's API: the bootstrap's EKS cluster on AWS (once it and its nodes are ACTIVE); on the sandbox
    its API server stands in (moto's EKS has none)."""
    if run.where.kind == "aws":
        [eks] = results("EKS cluster", up["eks cluster"])
        results("EKS node group", up["eks nodegroup"])
        if run.dry_run and not eks.id:  # planned: nothing to connect to yet
            return [ServiceResult(service="cluster", name=cluster_name(run.p), id="", status="planned",
                                  action="would create")]
        run.cluster = eks_target(run.where, cluster_name(run.p), tempfile.mkdtemp(prefix="ackflow-"))
    else:
        run.cluster = run.where
    info = check_cluster(run.cluster)
    return [ServiceResult(service="cluster", name=info["server"], id=info["version"], status="reachable",
                          action="found")]


def _tables(run: Run, up: Mapping[str, Made]) -> list[ServiceResult]:
    """The DynamoDB tables, made the ACK way: Table resources applied, then reconciled together until synced."""
    if run.cluster is None:
        return []
    out, applied, existed = [], {}, set()
    if not run.dry_run:
        ensure_crd(run.cluster)
    for manifest in read_manifests([str(path) for path in run.config.dynamodb.manifests]):
        meta = manifest["metadata"]
        meta.setdefault("namespace", "default")
        table = manifest["spec"]["tableName"]
        live = read_live(run.cluster, TableSpec.model_validate(manifest["spec"]))
        if run.dry_run:
            out.append(ServiceResult(service="dynamodb table", name=table, id=live.observed.arn if live else "",
                                     status=live.observed.table_status if live else "absent",
                                     action="found" if live else "would create"))
            continue
        if refusal := apply_resource(run.cluster, manifest):
            raise StepFailed(f"DynamoDB table {table}: {refusal}")
        applied[Key.of(manifest)] = table
        if live:
            existed.add(table)
    for outcome in settle(run.cluster, applied, DEFAULT_WORKERS, DEFAULT_TIMEOUT_SECONDS, run.options):
        if not outcome.ok:
            raise StepFailed(f"DynamoDB table {outcome.table}: {outcome.state}: {outcome.message}")
        out.append(ServiceResult(service="dynamodb table", name=outcome.table,
                                 id=f"{outcome.namespace}/{outcome.name}", status="Synced",
                                 action="found" if outcome.table in existed else "created"))
    return out


def _remove_tables(run: Run) -> list[ServiceResult]:
    """Each Table resource deleted, and its table with it unless its deletion policy says retain."""
    if run.cluster is None:
        return []
    out, deleted = [], {}
    for manifest in read_manifests([str(path) for path in run.config.dynamodb.manifests]):
        meta = manifest["metadata"]
        namespace, name, table = meta.get("namespace", "default"), meta["name"], manifest["spec"]["tableName"]
        row = {"service": "dynamodb table", "name": table, "id": f"{namespace}/{name}", "status": ""}
        if run.dry_run:
            out.append(ServiceResult(**row, action="would delete"))
        elif delete_resource(run.cluster, namespace, name):
            deleted[Key.of(manifest)] = table
        else:
            out.append(ServiceResult(**row, action="absent"))
    for outcome in settle(run.cluster, deleted, DEFAULT_WORKERS, DEFAULT_TIMEOUT_SECONDS, run.options):
        if not outcome.ok:
            raise StepFailed(f"DynamoDB table {outcome.table}: {outcome.state}: {outcome.message}")
        out.append(ServiceResult(service="dynamodb table", name=outcome.table,
                                 id=f"{outcome.namespace}/{outcome.name}", status=outcome.message,
                                 action="kept" if outcome.state == "Retained" else "deleted"))
    return out


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def apply_cluster_manifests(cluster: Target, config: BootstrapConfig, efs: list[ServiceResult] | None,
                            dry_run: bool) -> list[ServiceResult]:
    """The agents and StorageClasses on the cluster; the EFS StorageClass names the file system (`efs`: the
    file system and its mount targets, None without EFS)."""
    file_system = (efs[0].id or "fs-planned") if efs else None  # planned: its StorageClass is too
    return apply_manifests.fn(cluster, cluster_manifests.for_config(config, file_system), "kubernetes", dry_run)


@task(cache_policy=NO_CACHE)
def release_sample_app(cluster: Target, repository: ServiceResult, tables: bool, dry_run: bool) -> ServiceResult:
    """The checklist's last step: the application, with Helm, its image from the ECR repository, its tables' names
    and ARNs (`tables`) from the ConfigMap the FieldExports keep."""
    values = cluster_manifests.sample_app_values(repository.id or "app", tables)
    return ensure_release.fn(cluster, cluster_manifests.APP_NAME, cluster_manifests.APP_CHART,
                             cluster_manifests.APP_NAMESPACE, values, dry_run)


def _exports(run: Run) -> list[dict[str, Any]]:
    """The sample app's ConfigMap and FieldExports, for the Table resources of the configuration in its namespace."""
    tables = [m["metadata"]["name"] for m in read_manifests([str(path) for path in run.config.dynamodb.manifests])
              if m["metadata"].get("namespace", "default") == cluster_manifests.APP_NAMESPACE]
    return cluster_manifests.table_exports(tables)


def _settle_exports(run: Run, manifests: list[dict[str, Any]]) -> None:
    """Reconcile the FieldExports among `manifests` until synced (or, deleted, released)."""
    keys = {Key.of(m): "" for m in manifests if m["kind"] == FIELD_EXPORT.kind}
    for outcome in settle(run.cluster, keys, DEFAULT_WORKERS, DEFAULT_TIMEOUT_SECONDS, run.options):
        if not outcome.ok:
            raise StepFailed(f"FieldExport {outcome.namespace}/{outcome.name}: {outcome.state}: {outcome.message}")


def _table_exports(run: Run, up: Mapping[str, Made]) -> list[ServiceResult]:
    """The tables' names and ARNs, where the sample app reads them: FieldExports into its ConfigMap."""
    if run.cluster is None:
        return []
    manifests = _exports(run)
    rows = apply_manifests(run.cluster, manifests, "table exports", run.dry_run)
    if not run.dry_run:
        _settle_exports(run, manifests)
    return rows


def _remove_table_exports(run: Run) -> list[ServiceResult]:
    if run.cluster is None:
        return []
    manifests = _exports(run)
    rows = delete_manifests(run.cluster, manifests, "table exports", run.dry_run)
    if not run.dry_run:
        _settle_exports(run, manifests)  # each releases its finalizer: the exported keys stay, as in ACK
    return rows


def _on(service: str) -> Callable[[BootstrapConfig], bool]:
    return lambda config: getattr(config, service).enabled


def _teardown_cluster(run: Run) -> None:
    """Where teardown finds the cluster (None when it is gone already: nothing on it to remove)."""
    try:
        run.cluster = eks_target(run.where, cluster_name(run.p), tempfile.mkdtemp(prefix="ackflow-")) \
            if run.where.kind == "aws" else run.where
    except Exception:  # noqa: BLE001 (no cluster, left already)
        run.cluster = None


def _vpc_id(run: Run) -> str | None:
    if run.vpc_id is None:
        run.vpc_id = vpc_id_of(run.where, run.p, run.config.network) or ""
    return run.vpc_id or None


def _in_vpc(run: Run, remove: Callable[[str], Made]) -> Made:
    """`remove(vpc_id)` for what lives in the bootstrap's VPC; nothing when there is no VPC (left already)."""
    return remove(vpc) if (vpc := _vpc_id(run)) else []


# ------------------------------------------------------------------------------------------- the checklist

CHECKLIST: list[Step] = [
    # Checked before anything is submitted: without working credentials in the configured region nothing starts.
    Step("account",
         lambda run, up: check_account(run.where, run.config.region)),
    Step("roles",
         lambda run, up: {k: ensure_role.submit(run.where, run.p, k, run.dry_run) for k in ROLE_KINDS},
         lambda run, after: [delete_role.submit(run.where, run.p, k, run.dry_run, wait_for=after)
                             for k in ROLE_KINDS],
         needs=("account",)),
    Step("buckets",
         lambda run, up: {b: ensure_bucket.submit(run.where, run.p, b, run.dry_run) for b in BUCKET_PURPOSES},
         lambda run, after: [delete_bucket.submit(run.where, run.p, b, run.dry_run, wait_for=after)
                             for b in BUCKET_PURPOSES],
         needs=("account",)),
    Step("ecr",
         lambda run, up: ensure_repository.submit(run.where, run.p, run.config.ecr, run.dry_run),
         lambda run, after: delete_repository.submit(run.where, run.p, run.config.ecr, run.dry_run, wait_for=after),
         needs=("account",), enabled=_on("ecr")),
    Step("app mesh",
         lambda run, up: ensure_mesh.submit(run.where, run.p, run.dry_run),
         lambda run, after: delete_mesh.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("account",), enabled=_on("appmesh")),
    Step("api gateway",
         lambda run, up: ensure_http_api.submit(run.where, run.p, run.dry_run),
         lambda run, after: delete_http_api.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("account",), enabled=_on("apigateway")),
    # Before EKS: it would make its cluster's log group itself, untagged.
    Step("log groups",
         lambda run, up: [ensure_log_group.submit(run.where, run.p, s, run.dry_run)
                          for s in log_group_specs(run.config)],
         lambda run, after: [delete_log_group.submit(run.where, run.p, s.name, run.dry_run, wait_for=after)
                             for s in log_group_specs(run.config)],
         needs=("account",), enabled=_on("cloudwatch")),
    Step("alarms",
         lambda run, up: [ensure_alarm.submit(run.where, run.p, s, run.dry_run) for s in alarm_specs(run.config)],
         lambda run, after: [delete_alarm.submit(run.where, run.p, s.name, run.dry_run, wait_for=after)
                             for s in alarm_specs(run.config)],
         needs=("account",), enabled=_on("cloudwatch")),
    Step("dashboard",
         lambda run, up: ensure_dashboard.submit(run.where, run.p, alarm_specs(run.config), run.dry_run,
                                                 wait_for=futures(up["alarms"])),
         lambda run, after: delete_dashboard.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("alarms",), enabled=_on("cloudwatch")),
    Step("vpc",
         lambda run, up: ensure_vpc.submit(run.where, run.p, run.config.network, run.dry_run),
         lambda run, after: delete_vpc.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("account",)),
    Step("subnets",
         lambda run, up: ensure_subnets.submit(run.where, run.p, up["vpc"], run.config.network, run.dry_run),
         lambda run, after: _in_vpc(run, lambda vpc: delete_subnets.submit(
             run.where, run.p, vpc, run.dry_run, wait_for=after)),
         needs=("vpc",)),
    Step("security groups",
         lambda run, up: {g: ensure_security_group.submit(run.where, run.p, up["vpc"], g, run.dry_run)
                          for g in SECURITY_GROUPS},
         lambda run, after: _in_vpc(run, lambda vpc: [delete_security_group.submit(
             run.where, run.p, vpc, g, run.dry_run, wait_for=after) for g in SECURITY_GROUPS]),
         needs=("vpc",)),
    Step("eks cluster",
         lambda run, up: ensure_cluster.submit(run.where, run.p, run.config.eks, up["roles"]["eks-cluster"],
                                               up["subnets"], up["security groups"]["cluster"], run.dry_run,
                                               wait_for=futures(up.get("log groups", []))),
         lambda run, after: delete_cluster.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("roles", "subnets", "security groups", "log groups"), enabled=_on("eks")),
    Step("eks nodegroup",
         lambda run, up: ensure_nodegroup.submit(run.where, run.p, run.config.eks, up["roles"]["eks-nodes"],
                                                 up["subnets"], run.dry_run, wait_for=[up["eks cluster"]]),
         lambda run, after: delete_nodegroup.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("roles", "subnets", "eks cluster"), enabled=_on("eks")),
    Step("msk",
         lambda run, up: ensure_msk_cluster.submit(run.where, run.p, run.config.msk, up["subnets"],
                                                   up["security groups"]["kafka"], run.dry_run),
         lambda run, after: delete_msk_cluster.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("subnets", "security groups"), enabled=_on("msk")),
    Step("db subnet group",
         lambda run, up: ensure_db_subnet_group.submit(run.where, run.p, up["subnets"], run.dry_run),
         lambda run, after: delete_db_subnet_group.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("subnets",), enabled=lambda config: config.rds.enabled or config.docdb.enabled),
    Step("aurora cluster",
         lambda run, up: ensure_aurora_cluster.submit(run.where, run.p, run.config.rds, up["db subnet group"],
                                                      up["security groups"]["database"], run.dry_run),
         lambda run, after: delete_aurora_cluster.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("db subnet group", "security groups"),
         enabled=lambda config: config.rds.enabled and is_aurora(config.rds)),
    Step("rds instance",
         lambda run, up: ensure_db_instance.submit(run.where, run.p, run.config.rds, up["db subnet group"],
                                                   up["security groups"]["database"], run.dry_run,
                                                   wait_for=futures(up.get("aurora cluster", []))),
         lambda run, after: delete_db_instance.submit(run.where, run.p, run.config.rds, run.dry_run, wait_for=after),
         needs=("db subnet group", "security groups", "aurora cluster"), enabled=_on("rds")),
    Step("docdb cluster",
         lambda run, up: ensure_docdb_cluster.submit(run.where, run.p, up["db subnet group"],
                                                     up["security groups"]["database"], run.dry_run),
         lambda run, after: delete_docdb_cluster.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("db subnet group", "security groups"), enabled=_on("docdb")),
    Step("docdb instances",
         lambda run, up: [ensure_docdb_instance.submit(run.where, run.p, run.config.docdb, i, run.dry_run,
                                                       wait_for=[up["docdb cluster"]])
                          for i in range(run.config.docdb.instances)],
         lambda run, after: [delete_docdb_instance.submit(run.where, run.p, i, run.dry_run, wait_for=after)
                             for i in range(run.config.docdb.instances)],
         needs=("docdb cluster",), enabled=_on("docdb")),
    Step("build projects",
         lambda run, up: [ensure_build_project.submit(run.where, run.p, stage, run.config.codepipeline,
                                                      up["roles"]["codebuild"], up["buckets"]["artifacts"],
                                                      up.get("ecr"), run.dry_run) for stage in BUILD_STAGES],
         lambda run, after: [delete_build_project.submit(run.where, run.p, stage, run.dry_run, wait_for=after)
                             for stage in BUILD_STAGES],
         needs=("roles", "buckets", "ecr", "log groups"), enabled=_on("codepipeline")),
    Step("pipeline",
         lambda run, up: ensure_pipeline.submit(run.where, run.p, run.config.codepipeline,
                                                up["roles"]["codepipeline"], up["buckets"]["artifacts"],
                                                run.dry_run, wait_for=futures(up["build projects"])),
         lambda run, after: delete_pipeline.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("roles", "buckets", "build projects"), enabled=_on("codepipeline")),
    Step("drift events",
         lambda run, up: ensure_drift_events.submit(run.where, run.p, run.config.drift_events.queue, run.dry_run),
         lambda run, after: delete_drift_events.submit(run.where, run.p, run.config.drift_events.queue, run.dry_run,
                                                       wait_for=after),
         needs=("account",), enabled=_on("drift_events")),
    Step("ebs",
         lambda run, up: ensure_ebs_volume.submit(run.where, run.p, run.config.storage, up["subnets"], run.dry_run),
         lambda run, after: delete_ebs_volume.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("subnets",), enabled=_on("storage")),
    Step("efs",
         lambda run, up: _file_system(run, up),
         lambda run, after: delete_file_system.submit(run.where, run.p, run.dry_run, wait_for=after),
         needs=("subnets", "security groups"),
         enabled=lambda config: config.storage.enabled and config.storage.efs),
    Step("cluster", _cluster, needs=("eks cluster", "eks nodegroup")),
    Step("cluster manifests",
         lambda run, up: [] if run.cluster is None else apply_cluster_manifests.submit(
             run.cluster, run.config, up.get("efs"), run.dry_run),
         lambda run, after: [] if run.cluster is None else delete_manifests.submit(
             run.cluster, cluster_manifests.for_config(run.config, "-"), "kubernetes", run.dry_run, wait_for=after),
         needs=("cluster", "efs")),
    # Its reconciles run in this thread, while the steps above run in the task runner's.
    Step("tables", _tables, lambda run, after: _remove_tables(run), needs=("cluster",), enabled=_on("dynamodb")),
    Step("table exports", _table_exports, lambda run, after: _remove_table_exports(run), needs=("cluster", "tables"),
         enabled=_on("dynamodb")),
    # Last: its pods read the exports as their environment when they start.
    Step("sample app",
         lambda run, up: [] if run.cluster is None else release_sample_app.submit(
             run.cluster, up["ecr"], "table exports" in up, run.dry_run),
         lambda run, after: [] if run.cluster is None else uninstall_release.submit(
             run.cluster, cluster_manifests.APP_NAME, cluster_manifests.APP_CHART, cluster_manifests.APP_NAMESPACE,
             run.dry_run, wait_for=after),
         needs=("cluster", "ecr", "table exports"), enabled=_on("ecr")),
]


def _file_system(run: Run, up: Mapping[str, Made]) -> Made:
    """The file system, and a mount target of it in each subnet."""
    file_system = ensure_file_system.submit(run.where, run.p, run.dry_run)
    targets = ensure_mount_targets.submit(run.where, run.p, file_system, up["subnets"],
                                          up["security groups"]["efs"], run.dry_run)
    return [file_system, targets]


@task
def connect(connection: Connection) -> Target:
    return resolve_target(connection)


def summarise(rows: list[ServiceResult], key: str, description: str) -> None:
    """Every row as a Prefect table artifact (the command line renders them: flows/output.py)."""
    create_table_artifact(key=key, table=[row.model_dump() for row in rows], description=description)


def enabled_steps(config: BootstrapConfig) -> list[Step]:
    return [step for step in CHECKLIST if step.enabled(config)]


def build(run: Run) -> list[ServiceResult]:
    """Walk the checklist forward: each step submitted with what it needs (steps with nothing between them run at
    once); the rows in the checklist's order."""
    made: dict[str, Made] = {}
    for step in enabled_steps(run.config):
        made[step.name] = step.make(run, {need: made[need] for need in step.needs if need in made})
    return [row for name, found in made.items() for row in results(name, found)]


def tear_down(run: Run) -> list[ServiceResult]:
    """Walk the checklist in reverse: a step removed once every step that needs it (directly or through others,
    such as everything on the cluster before the EKS cluster) is gone; the rows in the order of removal."""
    steps = enabled_steps(run.config)
    _teardown_cluster(run)
    removed: dict[str, Made] = {}
    for step in reversed(steps):
        if step.remove is None:
            continue
        after = [f for name in _needing(step.name, steps) if name in removed for f in futures(removed[name])]
        removed[step.name] = step.remove(run, after)
    return [row for name, gone in removed.items() for row in results(name, gone)]


def _needing(name: str, steps: list[Step]) -> set[str]:
    """The steps that need `name`, directly or through others."""
    found: set[str] = set()
    frontier = {name}
    while frontier:
        frontier = {step.name for step in steps if frontier & set(step.needs)} - found
        found |= frontier
    return found
