"""Table samples (the project's own, and ACK's published ones when found: tests/samples.py), applied unchanged
through `apply`.

The samples that are invalid on purpose end Terminal as in
ACK's own test (AWS refuses their replica once the table is made); every other sample ends Synced, with DynamoDB
reporting what the sample asks for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ack.model import SYNCED, TERMINAL
from ack.tags import is_user_tag
from tests.integration.tables import Cluster, apply, describe, dynamodb, unique
from tests.samples import INVALID, load, sample_params

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(target) -> Cluster:
    return Cluster(target)


def condition(resource: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (resource.get("status") or {}).get("conditions", []) if c["type"] == type_), None)


def keys(elements: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Key schema elements, from a spec (camelCase) or from AWS (PascalCase)."""
    return [(e.get("attributeName") or e["AttributeName"], e.get("keyType") or e["KeyType"]) for e in elements]


def assert_table_as_sampled(target, spec: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB reports the table the sample describes; its DescribeTable."""
    table = describe(target, spec["tableName"])
    assert table["TableStatus"] == "ACTIVE"
    assert keys(table["KeySchema"]) == keys(spec["keySchema"])
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        a["attributeName"]: a["attributeType"] for a in spec["attributeDefinitions"]}
    billing = spec.get("billingMode", "PROVISIONED")
    assert table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == billing
    if billing == "PROVISIONED":
        wanted = spec["provisionedThroughput"]
        assert (table["ProvisionedThroughput"]["ReadCapacityUnits"],
                table["ProvisionedThroughput"]["WriteCapacityUnits"]) == (
            wanted["readCapacityUnits"], wanted["writeCapacityUnits"])
    if "onDemandThroughput" in spec:
        wanted = spec["onDemandThroughput"]
        assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": wanted["maxReadRequestUnits"],
                                               "MaxWriteRequestUnits": wanted["maxWriteRequestUnits"]}
    assert table.get("TableClassSummary", {}).get("TableClass", "STANDARD") == spec.get("tableClass", "STANDARD")
    stream = spec.get("streamSpecification") or {}
    if stream.get("streamEnabled"):
        assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": stream["streamViewType"]}
    else:
        assert "StreamSpecification" not in table
    gsis = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    assert sorted(gsis) == sorted(i["indexName"] for i in spec.get("globalSecondaryIndexes", []))
    for index in spec.get("globalSecondaryIndexes", []):
        live = gsis[index["indexName"]]
        assert live["IndexStatus"] == "ACTIVE"
        assert keys(live["KeySchema"]) == keys(index["keySchema"])
        assert live["Projection"]["ProjectionType"] == index["projection"]["projectionType"]
        assert live["Projection"].get("NonKeyAttributes", []) == index["projection"].get("nonKeyAttributes", [])
        if "onDemandThroughput" in index:
            assert live["OnDemandThroughput"] == {
                "MaxReadRequestUnits": index["onDemandThroughput"]["maxReadRequestUnits"],
                "MaxWriteRequestUnits": index["onDemandThroughput"]["maxWriteRequestUnits"]}
    assert sorted(i["IndexName"] for i in table.get("LocalSecondaryIndexes", [])) == sorted(
        i["indexName"] for i in spec.get("localSecondaryIndexes", []))
    return table


@pytest.mark.parametrize("path", sample_params())
def test_sample_applies_unchanged(path: Path, target, cluster):
    name = unique("sample")
    document = load(path, name)
    [outcome] = apply([document])
    resource = cluster.get(name)
    assert resource["status"]["observedGeneration"] == resource["metadata"]["generation"]

    if path.stem in INVALID:  # the table is made, then AWS refuses the replica, as with ACK
        refusal = INVALID[path.stem]
        assert outcome.state == "Terminal" and refusal in outcome.message, outcome
        terminal = condition(resource, TERMINAL)
        assert terminal["status"] == "True" and refusal in terminal["message"], terminal
        assert condition(resource, SYNCED)["status"] == "False"
        assert "Replicas" not in describe(target, name)
        return

    assert (outcome.state, outcome.message) == ("Synced", "")
    table = assert_table_as_sampled(target, document["spec"])
    assert sorted(r["RegionName"] for r in table.get("Replicas", [])) == sorted(
        r["regionName"] for r in document["spec"].get("tableReplicas", []))
    assert {r["ReplicaStatus"] for r in table.get("Replicas", [])} <= {"ACTIVE"}
    status = resource["status"]
    assert status["tableStatus"] == "ACTIVE"
    assert condition(resource, SYNCED)["status"] == "True"
    assert condition(resource, TERMINAL) is None
    assert status["ackResourceMetadata"]["arn"] == table["TableArn"]
    assert status.get("latestStreamARN") == table.get("LatestStreamArn")
    assert [d["indexName"] for d in status.get("globalSecondaryIndexesDescriptions", [])] == [
        i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])]
    spec = document["spec"]
    tags = dynamodb(target).list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags if is_user_tag(t["Key"])) == sorted(
        (t["key"], t["value"]) for t in spec.get("tags", []))
    ttl = dynamodb(target).describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    wanted_ttl = spec.get("timeToLive") or {}
    assert ttl["TimeToLiveStatus"] == ("ENABLED" if wanted_ttl.get("enabled") else "DISABLED")
    assert ttl.get("AttributeName") == (wanted_ttl.get("attributeName") if wanted_ttl.get("enabled") else None)
    backups = dynamodb(target).describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr = (spec.get("continuousBackups") or {}).get("pointInTimeRecoveryEnabled")
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == ("ENABLED" if pitr else "DISABLED")
    assert table.get("DeletionProtectionEnabled", False) == spec.get("deletionProtectionEnabled", False)
    sse = spec.get("sseSpecification") or {}
    assert (table.get("SSEDescription", {}).get("Status") == "ENABLED") == bool(sse.get("enabled"))
