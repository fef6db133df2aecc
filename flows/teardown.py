"""`python -m flows.teardown [--config FILE] [--yes] [--plan]`: remove what the bootstrap made, in reverse order.

Only resources that carry the bootstrap's ownership tag are deleted; a resource with the same name but not
the tag is kept. Tables follow their resource's deletion policy. Outside the sandbox it asks for --yes.
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow
from pydantic import Field

from bootstrap import cluster_manifests
from bootstrap.config import DEFAULT_CONFIG, BootstrapConfig, load_config
from controller.workers import DEFAULT_TIMEOUT_SECONDS, settle
from flows.bootstrap import StepFailed, add_output, cluster_target, connect, done, render, summarise
from flows.cli import guarded, read_manifests
from tasks.aws import ServiceResult
from tasks.aws.apigateway import delete_http_api
from tasks.aws.appmesh import delete_mesh
from tasks.aws.cloudwatch import alarm_specs, delete_alarm, delete_dashboard, delete_log_group, log_group_specs
from tasks.aws.codepipeline import BUILD_STAGES, delete_build_project, delete_pipeline
from tasks.aws.databases import (
    delete_aurora_cluster, delete_db_instance, delete_db_subnet_group, delete_docdb_cluster, delete_docdb_instance,
    is_aurora,
)
from tasks.aws.ecr import delete_repository
from tasks.aws.eks import delete_cluster, delete_nodegroup
from tasks.aws.iam import ROLE_KINDS, delete_role
from tasks.aws.msk import delete_msk_cluster
from tasks.aws.network import SECURITY_GROUPS, delete_security_group, delete_subnets, delete_vpc, vpc_id_of
from tasks.aws.s3 import BUCKET_PURPOSES, delete_bucket
from tasks.aws.storage import delete_ebs_volume, delete_file_system
from tasks.connections import Connection, Target
from tasks.helm import uninstall_release
from tasks.kube_apply import delete_manifests
from tasks.kube_tables import delete_resource


@flow(name="teardown", log_prints=True)
def teardown(config_path: str = Field(str(DEFAULT_CONFIG), description="The configuration the bootstrap ran"),
             plan: bool = Field(False, description="Only say what would be deleted"),
             connection: Connection | None = Field(None, description="Where to act; default: the configuration's "
                                                                      "target")) -> list[ServiceResult]:
    """The bootstrap in reverse: the cluster's objects and tables first, the network last."""
    config = load_config(config_path)
    where = connect(connection or Connection(target=config.target))
    rows = cluster_side(where, config, plan) + account_side(where, config, plan)
    summarise(rows, "teardown-summary", "What the teardown planned" if plan else "What the teardown removed")
    return rows


def cluster_side(where: Target, config: BootstrapConfig, plan: bool) -> list[ServiceResult]:
    try:
        cluster = cluster_target(where, config.prefix)
    except Exception:  # no cluster (left already): nothing on it to remove
        return []
    rows = []
    if config.ecr.enabled:
        rows.append(done("sample application", uninstall_release.submit(
            cluster, cluster_manifests.APP_NAME, cluster_manifests.APP_CHART, cluster_manifests.APP_NAMESPACE, plan)))
    rows += done("cluster manifests", delete_manifests.submit(
        cluster, cluster_manifests.for_config(config, "-"), "kubernetes", plan))
    if config.dynamodb.enabled:
        manifests = read_manifests([str(path) for path in config.dynamodb.manifests])
        rows += [table(cluster, manifest, plan) for manifest in manifests]
    return rows


