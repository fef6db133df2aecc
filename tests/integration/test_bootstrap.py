"""The bootstrap flow end to end on the sandbox: idempotent, `--plan` touching nothing, an interrupted run
finished by the next, teardown leaving nothing tagged, and a bad configuration refused before any AWS call.

Each test has prefixes of its own (the sandbox is shared by the session). In the sandbox one API server
stands in for every prefix's EKS cluster, so the cluster objects the bootstrap applies (agents,
StorageClasses, the sample application: names without the prefix) are shared; a test that needs a fresh
cluster removes them first, as a new prefix's new EKS cluster would not have them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml
from kubernetes import client as kube
from kubernetes import dynamic
from kubernetes.client import ApiException
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from ack.model import GROUP, PLURAL, VERSION
from bootstrap import cluster_manifests
from bootstrap.config import DEFAULT_CONFIG, load_config
from flows.bootstrap import bootstrap
from flows.teardown import teardown
from tasks.aws import OWNER_TAG, ServiceResult
from tasks.helm import uninstall_release
from tasks.kube_apply import delete_manifests, locate

from tests.integration.iam_policies import BOOTSTRAP_POLICY, TABLES_POLICY, outside
from tests.integration.tables import CallCounter, describe

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MUTATING = ("Create", "Put", "Update", "Tag", "Run", "Attach", "Modify", "Delete", "Authorize", "Associate", "Start")
TABLES = ("orders", "sessions")
FOUND_ONLY = {"account", "vpc", "subnet", "cluster"}  # the default VPC and its subnets, the account, the API server
# What the checklist asks for, as the summary's services (the sandbox config uses the default VPC).
CHECKLIST = {
    "account": 1, "vpc": 1, "subnet": 2, "security group": 4, "iam role": 4, "ecr repository": 1, "s3 bucket": 2,
    "eks cluster": 1, "eks nodegroup": 1, "db subnet group": 1, "rds instance": 1, "codepipeline": 1,
    "codebuild project": 2, "msk cluster": 1, "app mesh": 1, "api gateway": 1, "log group": 4, "alarm": 3,
    "dashboard": 1, "ebs volume": 1, "efs file system": 1, "efs mount target": 2, "dynamodb table": 2,
    "table exports": 5, "helm release": 1,  # the app's ConfigMap, and a name and an ARN FieldExport per table
    "sqs dead-letter queue": 1, "sqs queue": 1, "eventbridge rule": 1,  # the drift events
}
KUBERNETES_OBJECTS = {
    "DaemonSet amazon-cloudwatch/cloudwatch-agent", "DaemonSet amazon-cloudwatch/fluent-bit",
    "StorageClass ebs-gp3", "StorageClass efs",
}


# --- helpers ---------------------------------------------------------------------------------------


def new_prefix(kind: str) -> str:
    return f"bt{kind}-{uuid.uuid4().hex[:8]}"  # same length for all: no prefix is a prefix of another


def write_config(folder: Path, prefix: str, **sections: Any) -> Path:
    """The default configuration with our prefix and Table manifests of our own (unique names and tables)."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["prefix"] = prefix
    manifests = []
    for table in TABLES:
        manifest = yaml.safe_load((REPO / "manifests" / f"{table}-table.yaml").read_text())
        manifest["metadata"]["name"] = manifest["spec"]["tableName"] = f"{prefix}-{table}"
        path = folder / f"{prefix}-{table}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        manifests.append(str(path))
    data["dynamodb"]["manifests"] = manifests
    data["drift_events"]["queue"] = f"{prefix}-drift-events"  # the default name is one per account and region
    for section, values in sections.items():
        data[section] = values if not isinstance(values, dict) else {**data.get(section, {}), **values}
    path = folder / f"{prefix}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def project_calls(calls: CallCounter) -> list[dict[str, Any]]:
    return [c for c in calls.entries() if c.get("app") == "ackflow"]


def mutating(entries: list[dict[str, Any]]) -> list[str]:
    return [f"{c['service']}:{c['operation']}" for c in entries if c["operation"].startswith(MUTATING)]


