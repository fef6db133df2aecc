"""Helpers for tests that drive Table resources through the flows and look at both sides."""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import yaml
from kubernetes import client

from ack.model import GROUP, PLURAL, VERSION
from ack.outcome import Outcome
from flows.apply import apply
from flows.reconcile import reconcile
from sandbox.aws import calls, reset_calls
from sandbox.pki import write_private
from sandbox.stack import Sandbox
from tasks.connections import Target, resolve_target


def reconcile_table(namespace: str, name: str) -> Outcome:
    """One resource through the one reconcile entrance (the `reconcile` flow, acting where the environment
    points), round after round, until synced or terminal."""
    [outcome] = reconcile(namespace=namespace, name=name)
    return outcome


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def manifest(name: str, spec: dict[str, Any], namespace: str = "default",
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Table", "metadata": meta, "spec": copy.deepcopy(spec)}


def simple_spec(table_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "tableName": table_name,
        "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"}],
        "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
        "billingMode": "PAY_PER_REQUEST",
        **extra,
    }


class Cluster:
    """The Kubernetes side of the tests: Table resources as the API server holds them."""

    def __init__(self, target: Target):
        self.api = client.CustomObjectsApi(target.kube_api())
        self.core = client.CoreV1Api(target.kube_api())

    def get(self, name: str, namespace: str = "default") -> dict[str, Any]:
        return self.api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def exists(self, name: str, namespace: str = "default") -> bool:
        try:
            self.get(name, namespace)
            return True
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def delete(self, name: str, namespace: str = "default") -> None:
        self.api.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def condition(self, name: str, type_: str, namespace: str = "default") -> dict[str, Any] | None:
        status = self.get(name, namespace).get("status") or {}
        return next((c for c in status.get("conditions", []) if c["type"] == type_), None)


def dynamodb(target: Target):
    """The tests' own client (not the flows': their calls are counted apart), for the credentials the environment
    names now (some modules switch to a sandbox of their own); one per endpoint and key, made once."""
    return _dynamodb(target.region, target.aws_endpoint_url, os.environ.get("AWS_ACCESS_KEY_ID"))


@functools.cache
def _dynamodb(region: str, endpoint_url: str | None, _access_key_id: str | None):
    return boto3.session.Session().client("dynamodb", region_name=region, endpoint_url=endpoint_url)


def describe(target: Target, table_name: str) -> dict[str, Any]:
    return dynamodb(target).describe_table(TableName=table_name)["Table"]


def updating(target: Target, table_name: str) -> Callable[[], bool]:
    """A check to poll: is the table UPDATING (e.g. building an index, for half a second in the sandbox)?"""
    return lambda: describe(target, table_name)["TableStatus"] == "UPDATING"


def settle(target: Target, table_name: str, timeout: float = 60) -> None:
    """Wait, as a person would have, until AWS finished an out-of-band change (table and indexes ACTIVE)."""
    deadline = time.monotonic() + timeout
    while True:
        table = describe(target, table_name)
        if table["TableStatus"] == "ACTIVE" and all(
                i["IndexStatus"] == "ACTIVE" for i in table.get("GlobalSecondaryIndexes", [])):
            return
        assert time.monotonic() < deadline, f"{table_name} did not settle within {timeout:.0f} s"
        time.sleep(0.1)


def table_exists(target: Target, table_name: str) -> bool:
    return table_name in dynamodb(target).list_tables()["TableNames"]


