"""ACK's normalisation rules (docs/ack-table.md), each against AWS-shaped responses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ack.delta import Difference, delta
from ack.model import TableSpec
from ack.normalize import observed_from_aws

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/6f8a1b2c-0000-4000-8000-000000000001"
ZERO = {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0}


def desired(**changes: Any) -> TableSpec:
    return TableSpec.model_validate(
        {
            "tableName": "orders",
            "attributeDefinitions": [
                {"attributeName": "pk", "attributeType": "S"},
                {"attributeName": "city", "attributeType": "S"},
            ],
            "keySchema": [{"attributeName": "pk", "keyType": "HASH"}],
            "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5},
            "globalSecondaryIndexes": [index("byCity", read=5)],
            **changes,
        }
    )


def index(name: str, key: str = "city", read: int | None = None, projection: str = "ALL") -> dict[str, Any]:
    out: dict[str, Any] = {
        "indexName": name,
        "keySchema": [{"attributeName": key, "keyType": "HASH"}],
        "projection": {"projectionType": projection},
    }
    if read is not None:
        out["provisionedThroughput"] = {"readCapacityUnits": read, "writeCapacityUnits": read}
    return out


def aws_index(name: str, key: str = "city", read: int = 5, projection: str = "ALL") -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "Projection": {"ProjectionType": projection},
        "IndexStatus": "ACTIVE",
        "ProvisionedThroughput": {**ZERO, "ReadCapacityUnits": read, "WriteCapacityUnits": read},
        "IndexArn": f"{ARN}/index/{name}",
    }


def live(**changes: Any) -> dict[str, Any]:
    """DescribeTable's Table for desired(): a PROVISIONED table as AWS reports it."""
    return {
        "TableName": "orders",
        "TableArn": ARN,
        "TableStatus": "ACTIVE",
        "AttributeDefinitions": [
            {"AttributeName": "city", "AttributeType": "S"},
            {"AttributeName": "pk", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "ProvisionedThroughput": {**ZERO, "ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        "GlobalSecondaryIndexes": [aws_index("byCity")],
        "DeletionProtectionEnabled": False,
        **changes,
    }


def diff(spec: TableSpec, describe: dict[str, Any], **side_calls: Any) -> list[tuple[str, Any, Any]]:
    observed = observed_from_aws(describe, **side_calls)
    return [(d.path, d.desired, d.actual) for d in delta(spec, observed.spec)]


def test_no_difference_when_equal() -> None:
    assert diff(desired(), live()) == []


def test_defaults_billing_mode_table_class_deletion_protection() -> None:
    # The spec leaves them out; AWS omits BillingModeSummary and TableClassSummary for such a table.
    explicit = desired(billingMode="PROVISIONED", tableClass="STANDARD", deletionProtectionEnabled=False)
    assert diff(desired(), live()) == diff(explicit, live()) == []
    assert (
        diff(
            explicit,
            live(TableClassSummary={"TableClass": "STANDARD"}, BillingModeSummary={"BillingMode": "PROVISIONED"}),
        )
        == []
    )
    assert diff(desired(tableClass="STANDARD_INFREQUENT_ACCESS"), live()) == [
        ("spec.tableClass", "STANDARD_INFREQUENT_ACCESS", "STANDARD")
    ]
    assert diff(desired(), live(DeletionProtectionEnabled=True)) == [("spec.deletionProtectionEnabled", False, True)]


@pytest.mark.parametrize(
    "status, drift", [("DISABLED", False), ("DISABLING", False), ("ENABLED", True), ("ENABLING", True)]
)
def test_ttl_left_out_means_disabled_and_enabling_counts_as_enabled(status: str, drift: bool) -> None:
    ttl = {"TimeToLiveStatus": status, "AttributeName": "expires"}
    found = diff(desired(), live(), ttl=ttl)
    assert found == (
        [("spec.timeToLive.enabled", False, True), ("spec.timeToLive.attributeName", None, "expires")] if drift else []
    )
    wanted = desired(timeToLive={"enabled": True, "attributeName": "expires"})
    assert (diff(wanted, live(), ttl=ttl) == []) == drift


def test_point_in_time_recovery_left_out_means_disabled() -> None:
    on = {
        "ContinuousBackupsStatus": "ENABLED",
        "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "ENABLED"},
    }
    off = {
        "ContinuousBackupsStatus": "ENABLED",
        "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"},
    }
    assert diff(desired(), live(), backups=off) == diff(desired(), live(), backups=None) == []
    assert diff(desired(), live(), backups=on) == [("spec.continuousBackups.pointInTimeRecoveryEnabled", False, True)]
    assert diff(desired(continuousBackups={"pointInTimeRecoveryEnabled": True}), live(), backups=on) == []


def test_pay_per_request_ignores_provisioned_throughput_on_both_sides() -> None:
    on_demand = desired(
        billingMode="PAY_PER_REQUEST", provisionedThroughput=None, globalSecondaryIndexes=[index("byCity")]
    )
    aws = live(
        BillingModeSummary={"BillingMode": "PAY_PER_REQUEST"},
        ProvisionedThroughput=ZERO,
        GlobalSecondaryIndexes=[aws_index("byCity", read=0)],
    )
    assert diff(on_demand, aws) == []
    # Even leftover numbers from a PROVISIONED past do not count under PAY_PER_REQUEST.
    assert diff(on_demand, live(BillingModeSummary={"BillingMode": "PAY_PER_REQUEST"})) == []


def test_switch_to_provisioned_shows_billing_and_throughput() -> None:
    aws = live(
        BillingModeSummary={"BillingMode": "PAY_PER_REQUEST"},
        ProvisionedThroughput=ZERO,
        GlobalSecondaryIndexes=[aws_index("byCity", read=0)],
    )
    assert diff(desired(), aws) == [
        ("spec.billingMode", "PROVISIONED", "PAY_PER_REQUEST"),
        ("spec.provisionedThroughput", {"readCapacityUnits": 5, "writeCapacityUnits": 5}, None),
        (
            "spec.globalSecondaryIndexes[byName:byCity].provisionedThroughput",
            {"readCapacityUnits": 5, "writeCapacityUnits": 5},
            None,
        ),
    ]


def test_on_demand_limits_minus_one_and_zero_mean_no_limit() -> None:
    on_demand = {
        "billingMode": "PAY_PER_REQUEST",
        "provisionedThroughput": None,
        "globalSecondaryIndexes": [index("byCity")],
    }
    ppr = {
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "GlobalSecondaryIndexes": [aws_index("byCity", read=0)],
    }
    unlimited = {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1}
    assert diff(desired(**on_demand), live(**ppr, OnDemandThroughput=unlimited)) == []
    zero = desired(**on_demand, onDemandThroughput={"maxReadRequestUnits": 0, "maxWriteRequestUnits": -1})
    assert diff(zero, live(**ppr)) == []
    limited = desired(**on_demand, onDemandThroughput={"maxReadRequestUnits": 100})
    assert diff(limited, live(**ppr, OnDemandThroughput={"MaxReadRequestUnits": 50, "MaxWriteRequestUnits": -1})) == [
        ("spec.onDemandThroughput.maxReadRequestUnits", 100, 50)
    ]


def test_tags_compare_by_key_and_aws_tags_never_drift() -> None:
    spec = desired(tags=[{"key": "team", "value": "a"}, {"key": "env", "value": "prod"}])
    tags = [
        {"Key": "env", "Value": "prod"},
        {"Key": "aws:cloudformation:stack-id", "Value": "x"},
        {"Key": "team", "Value": "a"},
    ]
    assert diff(spec, live(), tags=tags) == []
    changed = [{"Key": "env", "Value": "dev"}, {"Key": "owner", "Value": "me"}]
    assert diff(spec, live(), tags=changed) == [
        ("spec.tags[byKey:team]", "a", None),
        ("spec.tags[byKey:env]", "prod", "dev"),
        ("spec.tags[byKey:owner]", None, "me"),
    ]


def test_attribute_definitions_compare_by_name_and_only_types_count() -> None:
    # AWS lists them in its own order; an index not created yet brings its attribute later.
    spec = desired(
        attributeDefinitions=[
            *desired().dump()["attributeDefinitions"],
            {"attributeName": "zip", "attributeType": "N"},
        ],
        globalSecondaryIndexes=[index("byCity", read=5), index("byZip", key="zip", read=1)],
    )
    assert [path for path, *_ in diff(spec, live())] == ["spec.globalSecondaryIndexes[byName:byZip]"]
    retyped = live(
        AttributeDefinitions=[
            {"AttributeName": "city", "AttributeType": "N"},
            {"AttributeName": "pk", "AttributeType": "S"},
        ]
    )
    assert diff(desired(), retyped) == [("spec.attributeDefinitions[byName:city].attributeType", "S", "N")]


def test_stream_left_out_by_aws_when_disabled() -> None:
    assert diff(desired(streamSpecification={"streamEnabled": False}), live()) == []
    assert diff(desired(), live(StreamSpecification={"StreamEnabled": False})) == []
    enabled = desired(streamSpecification={"streamEnabled": True, "streamViewType": "NEW_IMAGE"})
    assert diff(enabled, live()) == [
        ("spec.streamSpecification.streamEnabled", True, False),
        ("spec.streamSpecification.streamViewType", "NEW_IMAGE", None),
    ]
    aws = live(StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert diff(enabled, aws) == [("spec.streamSpecification.streamViewType", "NEW_IMAGE", "KEYS_ONLY")]


def test_sse_disabled_equals_absent() -> None:
    assert diff(desired(sseSpecification={"enabled": False}), live()) == []
    assert diff(desired(), live(SSEDescription={"Status": "DISABLED"})) == []
    aws_kms = live(SSEDescription={"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": KEY_ARN})
    assert diff(desired(), aws_kms) == [
        ("spec.sseSpecification.enabled", False, True),
        ("spec.sseSpecification.sseType", None, "KMS"),
    ]


@pytest.mark.parametrize(
    "key, equal",
    [
        (None, True),  # AWS's choice: the managed key
        ("", True),  # empty string equals absent
        (KEY_ARN, True),
        ("6f8a1b2c-0000-4000-8000-000000000001", True),
        ("key/6f8a1b2c-0000-4000-8000-000000000001", True),
        ("alias/orders", True),  # an alias cannot be told from a key id without KMS
        ("arn:aws:kms:us-east-1:123456789012:key/another", False),
        ("another", False),
    ],
)
def test_kms_key_compares_by_id_alias_or_arn(key: str | None, equal: bool) -> None:
    sse = {"enabled": True, "sseType": "KMS", "kmsMasterKeyID": key}
    aws = live(SSEDescription={"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": KEY_ARN})
    assert (diff(desired(sseSpecification=sse), aws) == []) == equal
    alias_arn = live(
        SSEDescription={
            "Status": "ENABLED",
            "SSEType": "KMS",
            "KMSMasterKeyArn": "arn:aws:kms:us-east-1:1:alias/orders",
        }
    )
    assert diff(desired(sseSpecification={**sse, "kmsMasterKeyID": "alias/orders"}), alias_arn) == []
    assert diff(desired(sseSpecification={**sse, "kmsMasterKeyID": "alias/other"}), alias_arn) != []


def test_global_indexes_keyed_by_name() -> None:
    spec = desired(
        attributeDefinitions=[
            *desired().dump()["attributeDefinitions"],
            {"attributeName": "zip", "attributeType": "S"},
        ],
        globalSecondaryIndexes=[index("byZip", key="zip", read=1), index("byCity", read=10, projection="KEYS_ONLY")],
    )
    aws = live(GlobalSecondaryIndexes=[aws_index("old"), aws_index("byCity")])
    found = delta(spec, observed_from_aws(aws).spec)
    assert [d.path for d in found] == [
        "spec.globalSecondaryIndexes[byName:byZip]",
        "spec.globalSecondaryIndexes[byName:byCity].projection.projectionType",
        "spec.globalSecondaryIndexes[byName:byCity].provisionedThroughput.readCapacityUnits",
        "spec.globalSecondaryIndexes[byName:byCity].provisionedThroughput.writeCapacityUnits",
        "spec.globalSecondaryIndexes[byName:old]",
    ]
    assert found[0].actual is None and found[-1].desired is None
    assert found[1] == Difference(
        "spec.globalSecondaryIndexes[byName:byCity].projection.projectionType", "KEYS_ONLY", "ALL"
    )
    assert found[1].parts == ("globalSecondaryIndexes", "byCity", "projection", "projectionType")
    assert found[1].field == "globalSecondaryIndexes"


def test_index_without_throughput_equals_aws_zero() -> None:
    spec = desired(billingMode="PAY_PER_REQUEST", provisionedThroughput=None, globalSecondaryIndexes=[index("byCity")])
    spec_zero = TableSpec.model_validate({**spec.dump(), "globalSecondaryIndexes": [index("byCity", read=0)]})
    aws = live(
        BillingModeSummary={"BillingMode": "PAY_PER_REQUEST"}, GlobalSecondaryIndexes=[aws_index("byCity", read=0)]
    )
    assert diff(spec, aws) == diff(spec_zero, aws) == []


def test_non_key_attributes_order_does_not_matter() -> None:
    include = {"projectionType": "INCLUDE", "nonKeyAttributes": ["b", "a"]}
    spec = desired(globalSecondaryIndexes=[{**index("byCity", read=5), "projection": include}])
    aws_include = {**aws_index("byCity"), "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a", "b"]}}
    assert diff(spec, live(GlobalSecondaryIndexes=[aws_include])) == []


def test_resource_policy_compares_as_json() -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem"}]}
    spec = desired(resourcePolicy=json.dumps(policy, indent=2))
    assert diff(spec, live(), policy=json.dumps(policy, separators=(",", ":"))) == []
    [(path, wanted, actual)] = diff(spec, live())
    assert (path, json.loads(wanted), actual) == ("spec.resourcePolicy", policy, None)


def test_contributor_insights_spellings_and_status() -> None:
    assert diff(desired(contributorInsights="ENABLE"), live(), insights_status="ENABLING") == []
    assert diff(desired(contributorInsights="DISABLED"), live(), insights_status=None) == []
    assert diff(desired(), live(), insights_status="ENABLED") == [("spec.contributorInsights", "DISABLED", "ENABLED")]


def test_replicas_keyed_by_region_and_only_overrides_compare() -> None:
    stream = {"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}
    spec = desired(
        streamSpecification=stream,
        tableReplicas=[{"regionName": "us-west-2", "globalSecondaryIndexes": [{"indexName": "byCity"}]}],
    )
    aws = live(
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Replicas=[
            {"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE", "GlobalSecondaryIndexes": [{"IndexName": "byCity"}]},
            {"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"},
        ],
    )
    assert diff(spec, aws) == [
        ("spec.tableReplicas[byRegion:eu-west-1]", None, {"globalSecondaryIndexes": {}, "tableClass": "STANDARD"})
    ]


def test_table_name_key_schema_and_local_indexes_differ_plainly() -> None:
    lsi = {
        "IndexName": "byPosted",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "posted", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }
    aws = live(
        TableName="orders-old",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        LocalSecondaryIndexes=[lsi],
    )
    assert [path for path, *_ in diff(desired(), aws)] == [
        "spec.tableName",
        "spec.keySchema",
        "spec.localSecondaryIndexes[byName:byPosted]",
    ]
