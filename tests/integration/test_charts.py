"""The Helm charts (deploy/charts): lint and template clean, install on the sandbox with its pinned Helm, and the
controller chart grants exactly the least privilege the controller needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ack.crd import crd_file, crd_manifest
from ack.kinds import KINDS

from tests.integration.tables import (
    CONTROLLER_ACCOUNT, CONTROLLER_NAMESPACE, helm, install_controller, kubectl, unique,
)

pytestmark = pytest.mark.integration
CHARTS = Path(__file__).resolve().parents[2] / "deploy" / "charts"
TABLES = "tables.dynamodb.services.k8s.aws"
# What a reconcile reads and writes, nothing more.
CONTROLLER_RULES = [
    {"apiGroups": ["dynamodb.services.k8s.aws"], "resources": ["tables", "backups"],
     "verbs": ["get", "list", "watch", "update", "patch"]},
    {"apiGroups": ["dynamodb.services.k8s.aws"], "resources": ["tables/status", "backups/status"],
     "verbs": ["get", "update", "patch"]},
    {"apiGroups": ["services.k8s.aws"], "resources": ["fieldexports"],
     "verbs": ["get", "list", "watch", "update", "patch"]},
    {"apiGroups": ["services.k8s.aws"], "resources": ["fieldexports/status"], "verbs": ["get", "update", "patch"]},
    {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "patch"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
     "resourceNames": [TABLES, "backups.dynamodb.services.k8s.aws", "fieldexports.services.k8s.aws"], "verbs": ["get"]},
]
LEADER_RULES = [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}]


@pytest.mark.parametrize("chart", ["ackflow-controller", "sample-app"])
def test_charts_lint_clean(sandbox, chart):
    linted = helm(sandbox, "lint", "--strict", str(CHARTS / chart))
    assert linted.returncode == 0, linted.stdout + linted.stderr


def rendered(sandbox, *values: str) -> list[dict]:
    out = helm(sandbox, "template", "ackflow", str(CHARTS / "ackflow-controller"), "-n", CONTROLLER_NAMESPACE,
               *values)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def test_the_controller_chart_renders_its_values_into_acks_flags_and_least_privilege(sandbox):
    documents = rendered(sandbox, "--set", "watchNamespace=payments", "--set", "maxConcurrentReconciles=8",
                         "--set", "reconcileDefaultResyncSeconds=600", "--set", "deletionPolicy=retain",
                         "--set", "driftEventsQueue=ackflow-drift-events", "--set", "aws.region=eu-west-1", "--set", "prefect.apiUrl=http://prefect:4200/api",
                         "--set", "resourceTags={team=payments,owner=%K8S_NAMESPACE%}",
                         "--set", "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::1:role/x")
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    assert kinds[("ClusterRole", "ackflow")]["rules"] == CONTROLLER_RULES
    assert kinds[("Role", "ackflow-leader-election")]["rules"] == LEADER_RULES
    assert kinds[("ServiceAccount", "ackflow-controller")]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}
    [container] = kinds[("Deployment", "ackflow")]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "python", "-m", "flows.watch", "--namespace=payments", "--target=aws", "--max-concurrent-reconciles=8",
        "--reconcile-default-resync-seconds=600", "--deletion-policy=retain",
        "--resource-tags=$(ACK_RESOURCE_TAGS)", "--metrics-addr=:8080", "--drift-events=ackflow-drift-events",
        "--enable-leader-election", f"--leader-election-namespace={CONTROLLER_NAMESPACE}"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AWS_REGION"] == "eu-west-1" and env["PREFECT_API_URL"] == "http://prefect:4200/api"
    assert env["ACK_RESOURCE_TAGS"] == "team=payments,owner=%K8S_NAMESPACE%"  # as ACK's chart passes them
    assert kinds[("Service", "ackflow-metrics")]["spec"]["ports"][0]["port"] == 8080
    no_election = {(d["kind"], d["metadata"]["name"])
                   for d in rendered(sandbox, "--set", "leaderElection.enabled=false")}
    assert ("Role", "ackflow-leader-election") not in no_election


@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda kind: kind.kind)
def test_kubernetes_tools_read_the_charts_crds_as_the_models_write_them(sandbox, kind):
    """Helm and kubectl read YAML 1.1 (an unquoted enum value N would be false): kubectl's own reading of the
    chart's CRD files is the models' CRDs."""
    read = kubectl(sandbox, "create", "--dry-run=client", "-o", "json", "-f",
                   str(CHARTS / "ackflow-controller" / "crds" / crd_file(kind)))
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == crd_manifest(kind)


def test_the_controller_chart_installs_with_its_crd_and_grants_only_what_the_controller_needs(sandbox, target):
    for _ in range(2):  # and again: an upgrade that changes nothing
        installed = install_controller(sandbox)
        assert installed.returncode == 0, installed.stderr
    assert "ackflow" in helm(sandbox, "list", "-A").stdout
    for kind in KINDS.values():
        crd = client.ApiextensionsV1Api(target.kube_api()).read_custom_resource_definition(kind.crd_name)
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    exports = "fieldexports.services.k8s.aws"
    allowed = [("watch", TABLES, "--all-namespaces"), ("patch", TABLES, "-n", "default"),
               ("patch", TABLES, "--subresource=status", "-n", "default"), ("get", "namespaces"),
               ("watch", "backups.dynamodb.services.k8s.aws", "--all-namespaces"), ("watch", exports, "-A"),
               ("patch", exports, "--subresource=status", "-n", "default"), ("patch", "configmaps", "-n", "default"),
               ("create", "events", "-n", "default"), ("get", f"customresourcedefinitions/{TABLES}"),
               ("update", "leases", "-n", CONTROLLER_NAMESPACE)]
    # A FieldExport's target must exist: the controller creates no ConfigMap or Secret, nor lists them.
    refused = [("delete", TABLES, "-n", "default"), ("create", TABLES, "-n", "default"), ("list", "secrets", "-A"),
               ("create", "configmaps", "-n", "default"), ("create", "customresourcedefinitions"),
               ("get", "customresourcedefinitions/other.example.com"), ("create", "leases", "-n", "default")]
    for verb_and_resource in allowed:
        assert kubectl(sandbox, "auth", "can-i", *verb_and_resource, user=CONTROLLER_ACCOUNT).returncode == 0, \
            verb_and_resource
    for verb_and_resource in refused:
        assert kubectl(sandbox, "auth", "can-i", *verb_and_resource, user=CONTROLLER_ACCOUNT).returncode == 1, \
            verb_and_resource
    # kube-controller-manager makes the Deployment's ReplicaSet; with no scheduler or kubelet, its pods stay Pending.
    apps = client.AppsV1Api(target.kube_api())
    selector = "app.kubernetes.io/instance=ackflow"
    assert apps.list_namespaced_replica_set(CONTROLLER_NAMESPACE, label_selector=selector).items
    assert {p.status.phase for p in client.CoreV1Api(target.kube_api()).list_namespaced_pod(
        CONTROLLER_NAMESPACE, label_selector=selector).items} <= {"Pending"}


def test_the_sample_app_chart_installs_and_uninstalls(sandbox, target):
    namespace = unique("app")
    chart = str(CHARTS / "sample-app")
    installed = helm(sandbox, "install", "demo", chart, "-n", namespace, "--create-namespace",
                     "--set", "image.repository=123456789012.dkr.ecr.us-east-1.amazonaws.com/app")
    assert installed.returncode == 0, installed.stderr
    deployment = client.AppsV1Api(target.kube_api()).read_namespaced_deployment("demo", namespace)
    image = deployment.spec.template.spec.containers[0].image
    assert image == "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest"
    removed = helm(sandbox, "uninstall", "demo", "-n", namespace)
    assert removed.returncode == 0, removed.stderr
    assert helm(sandbox, "status", "demo", "-n", namespace).returncode != 0
