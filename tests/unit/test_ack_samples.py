"""Table samples (the project's own, and ACK's published ones when found: tests/samples.py): each parses,
validates, and a table created from it as AWS would report it shows no drift but the settings applied after
creation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ack.conditions import status_from_describe
from ack.delta import delta
from ack.model import Table
from ack.normalize import observed_from_aws
from ack.plan import create_table_params, plan
from ack.validate import validate
from tests.samples import load, sample_params

# Applied by update rounds once the table is ACTIVE, never by CreateTable.
AFTER_CREATION = {"timeToLive", "continuousBackups", "contributorInsights", "resourcePolicy", "tableReplicas"}
ACCOUNT, REGION = "123456789012", "us-east-1"
SAMPLES = sample_params()


def describe_created(params: dict[str, Any]) -> dict[str, Any]:
    """DescribeTable's `Table` for a table just made by CreateTable(**params), as real AWS reports it."""
    zero = {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0}
    name = params["TableName"]
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    table: dict[str, Any] = {
        "TableName": name,
        "TableArn": arn,
        "TableId": "0b9ec3a4-5d51-4a24-9a4c-3f4f2f0d1e2a",
        "TableStatus": "ACTIVE",
        "CreationDateTime": datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "AttributeDefinitions": list(reversed(params["AttributeDefinitions"])),  # AWS's order is its own
        "KeySchema": params["KeySchema"],
        "ProvisionedThroughput": {**zero, **params.get("ProvisionedThroughput", {})},
        "ItemCount": 0,
        "TableSizeBytes": 0,
        "DeletionProtectionEnabled": params["DeletionProtectionEnabled"],
    }
    if params["BillingMode"] == "PAY_PER_REQUEST":
        table["BillingModeSummary"] = {"BillingMode": "PAY_PER_REQUEST"}
    if params["TableClass"] != "STANDARD":
        table["TableClassSummary"] = {"TableClass": params["TableClass"]}
    if "OnDemandThroughput" in params:
        table["OnDemandThroughput"] = params["OnDemandThroughput"]
    if "GlobalSecondaryIndexes" in params:
        table["GlobalSecondaryIndexes"] = [
            {
                **index,
                "IndexStatus": "ACTIVE",
                "IndexArn": f"{arn}/index/{index['IndexName']}",
                "ProvisionedThroughput": {**zero, **index.get("ProvisionedThroughput", {})},
            }
            for index in params["GlobalSecondaryIndexes"]
        ]
    if "LocalSecondaryIndexes" in params:
        table["LocalSecondaryIndexes"] = [
            {**index, "IndexArn": f"{arn}/index/{index['IndexName']}"} for index in params["LocalSecondaryIndexes"]
        ]
    stream = params.get("StreamSpecification", {})
    if stream.get("StreamEnabled"):  # AWS leaves the stream out when it is disabled
        table["StreamSpecification"] = stream
        table["LatestStreamLabel"] = "2024-05-01T12:00:00.123"
        table["LatestStreamArn"] = f"{arn}/stream/2024-05-01T12:00:00.123"
    if params.get("SSESpecification", {}).get("Enabled"):
        key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/6f8a1b2c-0000-4000-8000-000000000001"
        table["SSEDescription"] = {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}
    return table


@pytest.mark.parametrize("path", SAMPLES)
def test_sample_parses_and_round_trips(path: Path) -> None:
    document = load(path)
    table = Table.model_validate(document)
    assert table.dump() == document


@pytest.mark.parametrize("path", SAMPLES)
def test_sample_validates(path: Path) -> None:
    """Every sample, those AWS refuses on purpose too (INVALID: once the table is made, as in ACK)."""
    assert validate(Table.model_validate(load(path)).spec) == []


@pytest.mark.parametrize("path", SAMPLES)
def test_created_sample_has_no_drift_but_later_settings(path: Path) -> None:
    spec = Table.model_validate(load(path)).spec
    params = create_table_params(spec)
    assert (
        not {"TimeToLiveSpecification", "PointInTimeRecoverySpecification", "ReplicaUpdates", "ResourcePolicy"}
        & params.keys()
    )
    observed = observed_from_aws(
        describe_created(params),
        tags=[*params.get("Tags", []), {"Key": "aws:cloudformation:stack-name", "Value": "outside"}],
        ttl={"TimeToLiveStatus": "DISABLED"},
        backups={
            "ContinuousBackupsStatus": "ENABLED",
            "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"},
        },
    )
    differences = delta(spec, observed.spec)
    assert {d.field for d in differences} <= AFTER_CREATION, differences
    later = plan(differences, observed, spec)
    assert later.replacements == [] and later.wait == "" and later.terminal == ""
    assert bool(later.steps) == bool(differences)


@pytest.mark.parametrize("path", SAMPLES)
def test_status_of_created_sample(path: Path) -> None:
    spec = Table.model_validate(load(path)).spec
    status = status_from_describe(describe_created(create_table_params(spec)))
    assert status["ackResourceMetadata"] == {
        "arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/sample-table",
        "ownerAccountID": ACCOUNT,
        "region": REGION,
    }
    assert status["tableStatus"] == "ACTIVE"
    assert status["creationDateTime"] == "2024-05-01T12:00:00Z"
    assert ("latestStreamARN" in status) == bool(spec.stream_specification and spec.stream_specification.stream_enabled)
    names = [i["indexName"] for i in status.get("globalSecondaryIndexesDescriptions", [])]
    assert names == [g.index_name for g in spec.global_secondary_indexes or []]
