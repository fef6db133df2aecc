"""`python -m flows.bootstrap [--config FILE] [--plan] [--target sandbox|aws]`: the getting-started checklist.

One idempotent DAG: each step finds its resource by name and ownership tag and creates it only if missing,
so a second run creates nothing and a run interrupted midway is finished by the next. Independent services
run concurrently. `--plan` reads and reports, touching nothing. Ends with a summary table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.futures import PrefectFuture
from pydantic import Field

from ack.model import TableSpec
from bootstrap import cluster_manifests
from bootstrap.config import DEFAULT_CONFIG, BootstrapConfig, load_config
from controller.workers import DEFAULT_TIMEOUT_SECONDS, DEFAULT_WORKERS, settle
from flows.cli import guarded, read_manifests
from flows.output import service_rows
from flows.output import plan as plan_text
from tasks.account import check_aws_identity
from tasks.aws import ServiceResult
from tasks.aws.apigateway import ensure_http_api
from tasks.aws.appmesh import ensure_mesh
from tasks.aws.cloudwatch import alarm_specs, ensure_alarm, ensure_dashboard, ensure_log_group, log_group_specs
from tasks.aws.codepipeline import BUILD_STAGES, ensure_build_project, ensure_pipeline
from tasks.aws.databases import (
    ensure_aurora_cluster, ensure_db_instance, ensure_db_subnet_group, ensure_docdb_cluster, ensure_docdb_instance,
    is_aurora,
)
from tasks.aws.ecr import ensure_repository
from tasks.aws.eks import cluster_name, ensure_cluster, ensure_nodegroup
from tasks.aws.iam import ROLE_KINDS, ensure_role
from tasks.aws.msk import ensure_msk_cluster
from tasks.aws.network import SECURITY_GROUPS, ensure_security_group, ensure_subnets, ensure_vpc
from tasks.aws.s3 import BUCKET_PURPOSES, ensure_bucket
from tasks.aws.storage import ensure_ebs_volume, ensure_file_system, ensure_mount_target
from tasks.cluster import check_cluster, eks_target
from tasks.connections import Connection, Target, resolve_target
from tasks.dynamodb import read_live
from tasks.helm import ensure_release
from tasks.kube_apply import apply_manifests
from tasks.kube_tables import apply_resource, ensure_crd

# What costs money on a real account, said before anything is created there.
BILLED = ("EKS cluster and nodes", "RDS/Aurora", "DocumentDB", "MSK brokers", "EBS volume", "EFS", "NAT-free VPC",
          "CloudWatch logs, alarms and dashboard", "S3 and ECR storage", "CodePipeline and CodeBuild", "DynamoDB")


class StepFailed(RuntimeError):
    """A checklist step failed; the message names it."""


def done(step: str, future: PrefectFuture) -> Any:
    """The result of a submitted step, or StepFailed naming it."""
    try:
        return future.result()
    except Exception as exc:
        raise StepFailed(f"{step}: {exc}".splitlines()[0]) from exc


@task
def connect(connection: Connection) -> Target:
    return resolve_target(connection)


@flow(name="bootstrap", log_prints=True)
def bootstrap(config_path: str = Field(str(DEFAULT_CONFIG), description="The YAML configuration to run"),
              plan: bool = Field(False, description="Only read and report what would be created"),
              connection: Connection | None = Field(None, description="Where to act; default: the configuration's "
                                                                       "target")) -> list[ServiceResult]:
    """The getting-started checklist, from the account to the sample application on the cluster."""
    config = load_config(config_path)
    where = connect(connection or Connection(target=config.target))
    if where.kind == "aws":
        print("target aws: this creates billed resources: " + ", ".join(BILLED))
    rows = account(where, config) + services(where, config, dry_run=plan)
    rows += cluster_steps(where, config, rows, dry_run=plan)
    summarise(rows, "bootstrap-summary",
              "What the bootstrap planned" if plan else "What the bootstrap created or found")
    return rows


def account(where: Target, config: BootstrapConfig) -> list[ServiceResult]:
    identity = done("account", check_aws_identity.submit(where))
    if identity["region"] != config.region:
        raise StepFailed(f"account: the target's region is {identity['region']}, the configuration's "
                         f"{config.region}: set AWS_REGION={config.region} or change region")
    return [ServiceResult(service="account", name=identity["arn"], id=identity["account"],
                          status=f"region {identity['region']}", action="found")]


def services(where: Target, config: BootstrapConfig, dry_run: bool) -> list[ServiceResult]:
    """The account-level services, each step as soon as what it needs exists."""
    p, rows = config.prefix, []
    # Steps that need nothing else start at once and run while the network is made.
    roles = {kind: ensure_role.submit(where, p, kind, dry_run)
             for kind in ROLE_KINDS}
    buckets = {purpose: ensure_bucket.submit(where, p, purpose, dry_run) for purpose in BUCKET_PURPOSES}
    independent = {
        "ECR": ensure_repository.submit(where, p, config.ecr, dry_run) if config.ecr.enabled else None,
        "App Mesh": ensure_mesh.submit(where, p, dry_run) if config.appmesh.enabled else None,
        "API Gateway": ensure_http_api.submit(where, p, dry_run) if config.apigateway.enabled else None,
    }
    log_groups = [ensure_log_group.submit(where, p, spec, dry_run) for spec in log_group_specs(config)] \
        if config.cloudwatch.enabled else []
    alarms = alarm_specs(config) if config.cloudwatch.enabled else []
    alarm_futures = [ensure_alarm.submit(where, p, spec, dry_run) for spec in alarms]

    vpc = done("network: VPC", ensure_vpc.submit(where, p, config.network, dry_run))
    subnets = done("network: subnets", ensure_subnets.submit(where, p, vpc.id, config.network, dry_run))
    subnet_ids = [s.id for s in subnets]
    groups = {purpose: ensure_security_group.submit(where, p, vpc.id, purpose, dry_run)
              for purpose in SECURITY_GROUPS}
    group_id = {purpose: done(f"network: {purpose} security group", f).id for purpose, f in groups.items()}
    rows += [vpc, *subnets, *(done("network", f) for f in groups.values())]
    role_arn = {kind: done(f"IAM role {kind}", f).id for kind, f in roles.items()}
    rows += [done("IAM", f) for f in roles.values()] + [done("S3", f) for f in buckets.values()]
    rows += [done("CloudWatch log group", f) for f in log_groups]  # EKS would make its own, untagged

    later: dict[str, PrefectFuture] = {}
    if config.eks.enabled:
        later["EKS cluster"] = ensure_cluster.submit(where, p, config.eks, role_arn["eks-cluster"], subnet_ids,
                                                     [group_id["cluster"]], dry_run)
    if config.msk.enabled:
        later["MSK"] = ensure_msk_cluster.submit(where, p, config.msk, subnet_ids, [group_id["kafka"]], dry_run)
    if config.storage.enabled:
        zone = subnets[0].name.rsplit(f"{p}-", 1)[-1]  # default subnets are named by zone, ours PREFIX-ZONE
        later["EBS"] = ensure_ebs_volume.submit(where, p, config.storage, zone, dry_run)
    rows += databases(where, config, subnet_ids, group_id["database"], dry_run)
    if config.codepipeline.enabled:
        rows += pipeline(where, config, role_arn, done("S3 artifacts bucket", buckets["artifacts"]).name,
                         done("ECR", independent["ECR"]).id if independent["ECR"] else "", dry_run)
    if config.storage.enabled and config.storage.efs:
        rows += file_system(where, p, subnet_ids, group_id["efs"], dry_run)
    if config.eks.enabled:
        done("EKS cluster", later["EKS cluster"])
        later["EKS node group"] = ensure_nodegroup.submit(where, p, config.eks, role_arn["eks-nodes"], subnet_ids,
                                                         dry_run)
    rows += [done(step, f) for step, f in later.items()]
    rows += [done(step, f) for step, f in independent.items() if f is not None]
    rows += [done("CloudWatch alarm", f) for f in alarm_futures]
    if alarms:
        rows.append(done("CloudWatch dashboard", ensure_dashboard.submit(where, p, alarms, dry_run)))
    return rows


def databases(where: Target, config: BootstrapConfig, subnet_ids: list[str], group: str,
              dry_run: bool) -> list[ServiceResult]:
    if not (config.rds.enabled or config.docdb.enabled):
        return []
    p = config.prefix
    subnet_group = done("database subnet group", ensure_db_subnet_group.submit(where, p, subnet_ids, dry_run))
    rows = [subnet_group]
    if config.rds.enabled:
        if is_aurora(config.rds):
            rows.append(done("Aurora cluster", ensure_aurora_cluster.submit(where, p, config.rds, subnet_group.name,
                                                                     [group], dry_run)))
        rows.append(done("RDS instance", ensure_db_instance.submit(where, p, config.rds, subnet_group.name, [group],
                                                            dry_run)))
    if config.docdb.enabled:
        rows.append(done("DocumentDB cluster", ensure_docdb_cluster.submit(where, p, subnet_group.name, [group],
                                                                           dry_run)))
        rows += [done("DocumentDB instance", ensure_docdb_instance.submit(where, p, config.docdb, i, dry_run))
                 for i in range(config.docdb.instances)]
    return rows


def pipeline(where: Target, config: BootstrapConfig, role_arn: dict[str, str], bucket: str, repository: str,
             dry_run: bool) -> list[ServiceResult]:
    p = config.prefix
    projects = {stage: ensure_build_project.submit(where, p, stage, config.codepipeline, role_arn["codebuild"], bucket,
                                                   repository, dry_run) for stage in BUILD_STAGES}
    rows = [done(f"CodeBuild {stage}", future) for stage, future in projects.items()]
    return rows + [done("CodePipeline", ensure_pipeline.submit(where, p, config.codepipeline, role_arn["codepipeline"],
                                                               bucket, dry_run))]


def file_system(where: Target, prefix: str, subnet_ids: list[str], group: str, dry_run: bool) -> list[ServiceResult]:
    efs = done("EFS", ensure_file_system.submit(where, prefix, dry_run))
    targets = [ensure_mount_target.submit(where, prefix, efs.id, subnet, [group], dry_run) for subnet in subnet_ids]
    return [efs, *(done("EFS mount target", future) for future in targets)]


def cluster_steps(where: Target, config: BootstrapConfig, rows: list[ServiceResult],
                  dry_run: bool) -> list[ServiceResult]:
    """On the cluster: the Table CRD and resources (reconciled), the agents, StorageClasses and the app."""
    if where.kind == "aws" and dry_run and _id_of(rows, "eks cluster") is None:  # planned: nothing to connect to
        return [ServiceResult(service="cluster", name=cluster_name(config.prefix), id="", status="planned",
                              action="would create")]
    cluster = cluster_target(where, config.prefix)
    info = done("cluster", check_cluster.submit(cluster))
    out = [ServiceResult(service="cluster", name=info["server"], id=info["version"], status="reachable",
                         action="found")]
    if config.dynamodb.enabled:
        out += tables(cluster, config.dynamodb.manifests, dry_run)
    file_system = _id_of(rows, "efs file system")
    if dry_run and file_system is None and any(r.service == "efs file system" for r in rows):
        file_system = "fs-planned"  # made by this run: its StorageClass is planned too
    manifests = cluster_manifests.for_config(config, file_system)
    out += done("cluster manifests", apply_manifests.submit(cluster, manifests, "kubernetes", dry_run))
    if config.ecr.enabled:  # the checklist's last step: the application, with Helm, its image from ECR
        values = cluster_manifests.sample_app_values(_id_of(rows, "ecr repository") or "app")
        out.append(done("sample application", ensure_release.submit(
            cluster, cluster_manifests.APP_NAME, cluster_manifests.APP_CHART, cluster_manifests.APP_NAMESPACE,
            values, dry_run)))
    return out


def cluster_target(where: Target, prefix: str) -> Target:
    """Where the cluster steps act: the bootstrap's EKS cluster on AWS; on the sandbox its API server stands in
    (moto's EKS has none)."""
    if where.kind != "aws":
        return where
    return eks_target(where, cluster_name(prefix), tempfile.mkdtemp(prefix="ackflow-"))


def tables(cluster: Target, files: Iterable[Path], dry_run: bool) -> list[ServiceResult]:
    """The DynamoDB tables, made the ACK way: Table resources applied, then reconciled together until synced."""
    out, applied, existed = [], {}, set()
    if not dry_run:
        done("Table CRD", ensure_crd.submit(cluster))
    for manifest in read_manifests([str(path) for path in files]):
        meta = manifest["metadata"]
        meta.setdefault("namespace", "default")
        table = manifest["spec"]["tableName"]
        live = read_live(cluster, TableSpec.model_validate(manifest["spec"]))
        if dry_run:
            out.append(ServiceResult(service="dynamodb table", name=table, id=live.observed.arn if live else "",
                                     status=live.observed.table_status if live else "absent",
                                     action="found" if live else "would create"))
            continue
        if refusal := apply_resource(cluster, manifest):
            raise StepFailed(f"DynamoDB table {table}: {refusal}")
        applied[f"{meta['namespace']}/{meta['name']}"] = table
        if live:
            existed.add(table)
    for outcome in settle(cluster, applied, DEFAULT_WORKERS, DEFAULT_TIMEOUT_SECONDS):
        if not outcome.ok:
            raise StepFailed(f"DynamoDB table {outcome.table}: {outcome.state}: {outcome.message}")
        out.append(ServiceResult(service="dynamodb table", name=outcome.table,
                                 id=f"{outcome.namespace}/{outcome.name}", status="Synced",
                                 action="found" if outcome.table in existed else "created"))
    return out


def _id_of(rows: list[ServiceResult], service: str) -> str | None:
    return next((r.id for r in rows if r.service == service and r.id), None)


def summarise(rows: list[ServiceResult], key: str, description: str) -> None:
    """Every row as a Prefect table artifact (the command line renders them: flows/output.py)."""
    frame = pd.DataFrame([r.model_dump() for r in rows], columns=["service", "name", "id", "status", "action"])
    create_table_artifact(key=key, table=frame.to_dict(orient="records"), description=description)


def render(rows: list[ServiceResult], plan: bool, output: str) -> str:
    """The summary for a person: a plan as `terraform plan` reads, else what changed (or every row)."""
    return plan_text(rows) if plan and output == "table" else service_rows(rows, output)


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=["table", "wide", "json"], default="table",
                        help="table: what changed and a count of the rest (default); wide: every row with its id "
                             "and status; json: every row")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="the YAML configuration (default: %(default)s)")
    parser.add_argument("--plan", action="store_true", help="read and report what would be created; touch nothing")
    parser.add_argument("--target", choices=["sandbox", "aws"],
                        help="sandbox or aws (default: the configuration's target, else sandbox)")
    add_output(parser)
    args = parser.parse_args(argv)
    config = guarded("bootstrap", lambda: load_config(args.config))  # a bad file: a clear error, at once
    if config is None:
        return 1
    connection = Connection(target=args.target or config.target)
    rows = guarded("bootstrap", lambda: bootstrap(config_path=args.config, plan=args.plan, connection=connection))
    if rows is None:
        return 1
    print(render(rows, args.plan, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