def by_service(rows: list[ServiceResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.service] = counts.get(row.service, 0) + 1
    return counts


def kubernetes_names(rows: list[ServiceResult]) -> set[str]:
    return {r.name for r in rows if r.service == "kubernetes"}


def normalised(rows: list[ServiceResult], prefix: str) -> set[tuple[str, str]]:
    """(service, name) of each row with the prefix replaced; the API server's address is not a resource."""
    return {(r.service, r.name.replace(prefix, "PREFIX")) for r in rows if r.service != "cluster"}


def fresh_cluster(target: Any, config_path: Path) -> None:
    """Remove what any bootstrap applied to the shared API server: a new prefix's EKS cluster has none of it."""
    config = load_config(config_path)
    delete_manifests.fn(target, cluster_manifests.for_config(config, "fs-x"), "kubernetes")
    delete_manifests.fn(target, cluster_manifests.table_exports([]), "table exports")  # the app's ConfigMap
    uninstall_release.fn(target, cluster_manifests.APP_NAME, cluster_manifests.APP_CHART,
                         cluster_manifests.APP_NAMESPACE, False)


def live_kubernetes_objects(target: Any, config_path: Path) -> dict[str, str]:
    """The cluster objects the bootstrap applies that exist now: described name -> resourceVersion."""
    api = dynamic.DynamicClient(target.kube_api())
    out = {}
    for manifest in cluster_manifests.for_config(load_config(config_path), "fs-x"):
        meta = manifest["metadata"]
        _, namespace, live = locate(api, manifest)
        if live is None:
            continue
        described = f"{manifest['kind']} {namespace + '/' if namespace else ''}{meta['name']}"
        out[described] = live.metadata.resourceVersion
    return out


def _pages(aws: Any, operation: str, key: str, **params: Any) -> list[Any]:
    return [item for page in aws.get_paginator(operation).paginate(**params) for item in page[key]]


def inventory(target: Any, prefix: str) -> dict[str, list[str]]:
    """Everything in the account (and Table resources on the cluster) that this prefix's bootstrap makes,
    found by the ownership tag where the service filters by tag, else by the prefix in the name."""
    aws = target.client
    p, tag = f"{prefix}-", [{"Name": f"tag:{OWNER_TAG}", "Values": [prefix]}]
    ec2, efs, rds = aws("ec2"), aws("efs"), aws("rds")
    found: dict[str, list[str]] = {
        "tagged (resourcegroupstaggingapi)": [
            m["ResourceARN"] for m in _pages(aws("resourcegroupstaggingapi"), "get_resources",
                                             "ResourceTagMappingList",
                                             TagFilters=[{"Key": OWNER_TAG, "Values": [prefix]}])],
        "vpc": [v["VpcId"] for v in ec2.describe_vpcs(Filters=tag)["Vpcs"]],
        "subnet": [s["SubnetId"] for s in ec2.describe_subnets(Filters=tag)["Subnets"]],
        "internet gateway": [g["InternetGatewayId"] for g in ec2.describe_internet_gateways(Filters=tag)[
            "InternetGateways"]],
        "security group": [g["GroupName"] for g in ec2.describe_security_groups(Filters=tag)["SecurityGroups"]],
        "ebs volume": [next(t["Value"] for t in v["Tags"] if t["Key"] == "Name")
                       for v in ec2.describe_volumes(Filters=tag)["Volumes"] if v["State"] != "deleted"],
        "iam role": [r["RoleName"] for r in _pages(aws("iam"), "list_roles", "Roles") if r["RoleName"].startswith(p)],
        "s3 bucket": [b["Name"] for b in aws("s3").list_buckets()["Buckets"] if b["Name"].startswith(p)],
        "ecr repository": [r["repositoryName"] for r in aws("ecr").describe_repositories()["repositories"]
                           if r["repositoryName"].startswith(f"{prefix}/")],
        "eks cluster": [c for c in aws("eks").list_clusters()["clusters"] if c.startswith(p)],
        "rds instance": [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]
                         if i["DBInstanceIdentifier"].startswith(p)],
        "rds cluster": [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]
                        if c["DBClusterIdentifier"].startswith(p)],
        "db subnet group": [g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
                            if g["DBSubnetGroupName"].startswith(p)],
        "msk cluster": [c["ClusterName"] for c in aws("kafka").list_clusters_v2()["ClusterInfoList"]
                        if c["ClusterName"].startswith(p)],
        "app mesh": [m["meshName"] for m in aws("appmesh").list_meshes()["meshes"] if m["meshName"].startswith(p)],
        "api gateway": [a["Name"] for a in aws("apigatewayv2").get_apis()["Items"] if a["Name"].startswith(p)],
        "codebuild project": [n for n in aws("codebuild").list_projects()["projects"] if n.startswith(p)],
        "codepipeline": [n["name"] for n in aws("codepipeline").list_pipelines()["pipelines"]
                         if n["name"].startswith(p)],
        "log group": [g["logGroupName"] for g in _pages(aws("logs"), "describe_log_groups", "logGroups")
                      if f"/{p}" in g["logGroupName"] or g["logGroupName"].startswith(p)],
        "alarm": [a["AlarmName"] for a in aws("cloudwatch").describe_alarms(AlarmNamePrefix=p)["MetricAlarms"]],
        "dashboard": [d["DashboardName"] for d in aws("cloudwatch").list_dashboards(DashboardNamePrefix=prefix)[
            "DashboardEntries"] if d["DashboardName"] == prefix or d["DashboardName"].startswith(p)],
        "dynamodb table": [t for t in aws("dynamodb").list_tables()["TableNames"] if t.startswith(p)],
        "sqs queue": [u.rsplit("/", 1)[-1] for u in aws("sqs").list_queues(QueueNamePrefix=p).get("QueueUrls", [])],
        "eventbridge rule": [r["Name"] for r in aws("events").list_rules(NamePrefix=p)["Rules"]],
    }
    found["eks nodegroup"] = [n for c in found["eks cluster"] for n in aws("eks").list_nodegroups(clusterName=c)[
        "nodegroups"]]
    systems = [fs for fs in efs.describe_file_systems()["FileSystems"]
               if {t["Key"]: t["Value"] for t in fs.get("Tags", [])}.get(OWNER_TAG) == prefix
               and fs["LifeCycleState"] != "deleted"]
    found["efs file system"] = [fs["Name"] for fs in systems]
    found["efs mount target"] = [m["SubnetId"] for fs in systems
                                 for m in efs.describe_mount_targets(FileSystemId=fs["FileSystemId"])["MountTargets"]]
    try:
        resources = kube.CustomObjectsApi(target.kube_api()).list_namespaced_custom_object(
            GROUP, VERSION, "default", PLURAL)["items"]
    except ApiException as exc:
        if exc.status != 404:  # 404: no Table CRD (yet), so no Table resource
            raise
        resources = []
    found["table resource"] = [r["metadata"]["name"] for r in resources if r["metadata"]["name"].startswith(p)]
    return {kind: sorted(names) for kind, names in found.items()}


