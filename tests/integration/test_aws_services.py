"""The account-level service tasks on the sandbox: each creates its resource, finds it the second time
without a mutating call, plans without one, and deletes only what carries the ownership tag."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from bootstrap.config import DEFAULT_CONFIG, BootstrapConfig, load_config
from sandbox.aws import calls as endpoint_calls
from sandbox.aws import reset_calls
from tasks.aws import OWNER_TAG, NotOwnedError, ServiceResult
from tasks.aws import apigateway, appmesh, cloudwatch, codepipeline, databases, ecr, eks, iam, msk, network, s3, storage
from tasks.cluster import eks_target

pytestmark = [
    pytest.mark.integration,
    # Tasks called outside a flow, as here, have no flow run to send their logs to.
    pytest.mark.filterwarnings("ignore:Logger 'prefect.task_runs' attempted to send logs:UserWarning"),
]

MUTATING = ("Create", "Put", "Update", "Tag", "Untag", "Run", "Attach", "Detach", "Modify", "Delete", "Authorize",
            "Revoke", "Associate", "Start", "Remove")
Step = Callable[..., ServiceResult | list[ServiceResult]]


class Calls:
    def __init__(self, target: Any, key: str):
        self.endpoint, self.key = target.aws_endpoint_url, key

    def reset(self) -> None:
        reset_calls(self.endpoint, self.key)

    def operations(self) -> list[str]:
        return [c["operation"] for c in endpoint_calls(self.endpoint, self.key)]

    def mutating(self) -> list[str]:
        return [op for op in self.operations() if op.startswith(MUTATING)]


@pytest.fixture(scope="module")
def aws_calls(target: Any, sandbox: Any) -> Calls:
    return Calls(target, sandbox.aws.access_key_id)


@pytest.fixture(scope="module")
def config() -> BootstrapConfig:
    prefix = f"it-{uuid.uuid4().hex[:6]}"  # the sandbox is shared by the session: names of our own
    return load_config(DEFAULT_CONFIG, base_dir=DEFAULT_CONFIG.parents[1]).model_copy(update={"prefix": prefix})


@pytest.fixture(scope="module")
def prefix(config: BootstrapConfig) -> str:
    return config.prefix


@pytest.fixture(scope="module")
def net(target: Any, config: BootstrapConfig) -> Any:
    """The default VPC, two of its subnets and our security groups, for the services that need a network."""
    vpc = network.ensure_vpc(target, config.prefix, config.network)
    subnets = network.ensure_subnets(target, config.prefix, vpc, config.network)
    groups = {p: network.ensure_security_group(target, config.prefix, vpc, p) for p in network.INGRESS_PORTS}
    yield type("Net", (), {"vpc": vpc, "subnets": subnets, "groups": groups})
    for purpose in network.INGRESS_PORTS:
        network.delete_security_group(target, config.prefix, vpc.id, purpose)


def actions(results: ServiceResult | list[ServiceResult]) -> set[str]:
    return {r.action for r in (results if isinstance(results, list) else [results])}


def lifecycle(calls: Calls, ensure: Step, delete: Step | None = None) -> Any:
    """Plan, create, find again, plan again, delete, delete again: only create and delete mutate anything."""
    calls.reset()
    assert actions(ensure(dry_run=True)) == {"would create"}
    assert calls.mutating() == []
    created = ensure()
    assert actions(created) == {"created"}, created
    calls.reset()
    again = ensure()
    assert actions(again) == {"found"}, again
    assert calls.mutating() == []
    assert [r.id for r in again] == [r.id for r in created] if isinstance(again, list) else again.id == created.id
    assert actions(ensure(dry_run=True)) == {"found"}
    assert calls.mutating() == []
    if delete is None:
        return created
    assert actions(delete(dry_run=True)) == {"would delete"}
    assert calls.mutating() == []
    assert actions(delete()) == {"deleted"}
    calls.reset()
    assert actions(delete()) == {"absent"}
    assert actions(ensure(dry_run=True)) == {"would create"}
    assert calls.mutating() == []
    return created


# --- network ---------------------------------------------------------------------------------------


def test_the_default_vpc_is_used_and_never_deleted(target, config, prefix, aws_calls):
    vpc = network.ensure_vpc(target, prefix, config.network)
    assert (vpc.action, vpc.status) == ("found", "available (default VPC)")
    subnets = network.ensure_subnets(target, prefix, vpc, config.network)
    assert actions(subnets) == {"found"} and len({s.name for s in subnets}) == 2  # two zones
    aws_calls.reset()
    assert network.delete_vpc(target, prefix).action == "absent"
    assert actions(network.delete_subnets(target, prefix, vpc.id)) == {"absent"}
    assert aws_calls.mutating() == []


def test_a_vpc_of_our_own_with_subnets_in_two_zones_and_security_groups(target, config, prefix, aws_calls):
    settings = config.network.model_copy(update={"use_default_vpc": False})
    lifecycle(aws_calls, partial(network.ensure_vpc, target, prefix, settings),
              partial(network.delete_vpc, target, prefix))
    made = network.ensure_vpc(target, prefix, settings)
    vpc = made.id
    ec2 = target.client("ec2")
    assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    [table] = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    assert any(r.get("GatewayId", "").startswith("igw-") for r in table["Routes"])
    subnets = lifecycle(aws_calls, partial(network.ensure_subnets, target, prefix, made, settings))
    described = ec2.describe_subnets(SubnetIds=[s.id for s in subnets])["Subnets"]
    assert sorted(s["CidrBlock"] for s in described) == ["10.42.0.0/18", "10.42.64.0/18"]
    assert len({s["AvailabilityZone"] for s in described}) == 2 and all(s["MapPublicIpOnLaunch"] for s in described)
    group = lifecycle(aws_calls, partial(network.ensure_security_group, target, prefix, made, "database"),
                      partial(network.delete_security_group, target, prefix, vpc, "database"))
    assert group.name == f"{prefix}-database"
    assert actions(network.delete_subnets(target, prefix, vpc)) == {"deleted"}
    assert network.delete_vpc(target, prefix).action == "deleted"
    assert ec2.describe_internet_gateways(Filters=[{"Name": f"tag:{OWNER_TAG}", "Values": [prefix]}])[
        "InternetGateways"] == []


# --- IAM, ECR, S3 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(iam.ROLES))
def test_role(target, prefix, aws_calls, kind):
    role = lifecycle(aws_calls, partial(iam.ensure_role, target, prefix, kind), None)
    described = target.client("iam").get_role(RoleName=role.name)["Role"]
    # CodePipeline accepts only a plain string as the service principal (docs/sandbox.md).
    assert described["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": iam.ROLES[kind].principal}
    if iam.ROLES[kind].inline:
        assert target.client("iam").list_role_policies(RoleName=role.name)["PolicyNames"] == [iam.INLINE_POLICY]
    assert iam.delete_role(target, prefix, kind).action == "deleted"


def test_ecr_repository(target, config, prefix, aws_calls):
    repository = lifecycle(aws_calls, partial(ecr.ensure_repository, target, prefix, config.ecr))
    name = ecr.repository_name(prefix, config.ecr)
    assert repository.id.endswith(f".amazonaws.com/{name}")
    described = target.client("ecr").describe_repositories(repositoryNames=[name])["repositories"][0]
    assert described["imageScanningConfiguration"]["scanOnPush"] is True
    policy = json.loads(target.client("ecr").get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == config.ecr.keep_last_images
    changed = config.ecr.model_copy(update={"keep_last_images": 3})
    aws_calls.reset()
    assert ecr.ensure_repository(target, prefix, changed, dry_run=True).action == "would update"
    assert aws_calls.mutating() == []
    assert ecr.ensure_repository(target, prefix, changed).action == "updated"
    assert aws_calls.mutating() == ["PutLifecyclePolicy"]
    assert ecr.delete_repository(target, prefix, config.ecr).action == "deleted"


@pytest.mark.parametrize("purpose", ["artifacts", "backups"])
def test_bucket(target, prefix, aws_calls, purpose):
    bucket = lifecycle(aws_calls, partial(s3.ensure_bucket, target, prefix, purpose))
    api = target.client("s3")
    assert api.get_bucket_versioning(Bucket=bucket.id)["Status"] == "Enabled"
    assert api.get_public_access_block(Bucket=bucket.id)["PublicAccessBlockConfiguration"] == s3.PUBLIC_ACCESS_BLOCKED
    assert api.get_bucket_encryption(Bucket=bucket.id)["ServerSideEncryptionConfiguration"]["Rules"]
    api.put_object(Bucket=bucket.id, Key="a", Body=b"1")
    api.put_object(Bucket=bucket.id, Key="a", Body=b"2")  # two versions: delete must remove both
    assert s3.delete_bucket(target, prefix, purpose).action == "deleted"


def test_a_bucket_left_untagged_by_an_interrupted_run_is_adopted(target, aws_calls):
    prefix = f"cut-{uuid.uuid4().hex[:6]}"
    name = s3.bucket_for(target, prefix, "artifacts")
    target.client("s3").create_bucket(Bucket=name)  # the run stopped right after CreateBucket
    assert s3.delete_bucket(target, prefix, "artifacts").action == "kept"  # untagged: not provably ours
    result = s3.ensure_bucket(target, prefix, "artifacts")
    assert (result.action, result.id) == ("updated", name)
    assert "PutBucketTagging" in aws_calls.operations()
    assert s3.delete_bucket(target, prefix, "artifacts").action == "deleted"


def test_a_resource_with_our_name_but_not_our_tag_is_neither_adopted_nor_deleted(target, aws_calls):
    prefix = f"nt-{uuid.uuid4().hex[:6]}"
    name = iam.role_name(prefix, "codebuild")
    target.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
        iam.trust_policy("codebuild.amazonaws.com")))
    aws_calls.reset()
    with pytest.raises(NotOwnedError, match=f"lacks the tag {OWNER_TAG}={prefix}"):
        iam.ensure_role(target, prefix, "codebuild")
    assert aws_calls.operations() == ["GetRole"]  # refused at once, and not retried
    assert iam.delete_role(target, prefix, "codebuild").action == "kept"
    assert aws_calls.mutating() == []
    target.client("iam").delete_role(RoleName=name)


# --- EKS -------------------------------------------------------------------------------------------


def test_eks_cluster_and_nodegroup(target, config, prefix, net, aws_calls, tmp_path):
    cluster_role = iam.ensure_role(target, prefix, "eks-cluster")
    node_role = iam.ensure_role(target, prefix, "eks-nodes")
    ensure_cluster = partial(eks.ensure_cluster, target, prefix, config.eks, cluster_role, net.subnets,
                             net.groups["cluster"])
    cluster = lifecycle(aws_calls, ensure_cluster, partial(eks.delete_cluster, target, prefix))
    assert cluster.status == "ACTIVE"
    ensure_cluster()
    described = target.client("eks").describe_cluster(name=eks.cluster_name(prefix))["cluster"]
    assert described["logging"]["clusterLogging"] == [{"types": eks.LOG_TYPES, "enabled": True}]
    # The kubeconfig for the new cluster: a token as `aws eks get-token` makes it, the cluster's name signed in.
    connected = eks_target.fn(target, eks.cluster_name(prefix), str(tmp_path))
    token = yaml.safe_load(Path(connected.kubeconfig).read_text())["users"][0]["user"]["token"]
    url = base64.urlsafe_b64decode(token.removeprefix("k8s-aws-v1.") + "==").decode()
    assert "x-k8s-aws-id" in parse_qs(urlparse(url).query)["X-Amz-SignedHeaders"][0].split(";")
    nodes = lifecycle(aws_calls, partial(eks.ensure_nodegroup, target, prefix, config.eks, node_role, net.subnets),
                      partial(eks.delete_nodegroup, target, prefix))
    assert nodes.status == "ACTIVE"
    assert eks.delete_cluster(target, prefix).action == "deleted"
    for kind in ("eks-cluster", "eks-nodes"):
        iam.delete_role(target, prefix, kind)


# --- databases -------------------------------------------------------------------------------------


def test_rds_instance(target, config, prefix, net, aws_calls):
    group = lifecycle(aws_calls, partial(databases.ensure_db_subnet_group, target, prefix, net.subnets))
    instance = lifecycle(aws_calls, partial(databases.ensure_db_instance, target, prefix, config.rds, group,
                                            net.groups["database"]),
                         partial(databases.delete_db_instance, target, prefix, config.rds))
    assert (instance.name, instance.status) == (f"{prefix}-db", "available")
    assert databases.delete_db_subnet_group(target, prefix).action == "deleted"


def test_aurora_cluster_and_instance(target, config, prefix, net, aws_calls):
    settings = config.rds.model_copy(update={"engine": "aurora-postgresql", "instance_class": "db.t4g.medium"})
    group = databases.ensure_db_subnet_group(target, prefix, net.subnets)
    ensure_cluster = partial(databases.ensure_aurora_cluster, target, prefix, settings, group, net.groups["database"])
    lifecycle(aws_calls, ensure_cluster, partial(databases.delete_aurora_cluster, target, prefix))
    ensure_cluster()
    instance = lifecycle(aws_calls, partial(databases.ensure_db_instance, target, prefix, settings, group,
                                            net.groups["database"]),
                         partial(databases.delete_db_instance, target, prefix, settings))
    assert instance.name == f"{prefix}-aurora-1"
    assert databases.delete_aurora_cluster(target, prefix).action == "deleted"
    databases.delete_db_subnet_group(target, prefix)


def test_documentdb_is_planned_without_a_mutating_call(target, config, prefix, aws_calls):
    aws_calls.reset()
    group = databases.subnet_group_name(prefix)
    ensure = partial(databases.ensure_docdb_cluster, target, prefix,
                     ServiceResult(service="db subnet group", name=group, id="", status="planned",
                                   action="would create"),
                     ServiceResult(service="security group", name="planned", id="", status="planned",
                                   action="would create"))
    assert ensure(dry_run=True).action == "would create"
    assert databases.ensure_docdb_instance(target, prefix, config.docdb, 0, dry_run=True).action == "would create"
    assert databases.delete_docdb_cluster(target, prefix).action == "absent"
    assert aws_calls.mutating() == []


def test_documentdb_cluster_and_instance(target, config, prefix, net, aws_calls):
    group = databases.ensure_db_subnet_group(target, prefix, net.subnets)
    try:
        cluster = databases.ensure_docdb_cluster(target, prefix, group, net.groups["database"])
        assert cluster.action == "created"
        lifecycle(aws_calls, partial(databases.ensure_docdb_instance, target, prefix, config.docdb, 0),
                  partial(databases.delete_docdb_instance, target, prefix, 0))
        docdb = target.client("docdb")
        [described] = docdb.describe_db_clusters(DBClusterIdentifier=cluster.name)["DBClusters"]
        assert described["Engine"] == "docdb"
        assert databases.ensure_docdb_cluster(target, prefix, group, net.groups["database"]).action == "found"
        assert databases.delete_docdb_cluster(target, prefix).action == "deleted"
    finally:
        databases.delete_db_subnet_group(target, prefix)


# --- CodePipeline ----------------------------------------------------------------------------------


def test_build_projects_and_pipeline(target, config, prefix, aws_calls):
    build_role = iam.ensure_role(target, prefix, "codebuild")
    pipeline_role = iam.ensure_role(target, prefix, "codepipeline")
    bucket = s3.ensure_bucket(target, prefix, "artifacts")
    image = ServiceResult(service="ecr repository", name=f"{prefix}/app", status="available", action="found",
                          id=f"123456789012.dkr.ecr.{target.region}.amazonaws.com/{prefix}/app")
    for stage in ("build", "test"):
        lifecycle(aws_calls, partial(codepipeline.ensure_build_project, target, prefix, stage, config.codepipeline,
                                     build_role, bucket, image),
                  partial(codepipeline.delete_build_project, target, prefix, stage))
    pipeline = lifecycle(aws_calls, partial(codepipeline.ensure_pipeline, target, prefix, config.codepipeline,
                                            pipeline_role, bucket),
                         partial(codepipeline.delete_pipeline, target, prefix))
    assert pipeline.name == f"{prefix}-pipeline"
    codepipeline.ensure_pipeline(target, prefix, config.codepipeline, pipeline_role, bucket)
    stages = target.client("codepipeline").get_pipeline(name=pipeline.name)["pipeline"]["stages"]
    assert [(s["name"], s["actions"][0]["actionTypeId"]["provider"]) for s in stages] == [
        ("Source", "S3"), ("Build", "CodeBuild"), ("Test", "CodeBuild"), ("Deploy", "EKS")]
    codepipeline.delete_pipeline(target, prefix)
    s3.delete_bucket(target, prefix, "artifacts")
    for kind in ("codebuild", "codepipeline"):
        iam.delete_role(target, prefix, kind)


# --- MSK, App Mesh, API Gateway --------------------------------------------------------------------


def test_msk_cluster_waits_until_active(target, config, prefix, net, aws_calls):
    cluster = lifecycle(aws_calls, partial(msk.ensure_msk_cluster, target, prefix, config.msk, net.subnets,
                                           net.groups["kafka"]),
                        partial(msk.delete_msk_cluster, target, prefix))
    assert cluster.status == "ACTIVE"  # the sandbox's endpoint reports CREATING first


def test_mesh(target, prefix, aws_calls):
    mesh = lifecycle(aws_calls, partial(appmesh.ensure_mesh, target, prefix),
                     partial(appmesh.delete_mesh, target, prefix))
    assert mesh.status == "ACTIVE"


def test_http_api(target, prefix, aws_calls):
    api = lifecycle(aws_calls, partial(apigateway.ensure_http_api, target, prefix))
    stages = target.client("apigatewayv2").get_stages(ApiId=api.id)["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]
    assert apigateway.delete_http_api(target, prefix).action == "deleted"


# --- CloudWatch ------------------------------------------------------------------------------------


def test_log_groups(target, config, prefix, aws_calls):
    specs = cloudwatch.log_group_specs(config)
    assert eks.cluster_log_group(prefix) in [s.name for s in specs]
    for spec in specs:
        group = lifecycle(aws_calls, partial(cloudwatch.ensure_log_group, target, prefix, spec),
                          partial(cloudwatch.delete_log_group, target, prefix, spec.name))
        assert group.status == f"retention {config.cloudwatch.log_retention_days} days"
    spec = specs[0]
    cloudwatch.ensure_log_group(target, prefix, spec)
    longer = spec.model_copy(update={"retention_days": 30})
    aws_calls.reset()
    assert cloudwatch.ensure_log_group(target, prefix, longer, dry_run=True).action == "would update"
    assert aws_calls.mutating() == []
    assert cloudwatch.ensure_log_group(target, prefix, longer).status == "retention 30 days"
    assert aws_calls.mutating() == ["PutRetentionPolicy"]
    cloudwatch.delete_log_group(target, prefix, spec.name)


def test_alarms_and_dashboard(target, config, prefix, aws_calls):
    specs = cloudwatch.alarm_specs(config)
    assert [s.name for s in specs] == [f"{prefix}-node-cpu", f"{prefix}-node-memory", f"{prefix}-database-cpu"]
    for spec in specs:
        lifecycle(aws_calls, partial(cloudwatch.ensure_alarm, target, prefix, spec),
                  partial(cloudwatch.delete_alarm, target, prefix, spec.name))
    dashboard = lifecycle(aws_calls, partial(cloudwatch.ensure_dashboard, target, prefix, specs),
                          partial(cloudwatch.delete_dashboard, target, prefix))
    assert dashboard.name == prefix
    stricter = specs[0].model_copy(update={"threshold": 50.0})
    cloudwatch.ensure_alarm(target, prefix, specs[0])
    aws_calls.reset()
    assert cloudwatch.ensure_alarm(target, prefix, stricter).action == "updated"
    assert aws_calls.mutating() == ["PutMetricAlarm"]
    cloudwatch.delete_alarm(target, prefix, stricter.name)


def test_a_dashboard_without_our_mark_is_not_ours(target, prefix, aws_calls):
    other = f"other-{uuid.uuid4().hex[:6]}"
    target.client("cloudwatch").put_dashboard(DashboardName=other, DashboardBody=json.dumps({"widgets": []}))
    with pytest.raises(NotOwnedError):
        cloudwatch.ensure_dashboard(target, other, [])
    assert cloudwatch.delete_dashboard(target, other).action == "kept"
    target.client("cloudwatch").delete_dashboards(DashboardNames=[other])


# --- storage ---------------------------------------------------------------------------------------


def test_ebs_volume(target, config, prefix, net, aws_calls):
    volume = lifecycle(aws_calls, partial(storage.ensure_ebs_volume, target, prefix, config.storage, net.subnets),
                       partial(storage.delete_ebs_volume, target, prefix))
    assert volume.status == "available"
    volume = storage.ensure_ebs_volume(target, prefix, config.storage, net.subnets[::-1])  # the other zone first
    zone = target.client("ec2").describe_volumes(VolumeIds=[volume.id])["Volumes"][0]["AvailabilityZone"]
    assert zone == target.client("ec2").describe_subnets(SubnetIds=[net.subnets[1].id])["Subnets"][0][
        "AvailabilityZone"]
    storage.delete_ebs_volume(target, prefix)


def test_efs_file_system_and_mount_targets(target, prefix, net, aws_calls):
    lifecycle(aws_calls, partial(storage.ensure_file_system, target, prefix),
              partial(storage.delete_file_system, target, prefix))
    planned_file_system = storage.ensure_file_system(target, prefix, dry_run=True)
    planned = storage.ensure_mount_targets(target, prefix, planned_file_system, net.subnets, net.groups["efs"],
                                           dry_run=True)  # no file system yet
    assert actions(planned) == {"would create"}
    file_system = storage.ensure_file_system(target, prefix)
    mounts = lifecycle(aws_calls, partial(storage.ensure_mount_targets, target, prefix, file_system, net.subnets,
                                          net.groups["efs"]))
    assert [m.status for m in mounts] == ["available"] * len(net.subnets)
    assert storage.delete_file_system(target, prefix).action == "deleted"  # mount targets first, then the file system
    assert target.client("efs").describe_file_systems(CreationToken=storage.file_system_name(prefix))[
        "FileSystems"] == []
