"""`python -m flows.watch`: Table resources applied, changed and deleted with kubectl are reconciled without
any other command, by a watch that holds only the role the controller's chart grants; which changes need work;
a fresh list after 410 Gone; a clean stop."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from controller.controller import WATCHING
from controller.informer import ResourceWatch, WorkFilter
from tasks.kube_tables import ensure_crd
from tests.integration.prefect_server import Process, child_env, wait_until
from tests.integration.tables import (
    CONTROLLER_NAMESPACE, Cluster, describe, dynamodb, install_controller, kubectl, manifest, simple_spec, table_exists,
    token_kubeconfig, unique,
)

SYNC_TIMEOUT = 240


def _resource(generation: int = 1, observed: int | None = None, synced: bool = False, deleting: bool = False,
              annotations: dict[str, str] | None = None) -> dict:
    meta = {"namespace": "ns", "name": "t", "generation": generation, "annotations": annotations or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status = {"observedGeneration": observed,
              "conditions": [{"type": "ACK.ResourceSynced", "status": "True" if synced else "False"}]}
    return {"apiVersion": "dynamodb.services.k8s.aws/v1alpha1", "kind": "Table", "metadata": meta, "status": status}


def test_our_own_writes_need_no_work_and_a_users_changes_do():
    needs_work = WorkFilter()
    assert needs_work("ADDED", _resource())
    assert not needs_work("MODIFIED", _resource())  # the finalizer, written before the status
    assert not needs_work("MODIFIED", _resource(observed=1, synced=True))  # the status
    assert needs_work("MODIFIED", _resource(generation=2, observed=1, synced=True))  # the spec
    assert needs_work("MODIFIED", _resource(generation=2, observed=1, synced=True,
                                            annotations={"ackflow.dev/allow-destructive": "true"}))
    assert needs_work("MODIFIED", _resource(generation=3, observed=2, synced=True, deleting=True))
    assert not needs_work("DELETED", _resource(generation=3, deleting=True))
    assert needs_work("ADDED", _resource())  # the same name again: a new resource


@pytest.mark.parametrize(("resource", "expected"), [
    (_resource(observed=1, synced=True), False),
    (_resource(observed=1, synced=False), True),  # a failed reconcile: a restart tries again
    (_resource(generation=2, observed=1, synced=True), True),
    (_resource(observed=1, synced=True, deleting=True), True),
])
def test_a_listed_resource_needs_work_unless_it_was_reconciled_at_its_generation(resource, expected):
    assert WorkFilter()("LISTED", resource) is expected


@pytest.fixture(scope="module")
def cluster(target) -> Cluster:
    ensure_crd.fn(target)  # an admin's step: the watch's role may only read the CRD
    return Cluster(target)


def _service_account_kubeconfig(sandbox, target, folder: Path) -> Path:
    """A kubeconfig holding a token of the controller's service account, as the pod would have."""
    token = client.CoreV1Api(target.kube_api()).create_namespaced_service_account_token(
        "ackflow-controller", CONTROLLER_NAMESPACE, {"spec": {"audiences": [], "expirationSeconds": 3600}}).status.token
    return token_kubeconfig(sandbox, token, folder / "kubeconfig")


@pytest.fixture(scope="module")
def watching(sandbox, target, cluster, tmp_path_factory) -> Process:
    """`python -m flows.watch --all-namespaces` with the role the controller's chart grants only, and Prefect's
    temporary API."""
    installed = install_controller(sandbox)
    assert installed.returncode == 0, installed.stderr
    folder = tmp_path_factory.mktemp("watch")
    kubeconfig = _service_account_kubeconfig(sandbox, target, folder)
    env = child_env(folder / "prefect-home", None, **{**sandbox.environ(), "KUBECONFIG": str(kubeconfig)})
    watch = Process([sys.executable, "-m", "flows.watch", "--all-namespaces"], env, folder / "watch.log")
    try:
        wait_until(lambda: f"{WATCHING} in every namespace" in watch.output(), "the watch", 180, watch)
        yield watch
    finally:
        watch.stop()
        print(f"watch output: {watch.log}")


def _synced(cluster: Cluster, name: str, namespace: str, generation: int) -> bool:
    resource = cluster.get(name, namespace)
    condition = cluster.condition(name, "ACK.ResourceSynced", namespace)
    return (resource.get("status") or {}).get("observedGeneration") == generation and bool(
        condition and condition["status"] == "True")


def _apply(sandbox, resource: dict, folder: Path) -> Path:
    path = folder / f"{unique('table')}.yaml"
    path.write_text(yaml.safe_dump(resource))
    applied = kubectl(sandbox, "apply", "-f", str(path))
    assert applied.returncode == 0, applied.stderr
    return path


