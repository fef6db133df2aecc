"""ACK's own Table samples (../shared/reference/ack/samples), applied unchanged through `apply`.

Those that need what the sandbox's AWS endpoint lacks (replicas, a resource policy, contributor insights)
end Terminal naming the field, before any table is made; table_with_replicas_invalid.yaml ends Terminal
as in ACK's own test; every other sample ends Synced, with DynamoDB reporting what the sample asks for.
"""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml

from ack.model import SYNCED, TERMINAL
from tests.integration.tables import CallCounter, Cluster, apply, describe, dynamodb, table_exists, unique

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[3] / "shared/reference/ack/samples"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                   "Action": "dynamodb:GetItem", "Resource": "*"}],
}
NOT_SERVED = "is not served by the sandbox's AWS endpoint"
# The samples the sandbox cannot serve, and the field each is refused for.
UNSUPPORTED = {
    "table_insights": "spec.contributorInsights",
    "table_resource_policy": "spec.resourcePolicy",
    "table_with_replicas": "spec.tableReplicas",
    "table_with_gsi_and_replicas": "spec.tableReplicas",
    "table_multiple_gsi_and_replicas": "spec.tableReplicas",
}
# ACK's end-to-end test expects this one to fail: replicas need a stream with NEW_AND_OLD_IMAGES.
INVALID = {
    "table_with_replicas_invalid":
        "spec.tableReplicas: replicas need spec.streamSpecification enabled with streamViewType NEW_AND_OLD_IMAGES",
}


def sample_files() -> list[Path]:
    files = sorted(SAMPLES.glob("*.yaml"))
    assert files, f"no samples in {SAMPLES}"
    return files


def load(path: Path, table_name: str) -> dict[str, Any]:
    """The sample with its placeholders filled in (substitute() fails on one this test does not know)."""
    text = Template(path.read_text()).substitute(
        TABLE_NAME=table_name, REPLICA_REGION_1="us-west-2", REPLICA_REGION_2="eu-west-1",
        RESOURCE_POLICY=json.dumps(POLICY),
    )
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def cluster(target) -> Cluster:
    return Cluster(target)


@pytest.fixture
def aws_calls(target, sandbox) -> CallCounter:
    counter = CallCounter(target, sandbox.aws.access_key_id)
    counter.reset()
    return counter


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


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.stem)
def test_sample_applies_unchanged(path: Path, target, cluster, aws_calls):
    name = unique("sample")
    document = load(path, name)
    [outcome] = apply([document])
    resource = cluster.get(name)
    assert resource["status"]["observedGeneration"] == resource["metadata"]["generation"]

    refusal = INVALID.get(path.stem) or (UNSUPPORTED.get(path.stem) and f"{UNSUPPORTED[path.stem]}: {NOT_SERVED}")
    if refusal:
        assert outcome.state == "Terminal" and refusal in outcome.message, outcome
        terminal = condition(resource, TERMINAL)
        assert terminal["status"] == "True" and refusal in terminal["message"], terminal
        assert condition(resource, SYNCED)["status"] == "False"
        assert aws_calls.operations() == []  # refused before any AWS call
        assert not table_exists(target, name)
        return

    assert (outcome.state, outcome.message) == ("Synced", "")
    table = assert_table_as_sampled(target, document["spec"])
    status = resource["status"]
    assert status["tableStatus"] == "ACTIVE"
    assert condition(resource, SYNCED)["status"] == "True"
    assert condition(resource, TERMINAL) is None
    assert status["ackResourceMetadata"]["arn"] == table["TableArn"]
    assert status.get("latestStreamARN") == table.get("LatestStreamArn")
    assert [d["indexName"] for d in status.get("globalSecondaryIndexesDescriptions", [])] == [
        i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])]
    tags = dynamodb(target).list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert [t for t in tags if not t["Key"].startswith("ackflow.dev/")] == []
    ttl = dynamodb(target).describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "DISABLED"
    backups = dynamodb(target).describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