def kubectl(sandbox: Sandbox, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """The sandbox's kubectl against its API server, as the admin or impersonating `user`."""
    impersonate = [f"--as={user}"] if user else []
    return subprocess.run([str(sandbox.kubectl_path), *impersonate, *args], env={**os.environ, **sandbox.environ()},
                          capture_output=True, text=True, timeout=60)


CONTROLLER_CHART = Path(__file__).resolve().parents[2] / "deploy" / "charts" / "ackflow-controller"
CONTROLLER_NAMESPACE = "ackflow-system"
CONTROLLER_ACCOUNT = f"system:serviceaccount:{CONTROLLER_NAMESPACE}:ackflow-controller"


def helm(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    """The sandbox's Helm (DIR/bin/helm) against its API server."""
    return subprocess.run([str(sandbox.helm_path), *args], env={**os.environ, **sandbox.environ()},
                          capture_output=True, text=True, timeout=300)


def install_controller(sandbox: Sandbox) -> subprocess.CompletedProcess[str]:
    """The controller's chart, as an operator installs it (again: an upgrade that changes nothing)."""
    return helm(sandbox, "upgrade", "--install", "ackflow", str(CONTROLLER_CHART), "-n", CONTROLLER_NAMESPACE,
                "--create-namespace", "--set", "aws.target=sandbox")


def token_kubeconfig(sandbox: Sandbox, token: str, path: Path, namespace: str | None = None) -> Path:
    """The sandbox's kubeconfig with a bearer token (e.g. a ServiceAccount's) in place of the admin's, written
    0600 as secrets are."""
    config = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    context = {"cluster": config["clusters"][0]["name"], "user": "token"}
    if namespace:
        context["namespace"] = namespace
    config.update({"users": [{"name": "token", "user": {"token": token}}],
                   "contexts": [{"name": "token", "context": context}], "current-context": "token"})
    return write_private(path, yaml.safe_dump(config))


ITEMS = 25


def fill(ddb, tables: list[str], items: int = ITEMS) -> None:
    """Items in each table, for the data-safety checks (`exp`: a TTL attribute far in the future)."""
    for table in tables:
        for i in range(items):
            ddb.put_item(TableName=table, Item={"id": {"S": f"{table}-{i}"}, "exp": {"N": "4102444800"}})


def assert_nothing_lost(ddb, tables: list[str], entries: list[dict[str, Any]], items: int = ITEMS,
                        index_deletions: int = 0) -> None:
    """Every item still in its table, and among the project's recorded calls no DeleteTable and only the
    index deletions that were opted in."""
    project = [c for c in entries if c.get("app") == "ackflow"]
    assert "DeleteTable" not in {c["operation"] for c in project}
    deletions = [c for c in project for action, _ in c.get("index_changes", []) if action == "Delete"]
    assert len(deletions) == index_deletions, deletions
    for table in tables:
        assert ddb.scan(TableName=table, Select="COUNT")["Count"] == items, table


@contextlib.contextmanager
def own_sandbox(folder, aws_env: dict[str, str]):
    """A sandbox of a module's own (e.g. with faults injected); the process environment points at it
    meanwhile, and the flows' target with it."""
    saved = dict(os.environ)
    with Sandbox(folder, aws_env=aws_env) as sandbox:
        os.environ.update(sandbox.environ())
        try:
            yield resolve_target("sandbox")
        finally:
            os.environ.clear()
            os.environ.update(saved)


class CallCounter:
    """The AWS calls the local endpoint received since the last reset."""

    def __init__(self, target: Target, access_key_id: str):
        self.target = target
        self.key = access_key_id

    def reset(self) -> None:
        reset_calls(self.target.aws_endpoint_url, self.key)

    def entries(self) -> list[dict[str, Any]]:
        return calls(self.target.aws_endpoint_url, self.key)

    def operations(self, service: str = "dynamodb") -> list[str]:
        return [c["operation"] for c in self.entries() if c["service"] == service]


__all__ = ["apply", "reconcile_table", "helm", "install_controller", "CONTROLLER_ACCOUNT", "CONTROLLER_NAMESPACE",
           "manifest", "simple_spec", "unique", "Cluster", "dynamodb", "describe",
           "table_exists", "updating", "settle", "kubectl", "token_kubeconfig", "CallCounter", "fill",
           "assert_nothing_lost", "ITEMS"]