def leftovers(target: Any, prefix: str) -> dict[str, list[str]]:
    return {kind: names for kind, names in inventory(target, prefix).items() if names}


def run_timed(**kwargs: Any) -> tuple[list[ServiceResult], float, UUID]:
    """A bootstrap's rows, its duration and its flow run's id."""
    start = time.monotonic()
    state = bootstrap(**kwargs, return_state=True)
    return state.result(), time.monotonic() - start, state.state_details.flow_run_id


def run_graph(flow_run_id: UUID) -> set[tuple[str, str]]:
    """The flow run's graph as Prefect records it: (upstream task, downstream task) for each task run input."""
    with get_client(sync_client=True) as prefect:
        runs = prefect.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    task_of = {run.id: run.task_key.rsplit("-", 1)[0] for run in runs}  # the function, whatever the run is named
    return {(task_of[given.id], task_of[run.id]) for run in runs for inputs in run.task_inputs.values()
            for given in inputs if getattr(given, "id", None) in task_of}


def child_env(sandbox: Any, home: Path) -> dict[str, str]:
    """The sandbox's environment for a child process, without the test harness's Prefect API or settings:
    the child starts its own ephemeral Prefect server in a Prefect home of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    env.update(sandbox.environ())
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PYTHONUNBUFFERED="1")
    return env


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calls(target: Any, sandbox: Any) -> CallCounter:
    return CallCounter(target, sandbox.aws.access_key_id)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bootstrap")


class Bootstrapped:
    """One prefix bootstrapped twice: each run's rows, duration and AWS calls, and what existed after the first."""

    prefix: str
    config: Path
    first: list[ServiceResult]
    first_seconds: float
    first_calls: list[dict[str, Any]]
    first_run_id: UUID
    second: list[ServiceResult]
    second_seconds: float
    second_calls: list[dict[str, Any]]
    after_first: dict[str, list[str]]