def table(cluster: Target, manifest: dict, plan: bool) -> ServiceResult:
    """A Table resource deleted, and its table with it unless its deletion policy says retain."""
    meta = manifest["metadata"]
    namespace, name, table_name = meta.get("namespace", "default"), meta["name"], manifest["spec"]["tableName"]
    if plan:
        return ServiceResult(service="dynamodb table", name=table_name, id=f"{namespace}/{name}", status="",
                             action="would delete")
    if not done(f"Table {namespace}/{name}", delete_resource.submit(cluster, namespace, name)):
        return ServiceResult(service="dynamodb table", name=table_name, id=f"{namespace}/{name}", status="",
                             action="absent")
    [outcome] = settle(cluster, {f"{namespace}/{name}": table_name}, 1, DEFAULT_TIMEOUT_SECONDS)
    if not outcome.ok:
        raise StepFailed(f"DynamoDB table {table_name}: {outcome.state}: {outcome.message}")
    return ServiceResult(service="dynamodb table", name=table_name, id=f"{namespace}/{name}", status=outcome.message,
                         action="kept" if outcome.state == "Retained" else "deleted")


def account_side(where: Target, config: BootstrapConfig, plan: bool) -> list[ServiceResult]:
    p, rows = config.prefix, []

    def step(name: str, task, *args) -> None:
        result = done(name, task.submit(where, p, *args, plan))
        rows.extend(result if isinstance(result, list) else [result])

    if config.eks.enabled:
        step("EKS node group", delete_nodegroup)
        step("EKS cluster", delete_cluster)
    if config.msk.enabled:
        step("MSK", delete_msk_cluster)
    if config.codepipeline.enabled:
        step("CodePipeline", delete_pipeline)
        for stage in BUILD_STAGES:
            step(f"CodeBuild {stage}", delete_build_project, stage)
    if config.rds.enabled:
        step("RDS instance", delete_db_instance, config.rds)
        if is_aurora(config.rds):
            step("Aurora cluster", delete_aurora_cluster)
    if config.docdb.enabled:
        for index in range(config.docdb.instances):
            step("DocumentDB instance", delete_docdb_instance, index)
        step("DocumentDB cluster", delete_docdb_cluster)
    if config.rds.enabled or config.docdb.enabled:
        step("database subnet group", delete_db_subnet_group)
    if config.storage.enabled:
        step("EBS", delete_ebs_volume)
        if config.storage.efs:
            step("EFS", delete_file_system)
    if config.cloudwatch.enabled:
        step("CloudWatch dashboard", delete_dashboard)
        for spec in alarm_specs(config):
            step("CloudWatch alarm", delete_alarm, spec.name)
        for spec in log_group_specs(config):
            step("CloudWatch log group", delete_log_group, spec.name)
    if config.appmesh.enabled:
        step("App Mesh", delete_mesh)
    if config.apigateway.enabled:
        step("API Gateway", delete_http_api)
    if config.ecr.enabled:
        step("ECR", delete_repository, config.ecr)
    for purpose in BUCKET_PURPOSES:
        step(f"S3 {purpose}", delete_bucket, purpose)
    for kind in ROLE_KINDS:
        step(f"IAM role {kind}", delete_role, kind)
    if vpc := vpc_id_of(where, p, config.network):
        for purpose in SECURITY_GROUPS:
            step(f"{purpose} security group", delete_security_group, vpc, purpose)
        step("subnets", delete_subnets, vpc)
    step("VPC", delete_vpc)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.teardown", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="the configuration (default: %(default)s)")
    parser.add_argument("--yes", action="store_true", help="confirm deleting from a real AWS account")
    parser.add_argument("--plan", action="store_true", help="only say what would be deleted")
    parser.add_argument("--target", choices=["sandbox", "aws"], help="default: the configuration's target")
    add_output(parser)
    args = parser.parse_args(argv)
    config = guarded("teardown", lambda: load_config(args.config))
    if config is None:
        return 1
    target = args.target or config.target
    if target == "aws" and not (args.yes or args.plan):
        print("teardown: this deletes resources from a real AWS account; run again with --yes", file=sys.stderr)
        return 1
    rows = guarded("teardown", lambda: teardown(config_path=args.config, plan=args.plan,
                                                 connection=Connection(target=target)))
    if rows is None:
        return 1
    print(render(rows, args.plan, args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