@pytest.mark.integration
def test_tables_applied_changed_and_deleted_with_kubectl_are_reconciled_by_the_watch(watching, sandbox, target,
                                                                                     cluster, tmp_path):
    namespace, table = unique("watched"), unique("watched")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    resource = manifest("orders", simple_spec(table), namespace)
    _apply(sandbox, resource, tmp_path)
    wait_until(lambda: _synced(cluster, "orders", namespace, 1), "the watch syncing a new Table", SYNC_TIMEOUT,
               watching)
    wait_until(lambda: f"{namespace}/orders: Synced" in watching.output(), "the watch's line", 30, watching)
    assert f"ADDED Table {namespace}/orders (generation 1): queued" in watching.output()

    resource["spec"]["tags"] = [{"key": "team", "value": "platform"}]
    path = _apply(sandbox, resource, tmp_path)
    wait_until(lambda: _synced(cluster, "orders", namespace, 2), "the watch syncing a changed spec", SYNC_TIMEOUT,
               watching)
    arn = cluster.get("orders", namespace)["status"]["ackResourceMetadata"]["arn"]
    assert dynamodb(target).list_tags_of_resource(ResourceArn=arn)["Tags"][-1:] == [{"Key": "team",
                                                                                       "Value": "platform"}]
    wait_until(lambda: watching.output().count(f"{namespace}/orders: Synced") == 2, "the watch's line", 30, watching)
    assert f"MODIFIED Table {namespace}/orders (generation 2): queued" in watching.output()
    # Our own finalizer and status writes caused no reconcile of their own: one line per user change.
    assert watching.output().count(f"{namespace}/orders (generation") == 2

    deleted = kubectl(sandbox, "delete", "-f", str(path), "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
    wait_until(lambda: not cluster.exists("orders", namespace) and not table_exists(target, table),
               "the watch deleting the table and releasing the resource", SYNC_TIMEOUT, watching)


@pytest.mark.integration
def test_a_watch_whose_resource_version_is_gone_lists_again(target, cluster):
    namespace = unique("gone")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    cluster.api.create_namespaced_custom_object("dynamodb.services.k8s.aws", "v1alpha1", namespace, "tables",
                                                manifest("t", simple_spec(unique("gone")), namespace))
    tables = ResourceWatch(client.CustomObjectsApi(target.kube_api()), namespace)
    changes = tables.changes(version="1")  # long compacted: the API server answers 410 Gone
    change, resource = next(changes)
    tables.stop()
    assert (change, resource["metadata"]["name"]) == ("LISTED", "t")
    assert list(changes) == []  # and a stopped watch ends


@pytest.mark.integration
def test_a_field_export_follows_its_source_as_the_watch_reconciles_both(watching, sandbox, target, cluster, tmp_path):
    """ACK's FieldExport, with the role the chart grants: the stream's ARN is exported once the Table has a stream,
    and again when the stream is replaced, with no change to the FieldExport itself."""
    namespace, table = unique("exported"), unique("exported")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    cluster.core.create_namespaced_config_map(namespace, {"metadata": {"name": "app"}})
    resource = manifest("orders", simple_spec(table), namespace)
    _apply(sandbox, resource, tmp_path)
    _apply(sandbox, {"apiVersion": "services.k8s.aws/v1alpha1", "kind": "FieldExport",
                     "metadata": {"name": "stream", "namespace": namespace},
                     "spec": {"from": {"path": ".status.latestStreamARN",
                                       "resource": {"group": "dynamodb.services.k8s.aws", "kind": "Table",
                                                    "name": "orders"}},
                              "to": {"kind": "configmap", "name": "app", "key": "STREAM"}}}, tmp_path)
    wait_until(lambda: _synced(cluster, "orders", namespace, 1), "the Table synced", SYNC_TIMEOUT, watching)
    wait_until(lambda: f"FieldExport {namespace}/stream: Terminal (PathNotFound)" in watching.output(),
               "the FieldExport waiting for a stream", 60, watching)

    def exported() -> str | None:
        return (cluster.core.read_namespaced_config_map("app", namespace).data or {}).get("STREAM")

    for view in ("NEW_IMAGE", "KEYS_ONLY"):  # a new view type is a new stream: a new ARN
        resource["spec"]["streamSpecification"] = {"streamEnabled": True, "streamViewType": view}
        _apply(sandbox, resource, tmp_path)
        wait_until(lambda: exported() == describe(target, table).get("LatestStreamArn"), "the stream's ARN exported",
                   SYNC_TIMEOUT, watching)
    assert exported().startswith(f"arn:aws:dynamodb:{target.region}:") and "/stream/" in exported()
    assert watching.output().count(f"FieldExport {namespace}/stream (generation") == 1  # applied once


@pytest.mark.integration
def test_the_watch_resumes_after_an_apiserver_restart(watching, sandbox, cluster, tmp_path):
    """The connection breaks; the watch says so, resumes from its resourceVersion and misses nothing applied
    while the server was down or just after (the restart is made from this thread: see test_apiserver_restart)."""
    sandbox.control_plane.restart_apiserver()
    namespace, table = unique("resumed"), unique("resumed")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    _apply(sandbox, manifest("after-restart", simple_spec(table), namespace), tmp_path)
    wait_until(lambda: _synced(cluster, "after-restart", namespace, 1), "the watch syncing a Table after a restart",
               SYNC_TIMEOUT, watching)
    line = f"{namespace}/after-restart: Synced"
    wait_until(lambda: line in watching.output(), "the watch's line", 30, watching)  # printed after the status write
    assert "watch of tables interrupted: " in watching.output()
    assert watching.output().count(line) == 1
    assert watching.output().count(f"{namespace}/after-restart (generation 1): queued") == 1


@pytest.mark.integration
def test_the_watch_stops_cleanly_on_sigterm(watching):
    assert watching.stop(signal.SIGTERM) == 0, watching.output()[-3000:]
    assert "watch stopped after" in watching.output()