@pytest.fixture(scope="module")
def bootstrapped(target: Any, calls: CallCounter, folder: Path) -> Bootstrapped:
    run = Bootstrapped()
    run.prefix = new_prefix("a")
    run.config = write_config(folder, run.prefix)
    fresh_cluster(target, run.config)
    calls.reset()
    run.first, run.first_seconds, run.first_run_id = run_timed(config_path=str(run.config), plan=False)
    run.first_calls = project_calls(calls)
    run.after_first = inventory(target, run.prefix)
    calls.reset()
    run.second, run.second_seconds, _ = run_timed(config_path=str(run.config), plan=False)
    run.second_calls = project_calls(calls)
    yield run
    teardown(config_path=str(run.config))


# --- tests -----------------------------------------------------------------------------------------


def test_plan_reads_and_reports_and_mutates_nothing(target, calls, folder):
    prefix = new_prefix("p")
    config = write_config(folder, prefix)
    fresh_cluster(target, config)
    calls.reset()
    rows = bootstrap(config_path=str(config), plan=True)
    entries = project_calls(calls)
    assert entries, "the plan read nothing from the endpoint"
    assert mutating(entries) == []
    assert outside(entries, BOOTSTRAP_POLICY, TABLES_POLICY) == []
    assert {r.action for r in rows if r.service in FOUND_ONLY} == {"found"}
    planned = [r for r in rows if r.service not in FOUND_ONLY]
    assert {(r.service, r.name, r.action) for r in planned if r.action != "would create"} == set()
    assert by_service(rows) == {**CHECKLIST, "cluster": 1, "kubernetes": len(cluster_manifests.for_config(
        load_config(config), "fs-x"))}
    assert KUBERNETES_OBJECTS <= kubernetes_names(rows)
    assert leftovers(target, prefix) == {}
    assert live_kubernetes_objects(target, config) == {}  # the server-side apply was a dry run
    assert [r.id for r in rows if r.service == "vpc"] == [
        target.client("ec2").describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]]


def test_a_first_run_creates_the_checklist_and_a_second_finds_it_all(target, bootstrapped, capsys):
    run = bootstrapped
    with capsys.disabled():
        print(f"\nbootstrap {run.prefix}: first run {run.first_seconds:.1f} s, second run {run.second_seconds:.1f} s")
    assert {(r.service, r.name, r.action) for r in run.first if r.action not in ("created", "found")} == set()
    assert {(r.service, r.name, r.action) for r in run.first
            if r.service in FOUND_ONLY and r.action != "found"} == set()
    assert {(r.service, r.name) for r in run.first if r.service not in FOUND_ONLY and r.action != "created"} == set()
    assert by_service(run.first) == {**CHECKLIST, "cluster": 1, "kubernetes": len(cluster_manifests.for_config(
        load_config(run.config), "fs-x"))}
    assert KUBERNETES_OBJECTS <= kubernetes_names(run.first)
    assert set(live_kubernetes_objects(target, run.config)) == kubernetes_names(run.first)
    tables = [r for r in run.first if r.service == "dynamodb table"]
    assert sorted(r.name for r in tables) == [f"{run.prefix}-{t}" for t in TABLES]
    assert {r.status for r in tables} == {"Synced"}

    assert {(r.service, r.name, r.action) for r in run.second if r.action != "found"} == set()
    assert [(r.service, r.name, r.id) for r in run.second if r.service != "cluster"] == [
        (r.service, r.name, r.id) for r in run.first if r.service != "cluster"]
    assert run.second_calls, "the second run read nothing from the endpoint"
    assert mutating(run.second_calls) == []


def test_the_sample_app_reads_its_tables_names_and_arns_through_field_exports(target, bootstrapped):
    core = kube.CoreV1Api(target.kube_api())
    data = core.read_namespaced_config_map(cluster_manifests.TABLES_CONFIG_MAP, cluster_manifests.APP_NAMESPACE).data
    expected = {}
    for table in TABLES:
        name = f"{bootstrapped.prefix}-{table}"
        key = name.upper().replace("-", "_")
        expected[f"{key}_TABLE_NAME"] = name
        expected[f"{key}_TABLE_ARN"] = describe(target, name)["TableArn"]
    assert data == expected
    deployment = kube.AppsV1Api(target.kube_api()).read_namespaced_deployment(
        cluster_manifests.APP_NAME, cluster_manifests.APP_NAMESPACE)
    [container] = deployment.spec.template.spec.containers
    assert [source.config_map_ref.name for source in container.env_from] == [cluster_manifests.TABLES_CONFIG_MAP]


