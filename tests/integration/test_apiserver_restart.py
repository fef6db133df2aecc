"""The kube-apiserver restarting in the middle of a reconcile or a drift run: the run rides it out (or
fails with a clear message), a rerun converges, and no item is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from flows.drift import drift
from tests.integration.tables import (
    CallCounter, Cluster, apply, assert_nothing_lost, describe, dynamodb, fill, manifest, reconcile_table, simple_spec,
    unique, updating,
)

pytestmark = pytest.mark.integration
GSI = {"indexName": "by-id", "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
       "projection": {"projectionType": "ALL"}}


def _run_through_a_restart(sandbox, run: Callable[[], Any], when: Callable[[], bool]) -> Any:
    """`run` in a thread; the API server restarted from this one (its children die with the thread that
    started them) once `when` holds. Returns what `run` returned, or the exception it raised."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(run())
        except Exception as exc:  # noqa: BLE001 (the test inspects it)
            outcome.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    deadline = time.monotonic() + 60
    while not when() and time.monotonic() < deadline:
        time.sleep(0.05)
    sandbox.control_plane.restart_apiserver()
    worker.join(600)
    return outcome[0]


def test_a_reconcile_rides_out_an_apiserver_restart(sandbox, target):
    cluster, table = Cluster(target), unique("restart")
    apply([manifest(table, simple_spec(table))])
    fill(dynamodb(target), [table])
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    resource = cluster.get(table)
    resource["spec"]["globalSecondaryIndexes"] = [GSI]
    cluster.api.replace_namespaced_custom_object("dynamodb.services.k8s.aws", "v1alpha1", "default", "tables",
                                                 table, resource)
    outcome = _run_through_a_restart(sandbox, lambda: reconcile_table("default", table),
                                     updating(target, table))
    if isinstance(outcome, Exception) or outcome.state != "Synced":  # a clear failure; then a rerun converges
        assert str(outcome)
        outcome = reconcile_table("default", table)
    assert outcome.state == "Synced", outcome.message
    assert cluster.get(table)["status"]["globalSecondaryIndexesDescriptions"][0]["indexName"] == "by-id"
    assert_nothing_lost(dynamodb(target), [table], calls.entries())


def test_a_drift_run_rides_out_an_apiserver_restart(sandbox, target, tmp_path):
    cluster, namespace, table = Cluster(target), unique("restart"), unique("restart")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    apply([manifest(table, simple_spec(table, tags=[{"key": "team", "value": "a"}]), namespace)])
    arn = describe(target, table)["TableArn"]
    fill(dynamodb(target), [table])
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    dynamodb(target).untag_resource(ResourceArn=arn, TagKeys=["team"])
    result = _run_through_a_restart(sandbox, lambda: drift(namespace=namespace, report_path=str(tmp_path / "1.json")),
                                    lambda: True)
    if isinstance(result, Exception):
        assert str(result)
        drift(namespace=namespace, report_path=str(tmp_path / "2.json"))
    assert {"Key": "team", "Value": "a"} in dynamodb(target).list_tags_of_resource(ResourceArn=arn)["Tags"]
    assert drift(namespace=namespace, report_path=str(tmp_path / "3.json")).counts["IN_SYNC"] == 1
    assert_nothing_lost(dynamodb(target), [table], calls.entries())
