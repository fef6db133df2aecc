"""Capacity left to Application Auto Scaling (a scalable target registered) or named in ackflow.dev/ignore-fields:
neither reconcile nor drift resets it, and drift reports it as ignored (moto serves Application Auto Scaling)."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from ack.ignore import AUTOSCALING, IGNORE_FIELDS
from flows.apply import apply
from flows.drift import drift
from tests.integration.tables import CallCounter, describe, dynamodb, manifest, reconcile_table, settle, unique

pytestmark = pytest.mark.integration


@pytest.fixture()
def namespace(target) -> str:
    name = unique("scaling")
    client.CoreV1Api(target.kube_api()).create_namespace({"metadata": {"name": name}})
    return name


def provisioned(table: str) -> dict:
    return {"tableName": table, "billingMode": "PROVISIONED",
            "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"}],
            "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
            "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5}}


def capacity(target, table: str) -> tuple[int, int]:
    throughput = describe(target, table)["ProvisionedThroughput"]
    return throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]


def out_of_band(target, table: str, read: int, write: int) -> None:
    """What autoscaling (or a person) does: UpdateTable from outside the cluster."""
    dynamodb(target).update_table(TableName=table, ProvisionedThroughput={"ReadCapacityUnits": read,
                                                                          "WriteCapacityUnits": write})
    settle(target, table)


def test_read_capacity_with_a_scalable_target_is_autoscalings_and_the_rest_the_specs(target, sandbox, namespace,
                                                                                    tmp_path):
    table = unique("scaled")
    apply([manifest(table, provisioned(table), namespace)])
    target.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="dynamodb", ResourceId=f"table/{table}", ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=5, MaxCapacity=100)
    out_of_band(target, table, read=40, write=9)

    report = tmp_path / "report.json"
    result = drift(namespace=namespace, report_path=str(report))
    rows = [r for r in json.loads(report.read_text()) if r["table"] == table]
    by_field = {r["field"]: (r["action"], r["actual"], r["desired"], r["message"]) for r in rows}
    assert by_field["spec.provisionedThroughput.readCapacityUnits"] == ("ignored", "40", "5", AUTOSCALING)
    assert by_field["spec.provisionedThroughput.writeCapacityUnits"][0] == "remediated"
    assert result.failures == 0
    settle(target, table)
    assert capacity(target, table) == (40, 5)  # autoscaling's read capacity kept, the spec's write capacity back

    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    assert reconcile_table(namespace, table).state == "Synced"
    assert "UpdateTable" not in calls.operations()


def test_fields_named_in_the_annotation_are_neither_reconciled_nor_remediated(target, sandbox, namespace, tmp_path):
    table = unique("ignored")
    apply([manifest(table, provisioned(table), namespace, {IGNORE_FIELDS: "spec.provisionedThroughput"})])
    out_of_band(target, table, read=7, write=11)
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    assert reconcile_table(namespace, table).state == "Synced"
    report = tmp_path / "report.json"
    drift(namespace=namespace, report_path=str(report))
    assert "UpdateTable" not in calls.operations()
    assert capacity(target, table) == (7, 11)
    ignored = {r["field"]: r["message"] for r in json.loads(report.read_text())
               if r["table"] == table and r["action"] == "ignored"}
    assert ignored == {"spec.provisionedThroughput.readCapacityUnits": f"named in {IGNORE_FIELDS}",
                       "spec.provisionedThroughput.writeCapacityUnits": f"named in {IGNORE_FIELDS}"}