def test_the_run_graph_shows_the_checklists_dependencies(bootstrapped):
    """flows/checklist.py passes each step what it needs as futures: Prefect draws those edges."""
    edges = run_graph(bootstrapped.first_run_id)
    assert {("ensure_vpc", "ensure_subnets"), ("ensure_vpc", "ensure_security_group"),
            ("ensure_role", "ensure_cluster"), ("ensure_subnets", "ensure_cluster"),
            ("ensure_security_group", "ensure_cluster"), ("ensure_log_group", "ensure_cluster"),
            ("ensure_cluster", "ensure_nodegroup"), ("ensure_subnets", "ensure_msk_cluster"),
            ("ensure_db_subnet_group", "ensure_db_instance"), ("ensure_file_system", "ensure_mount_targets"),
            ("ensure_build_project", "ensure_pipeline"), ("ensure_bucket", "ensure_pipeline"),
            ("ensure_alarm", "ensure_dashboard"), ("ensure_subnets", "ensure_ebs_volume"),
            ("ensure_repository", "release_sample_app"), ("ensure_file_system", "apply_cluster_manifests"),
            ("ensure_mount_targets", "apply_cluster_manifests")} <= edges
    assert {edge[0] for edge in edges if edge[1] == "ensure_vpc"} == {"connect"}, "the VPC needs only the target"


def test_the_bootstrap_makes_no_aws_call_outside_its_iam_policies(bootstrapped):
    """deploy/iam/: the account-level policy and the Table policy (the bootstrap applies and reconciles Tables)."""
    assert outside(bootstrapped.first_calls + bootstrapped.second_calls, BOOTSTRAP_POLICY, TABLES_POLICY) == []


def test_the_first_run_made_each_resource_once(bootstrapped):
    made = bootstrapped.after_first
    p = bootstrapped.prefix
    assert made["security group"] == sorted(f"{p}-{purpose}" for purpose in ("cluster", "database", "efs", "kafka"))
    assert made["vpc"] == made["subnet"] == made["internet gateway"] == []  # the default VPC is used, untagged
    for kind in ("eks cluster", "eks nodegroup", "rds instance", "msk cluster", "ebs volume", "efs file system",
                 "app mesh", "api gateway", "codepipeline", "ecr repository", "dashboard", "db subnet group"):
        assert len(made[kind]) == 1, (kind, made[kind])
    assert len(made["iam role"]) == 4 and len(made["s3 bucket"]) == 2 and len(made["efs mount target"]) == 2
    assert made["dynamodb table"] == made["table resource"] == [f"{p}-{t}" for t in TABLES]
    assert made["sqs queue"] == [f"{p}-drift-events", f"{p}-drift-events-dlq"]
    assert made["eventbridge rule"] == [f"{p}-drift-events"]
    assert made["tagged (resourcegroupstaggingapi)"], "the tagging API finds nothing with the ownership tag"


def test_teardown_leaves_nothing_tagged_and_a_second_teardown_finds_nothing(target, bootstrapped, calls):
    calls.reset()
    rows = teardown(config_path=str(bootstrapped.config))
    assert outside(project_calls(calls), BOOTSTRAP_POLICY, TABLES_POLICY) == []
    assert {(r.service, r.name, r.action) for r in rows if r.action not in ("deleted", "absent")} == set()
    deleted = {(r.service, r.name) for r in rows if r.action == "deleted"}
    assert ("eks cluster", f"{bootstrapped.prefix}-cluster") in deleted
    assert ("helm release", "default/sample-app") in deleted
    assert {("dynamodb table", f"{bootstrapped.prefix}-{t}") for t in TABLES} <= deleted
    assert leftovers(target, bootstrapped.prefix) == {}
    assert live_kubernetes_objects(target, bootstrapped.config) == {}

    calls.reset()
    again = teardown(config_path=str(bootstrapped.config))
    assert {(r.service, r.name, r.action) for r in again if r.action != "absent"} == set()
    assert mutating(project_calls(calls)) == []


def creates(entries: list[dict[str, Any]]) -> set[str]:
    return {op for op in mutating(entries) if op.split(":")[1].startswith("Create")}


