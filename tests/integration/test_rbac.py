"""The flows work with exactly the shipped ClusterRole (deploy/rbac/ackflow-flows.yaml), as a ServiceAccount
with a token from the API server; the read-only user sees Table resources but cannot change them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ack.model import CRD_NAME, GROUP, PLURAL, VERSION
from flows.drift import drift
from tasks.connections import Target
from tasks.kube_tables import SCHEMA_DIGEST, KubeError, ensure_crd
from tests.integration.tables import (
    Cluster, apply, describe, kubectl, manifest, reconcile_table, simple_spec,
    token_kubeconfig, unique,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "deploy" / "rbac" / "ackflow-flows.yaml"


@pytest.fixture(scope="module")
def least_privileged(sandbox, target, tmp_path_factory) -> Target:
    """The session's target, but as the ServiceAccount `ackflow-flows` bound to the shipped role only."""
    ensure_crd.fn(target)  # the admin's one-time install
    applied = kubectl(sandbox, "apply", "-f", str(ROLE))
    assert applied.returncode == 0, applied.stderr
    api = sandbox.control_plane.api_client()
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    namespace = unique("rbac")
    core.create_namespace({"metadata": {"name": namespace}})
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "ackflow-flows"}})
    rbac.create_cluster_role_binding({
        "metadata": {"name": f"ackflow-flows-{namespace}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ackflow-flows"},
        "subjects": [{"kind": "ServiceAccount", "name": "ackflow-flows", "namespace": namespace}]})
    token = core.create_namespaced_service_account_token(
        "ackflow-flows", namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    path = token_kubeconfig(sandbox, token, tmp_path_factory.mktemp("rbac") / "kubeconfig", namespace)
    return target.model_copy(update={"kubeconfig": str(path)})


def test_the_flows_work_with_the_shipped_role_alone(least_privileged, target, monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", least_privileged.kubeconfig)
    namespace = yaml.safe_load(Path(least_privileged.kubeconfig).read_text())["contexts"][0]["context"]["namespace"]
    table = unique("rbac")
    [outcome] = apply([manifest(table, simple_spec(table), namespace)])
    assert outcome.state == "Synced", outcome.message
    assert describe(target, table)["TableStatus"] == "ACTIVE"
    result = drift(namespace=namespace, report_path=str(tmp_path / "r.json"))
    assert result.failures == 0 and result.counts["IN_SYNC"] == 1
    client.CustomObjectsApi(least_privileged.kube_api()).delete_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, table)
    assert reconcile_table(namespace, table).state == "Deleted"


def test_the_shipped_role_allows_nothing_more(least_privileged):
    core = client.CoreV1Api(least_privileged.kube_api())
    for forbidden in (lambda: core.create_namespace({"metadata": {"name": unique("nope")}}),
                      lambda: core.list_secret_for_all_namespaces(),
                      lambda: client.ApiextensionsV1Api(least_privileged.kube_api()).delete_custom_resource_definition(
                          "tables.dynamodb.services.k8s.aws")):
        with pytest.raises(client.ApiException) as refused:
            forbidden()
        assert refused.value.status == 403


def test_the_viewer_sees_tables_but_cannot_change_them(sandbox, target):
    table = unique("viewed")
    apply([manifest(table, simple_spec(table))])
    viewer = client.CustomObjectsApi(sandbox.control_plane.api_client(sandbox.control_plane.viewer_token))
    assert viewer.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, table)["spec"]["tableName"] == table
    for change in (lambda: viewer.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, table,
                                                                 {"spec": {"tableClass": "STANDARD"}}),
                   lambda: viewer.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, table)):
        with pytest.raises(client.ApiException) as refused:
            change()
        assert refused.value.status == 403
        assert "cannot" in json.loads(refused.value.body)["message"]
    assert Cluster(target).exists(table)


def test_a_role_that_may_only_read_the_crd_is_told_when_it_is_out_of_date(least_privileged, target):
    extensions = client.ApiextensionsV1Api(target.kube_api())
    extensions.patch_custom_resource_definition(CRD_NAME, {"metadata": {"annotations": {SCHEMA_DIGEST: "stale"}}})
    try:
        with pytest.raises(KubeError, match="out of date and this identity may not install it"):
            ensure_crd.fn(least_privileged)
    finally:
        assert ensure_crd.fn(target) == "updated"  # the admin's install puts it right
