"""Drift made out of band with boto3, as a person at the AWS console would: detected exactly, fixed (or
reported) per policy, never losing an item; a second run finds everything in sync and changes nothing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ack.model import ALLOW_DESTRUCTIVE, RECREATE_MISSING
from flows.drift import drift
from tests.integration.tables import CallCounter, Cluster, apply, describe, dynamodb, manifest, settle, unique

pytestmark = pytest.mark.integration
MUTATING = ("Create", "Update", "Delete", "Tag", "Untag", "Put", "Restore")
THROUGHPUT = {"readCapacityUnits": 5, "writeCapacityUnits": 5}
ITEMS = 12


def base_spec(table_name: str) -> dict[str, Any]:
    return {
        "tableName": table_name,
        "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"},
                                 {"attributeName": "state", "attributeType": "S"}],
        "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
        "billingMode": "PROVISIONED",
        "provisionedThroughput": THROUGHPUT,
        "globalSecondaryIndexes": [{"indexName": "by-state",
                                    "keySchema": [{"attributeName": "state", "keyType": "HASH"}],
                                    "projection": {"projectionType": "KEYS_ONLY"},
                                    "provisionedThroughput": THROUGHPUT}],
        "streamSpecification": {"streamEnabled": True, "streamViewType": "NEW_IMAGE"},
        "timeToLive": {"attributeName": "expires", "enabled": True},
        "continuousBackups": {"pointInTimeRecoveryEnabled": True},
        "deletionProtectionEnabled": True,
        "tags": [{"key": "team", "value": "platform"}],
    }


@dataclass
class Case:
    """One kind of drift: how it is made, what a detect-only run must report, what remediation does."""

    name: str
    make: Callable[[Any, str], None]  # (dynamodb client, table name)
    expected: dict[str, tuple[Any, Any]]  # field path -> (desired, actual), as the report shows them
    action: str = "remediated"
    annotations: dict[str, str] = field(default_factory=dict)


def _arn(ddb, table: str) -> str:
    return ddb.describe_table(TableName=table)["Table"]["TableArn"]


CASES = [
    Case("throughput",
         lambda ddb, t: ddb.update_table(TableName=t, ProvisionedThroughput={"ReadCapacityUnits": 7,
                                                                             "WriteCapacityUnits": 9}),
         {"spec.provisionedThroughput.readCapacityUnits": ("5", "7"),
          "spec.provisionedThroughput.writeCapacityUnits": ("5", "9")}),
    Case("tags",
         lambda ddb, t: (ddb.untag_resource(ResourceArn=_arn(ddb, t), TagKeys=["team"]),
                         ddb.tag_resource(ResourceArn=_arn(ddb, t), Tags=[{"Key": "cost", "Value": "x"}])),
         {"spec.tags[byKey:team]": ("platform", ""), "spec.tags[byKey:cost]": ("", "x")}),
    Case("ttl-disabled",
         lambda ddb, t: ddb.update_time_to_live(TableName=t, TimeToLiveSpecification={"Enabled": False,
                                                                                     "AttributeName": "expires"}),
         {"spec.timeToLive.enabled": ("true", "false"), "spec.timeToLive.attributeName": ("expires", "")}),
    Case("pitr-disabled",
         lambda ddb, t: ddb.update_continuous_backups(
             TableName=t, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}),
         {"spec.continuousBackups.pointInTimeRecoveryEnabled": ("true", "false")}),
    Case("stream-disabled",
         lambda ddb, t: ddb.update_table(TableName=t, StreamSpecification={"StreamEnabled": False}),
         {"spec.streamSpecification.streamEnabled": ("true", "false"),
          "spec.streamSpecification.streamViewType": ("NEW_IMAGE", "")}),
    Case("deletion-protection-off",
         lambda ddb, t: ddb.update_table(TableName=t, DeletionProtectionEnabled=False),
         {"spec.deletionProtectionEnabled": ("true", "false")}),
    Case("billing-switched",
         lambda ddb, t: ddb.update_table(TableName=t, BillingMode="PAY_PER_REQUEST"),
         {"spec.billingMode": ("PROVISIONED", "PAY_PER_REQUEST")}),
    Case("gsi-throughput",
         lambda ddb, t: ddb.update_table(TableName=t, GlobalSecondaryIndexUpdates=[{"Update": {
             "IndexName": "by-state", "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}}}]),
         {"spec.globalSecondaryIndexes[byName:by-state].provisionedThroughput.readCapacityUnits": ("5", "3"),
          "spec.globalSecondaryIndexes[byName:by-state].provisionedThroughput.writeCapacityUnits": ("5", "4")}),
]
EXTRA_GSI = {"Create": {"IndexName": "extra", "KeySchema": [{"AttributeName": "state", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                        "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}
GSI_CASES = [
    Case("gsi-added", lambda ddb, t: ddb.update_table(TableName=t, GlobalSecondaryIndexUpdates=[EXTRA_GSI]),
         {"spec.globalSecondaryIndexes[byName:extra]": ("", None)}, action="reported"),
    Case("gsi-added-opt-in", lambda ddb, t: ddb.update_table(TableName=t, GlobalSecondaryIndexUpdates=[EXTRA_GSI]),
         {"spec.globalSecondaryIndexes[byName:extra]": ("", None)}, annotations={ALLOW_DESTRUCTIVE: "true"}),
]


@pytest.fixture(scope="module")
def cluster(target):
    return Cluster(target)


@pytest.fixture
def aws_calls(target, sandbox):
    return CallCounter(target, sandbox.aws.access_key_id)


def _namespace(cluster: Cluster) -> str:
    name = unique("drift")
    cluster.core.create_namespace({"metadata": {"name": name}})
    return name


def _synced_table(cluster: Cluster, target, case: Case) -> tuple[str, str, str]:
    namespace, table = _namespace(cluster), unique(case.name)
    [outcome] = apply([manifest("t", base_spec(table), namespace, case.annotations)])
    assert outcome.state == "Synced", outcome.message
    ddb = dynamodb(target)
    for i in range(ITEMS):
        ddb.put_item(TableName=table, Item={"id": {"S": f"item-{i}"}, "state": {"S": "new"}})
    return namespace, table, "t"


def _drift(tmp_path, namespace: str, **kwargs: Any) -> tuple[Any, list[dict[str, Any]]]:
    report = tmp_path / f"{unique('report')}.json"
    result = drift(namespace=namespace, report_path=str(report), **kwargs)
    return result, json.loads(report.read_text())


def _mutations(aws_calls: CallCounter) -> list[str]:
    return [op for op in aws_calls.operations() if op.startswith(MUTATING)]


def _items(target, table: str) -> int:
    return dynamodb(target).scan(TableName=table, Select="COUNT")["Count"]


@pytest.mark.parametrize("case", CASES + GSI_CASES, ids=lambda c: c.name)
def test_drift_is_detected_then_fixed_without_losing_data(case, target, cluster, aws_calls, tmp_path):
    namespace, table, _ = _synced_table(cluster, target, case)
    case.make(dynamodb(target), table)
    settle(target, table, timeout=30)

    aws_calls.reset()
    result, rows = _drift(tmp_path, namespace, detect_only=True)
    assert _mutations(aws_calls) == [], "a detect-only run changed AWS"
    assert result.drift_found and result.counts["DRIFTED"] == 1
    found = {row["field"]: row for row in rows}
    assert set(found) == set(case.expected)
    for path, (desired, actual) in case.expected.items():
        assert found[path]["class"] == "DRIFTED" and found[path]["action"] == "reported"
        assert found[path]["desired"] == desired
        if actual is not None:
            assert found[path]["actual"] == actual
    record = cluster.get("t", namespace)["status"]["lastDriftCheck"]
    assert record["class"] == "DRIFTED" and len(record["differences"]) == len(case.expected)

    result, rows = _drift(tmp_path, namespace)
    assert {row["field"]: row["action"] for row in rows} == {path: case.action for path in case.expected}
    if case.action == "remediated":
        assert cluster.get("t", namespace)["status"]["lastDriftCheck"]["class"] == "REMEDIATED"
        aws_calls.reset()
        result, rows = _drift(tmp_path, namespace)
        assert [row["class"] for row in rows] == ["IN_SYNC"]
        assert not result.drift_found
        assert _mutations(aws_calls) == [], "a run over tables in sync changed something"
    else:
        assert "extra" in {i["IndexName"] for i in describe(target, table)["GlobalSecondaryIndexes"]}
    assert _items(target, table) == ITEMS


def test_a_deleted_table_is_reported_and_recreated_only_on_opt_in(target, cluster, aws_calls, tmp_path):
    namespace, table, name = _synced_table(cluster, target, Case("deleted", lambda *_: None, {}))
    ddb = dynamodb(target)
    ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=table)

    result, rows = _drift(tmp_path, namespace)
    assert result.counts["MISSING"] == 1
    assert rows[0]["class"] == "MISSING" and rows[0]["action"] == "reported"
    assert RECREATE_MISSING in rows[0]["message"]
    assert table not in ddb.list_tables()["TableNames"]

    resource = cluster.get(name, namespace)
    cluster.api.patch_namespaced_custom_object(
        "dynamodb.services.k8s.aws", "v1alpha1", namespace, "tables", name,
        {"metadata": {"annotations": {RECREATE_MISSING: "true"}}, "spec": resource["spec"]})
    result, rows = _drift(tmp_path, namespace)
    assert rows[0]["action"] == "remediated"
    assert describe(target, table)["TableStatus"] == "ACTIVE"


def test_a_key_schema_difference_is_refused_once_and_touches_nothing(target, cluster, aws_calls, tmp_path):
    namespace, table, name = _synced_table(cluster, target, Case("keys", lambda *_: None, {}))
    spec = base_spec(table)
    spec["attributeDefinitions"].append({"attributeName": "other", "attributeType": "S"})
    spec["keySchema"] = [{"attributeName": "id", "keyType": "HASH"}, {"attributeName": "other", "keyType": "RANGE"}]
    resource = cluster.get(name, namespace)
    resource["spec"] = spec
    cluster.api.replace_namespaced_custom_object("dynamodb.services.k8s.aws", "v1alpha1", namespace, "tables",
                                                 name, resource)
    aws_calls.reset()
    result, rows = _drift(tmp_path, namespace)
    # Reported once, with reconcile's own reason; not a failure of the drift run.
    assert [(row["class"], row["action"]) for row in rows] == [("REFUSED", "refused")]
    assert "spec.keySchema: requires replacement" in rows[0]["message"]
    assert result.failures == 0 and result.drift_found and result.counts["REFUSED"] == 1
    assert _mutations(aws_calls) == []
    assert _items(target, table) == ITEMS


def test_remediation_goes_through_reconcile_so_no_guard_is_skipped(target, cluster, aws_calls, tmp_path):
    """Each resource reconcile refuses (or only observes) is left untouched by a remediating drift run over every
    namespace, and reported once with reconcile's reason: a foreign table claimed without adoption, a table that
    a resource in another namespace owns, a read-only resource, a rename, a key-schema change."""
    ddb, run = dynamodb(target), unique("guards")
    labels = {"drift-run": run}
    ns_a, ns_b = _namespace(cluster), _namespace(cluster)
    keys = [{"attributeName": "id", "attributeType": "S"}], [{"attributeName": "id", "keyType": "HASH"}]
    provisioned = {"billingMode": "PROVISIONED", "provisionedThroughput": THROUGHPUT,
                   "tags": [{"key": "team", "value": "mine"}]}

    def spec(table: str, **extra: Any) -> dict[str, Any]:
        return {"tableName": table, "attributeDefinitions": keys[0], "keySchema": keys[1],
                "billingMode": "PAY_PER_REQUEST", **extra}

    def labelled(name: str, body: dict[str, Any], namespace: str, **annotations: str) -> dict[str, Any]:
        resource = manifest(name, body, namespace, annotations or None)
        resource["metadata"]["labels"] = labels
        return resource

    foreign, owned, observed, renamed, rekeyed = (unique(p) for p in ("foreign", "owned", "observed", "renamed",
                                                                       "rekeyed"))
    for table in (foreign, observed):  # made outside the cluster
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"}], KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            Tags=[{"Key": "team", "Value": "other"}])
        settle(target, table)
    outcomes = apply([labelled("owner", spec(owned, tags=[{"key": "team", "value": "a"}]), ns_a),
                      labelled("renamed", spec(renamed), ns_a), labelled("rekeyed", spec(rekeyed), ns_a)])
    assert [o.state for o in outcomes] == ["Synced"] * 3
    outcomes = apply([
        labelled("claims-foreign", spec(foreign, **provisioned), ns_b),
        labelled("claims-owned", spec(owned, **provisioned), ns_b),
        labelled("read-only", spec(observed, tableClass="STANDARD_INFREQUENT_ACCESS",
                                   tags=[{"key": "team", "value": "other"}]), ns_b,
                 **{"services.k8s.aws/read-only": "true"}),
        labelled("renamed", spec(renamed + "-v2"), ns_a),
        labelled("rekeyed", {**spec(rekeyed), "attributeDefinitions": [*keys[0], {"attributeName": "at",
                                                                                  "attributeType": "N"}],
                             "keySchema": [*keys[1], {"attributeName": "at", "keyType": "RANGE"}]}, ns_a),
    ])
    assert [o.state for o in outcomes] == ["Terminal", "Terminal", "Synced", "Terminal", "Terminal"]
    tables = [foreign, owned, observed, renamed, rekeyed]
    for table in tables:
        for i in range(ITEMS):
            ddb.put_item(TableName=table, Item={"id": {"S": f"item-{i}"}})
    before = {t: (describe(target, t), ddb.list_tags_of_resource(ResourceArn=_arn(ddb, t))["Tags"]) for t in tables}

    aws_calls.reset()
    report = tmp_path / "guards.json"
    result = drift(label_selector=f"drift-run={run}", report_path=str(report))  # every namespace
    rows = json.loads(report.read_text())

    touched = [c for c in aws_calls.entries() if c["operation"].startswith(MUTATING) and c.get("table") in tables]
    assert touched == []
    by_resource = Counter((row["namespace"], row["resource"]) for row in rows)
    assert set(by_resource.values()) == {1}, rows  # each reported once
    found = {(row["namespace"], row["resource"]): (row["class"], row["action"], row["message"]) for row in rows}
    assert found[(ns_a, "owner")][0] == "IN_SYNC"
    expected = {(ns_b, "claims-foreign"): ("REFUSED", "refused", "already exists and this resource does not own it"),
                (ns_b, "claims-owned"): ("REFUSED", "refused", f"managed by the resource {ns_a}/owner"),
                (ns_b, "read-only"): ("DRIFTED", "reported", "read-only"),
                (ns_a, "renamed"): ("REFUSED", "refused", "renaming needs a new resource"),
                (ns_a, "rekeyed"): ("REFUSED", "refused", "spec.keySchema: requires replacement")}
    for key, (drift_class, action, reason) in expected.items():
        assert found[key][:2] == (drift_class, action) and reason in found[key][2], (key, found[key])
    assert result.failures == 0 and result.remediated == 0
    for table in tables:  # settings, tags and items as they were
        described, tags = describe(target, table), ddb.list_tags_of_resource(ResourceArn=_arn(ddb, table))["Tags"]
        assert described.get("BillingModeSummary") == before[table][0].get("BillingModeSummary"), table
        assert sorted(map(str, tags)) == sorted(map(str, before[table][1])), table
        assert _items(target, table) == ITEMS
    assert {"Key": "team", "Value": "other"} in before[foreign][1] and len(before[foreign][1]) == 1