@pytest.mark.parametrize("kill_after", ["CreateBucket", "CreateDBInstance"])
def test_an_interrupted_run_resumed_ends_as_an_uninterrupted_run(target, sandbox, bootstrapped, calls, folder,
                                                                 capsys, kill_after):
    """Killed (SIGKILL, no chance to clean up) once the endpoint has seen `kill_after`: early, among the
    account-level resources, or midway, with the database just asked for and still being created."""
    prefix = new_prefix("i")
    config = write_config(folder, prefix)
    home = folder / f"prefect-{prefix}"
    home.mkdir()
    log = folder / f"{prefix}.log"
    calls.reset()
    with log.open("w") as out:
        child = subprocess.Popen([sys.executable, "-m", "flows.bootstrap", "--config", str(config)], cwd=REPO,
                                 env=child_env(sandbox, home), stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)  # its ephemeral Prefect server too is in its group
    try:
        deadline = time.monotonic() + 600
        while not any(c["operation"] == kill_after for c in project_calls(calls)):
            assert child.poll() is None, f"the run ended before {kill_after}:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no {kill_after} within 600 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    made_before = creates(project_calls(calls))
    assert made_before < creates(bootstrapped.first_calls), made_before  # partway: some made, not all

    try:
        calls.reset()
        resumed = bootstrap(config_path=str(config), plan=False)
        actions = {r.action for r in resumed}
        with capsys.disabled():
            print(f"\ninterrupted {prefix} after {kill_after}: {len(made_before)} of "
                  f"{len(creates(bootstrapped.first_calls))} kinds of Create made; the resumed run: "
                  + ", ".join(f"{sum(r.action == a for r in resumed)} {a}" for a in sorted(actions)))
        assert actions - {"created", "found", "updated"} == set(), actions
        assert {"created", "found"} <= actions
        # The resumed run made only what the first one had not.
        assert creates(project_calls(calls)) <= creates(bootstrapped.first_calls)
        assert normalised(resumed, prefix) == normalised(bootstrapped.first, bootstrapped.prefix)
        made = inventory(target, prefix)
        tagged = "tagged (resourcegroupstaggingapi)"
        assert {kind: [n.replace(prefix, "PREFIX") for n in names] for kind, names in made.items()
                if kind != tagged} == {kind: [n.replace(bootstrapped.prefix, "PREFIX") for n in names]
                                       for kind, names in bootstrapped.after_first.items() if kind != tagged}
        assert len(made[tagged]) == len(bootstrapped.after_first[tagged])
        assert {r.status for r in resumed if r.service == "dynamodb table"} == {"Synced"}
    finally:
        teardown(config_path=str(config))
    assert leftovers(target, prefix) == {}


BAD_CONFIGS = {
    "wrong enum": ({"rds": {"engine": "oracle"}}, "rds.engine: "),
    "negative size": ({"storage": {"ebs_size_gib": -5}}, "storage.ebs_size_gib: "),
    "unknown key": ({"msk": {"brokerz": 2}}, "msk.brokerz: unknown setting"),
    "missing manifest": ({"dynamodb": {"manifests": ["no/such-table.yaml"]}}, "dynamodb.manifests[0]: cannot read"),
}


@pytest.mark.parametrize("case", [*BAD_CONFIGS, "not a mapping"])
def test_a_bad_configuration_is_refused_naming_the_field_before_any_aws_call(sandbox, calls, folder, case):
    path = folder / f"bad-{case.replace(' ', '-')}.yaml"
    if case == "not a mapping":
        path.write_text("- prefix: bad-config\n- region: us-east-1\n")
        expected = "the configuration must be a mapping of settings, not a list"
    else:
        sections, expected = BAD_CONFIGS[case]
        path = write_config(folder, f"bad-{uuid.uuid4().hex[:6]}", **sections)
    home = folder / f"prefect-bad-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    calls.reset()
    command = subprocess.run([sys.executable, "-m", "flows.bootstrap", "--config", str(path)], cwd=REPO,
                             env=child_env(sandbox, home), capture_output=True, text=True, timeout=300)
    assert command.returncode == 1, command.stdout + command.stderr
    lines = command.stderr.splitlines()
    assert len(lines) == 1, command.stderr
    assert lines[0].startswith(f"bootstrap: {path}: ") and expected in lines[0], lines[0]
    assert "Traceback" not in command.stdout + command.stderr
    assert project_calls(calls) == []
