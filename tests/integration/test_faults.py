"""With DynamoDB's control plane throttling 30% of calls and failing 10% with HTTP 500, apply, reconcile and
drift still reach the right end state, through botocore's and Prefect's retries, say how many there were, and
lose no item."""

from __future__ import annotations

import os

import boto3
import pytest
from botocore.config import Config

from flows.drift import drift
from flows.reconcile import reconcile
from tasks.connections import AWS_RETRIES
from tests.integration.tables import (
    CallCounter, Cluster, apply, assert_nothing_lost, fill, manifest, own_sandbox, simple_spec, unique,
)

pytestmark = pytest.mark.integration
CONTROL_PLANE = ["CreateTable", "DescribeTable", "UpdateTable", "DeleteTable", "ListTables", "TagResource",
                 "UntagResource", "ListTagsOfResource", "DescribeTimeToLive", "UpdateTimeToLive",
                 "DescribeContinuousBackups", "UpdateContinuousBackups"]
FAULTS = ",".join([f"dynamodb:{op}=throttle:0.3" for op in CONTROL_PLANE]
                  + [f"dynamodb:{op}=error:0.1" for op in CONTROL_PLANE])


@pytest.fixture(scope="module")
def faulty(tmp_path_factory, prefect_api):
    env = {"SANDBOX_AWS_FAULTS": FAULTS, "SANDBOX_AWS_FAULT_SEED": "7", "SANDBOX_AWS_TTL_WINDOW": "0"}
    with own_sandbox(tmp_path_factory.mktemp("faulty"), env) as target:
        yield target


def test_flows_reach_the_end_state_despite_throttling_and_errors(faulty, tmp_path):
    # The test's own client must get through the faults too.
    ddb = boto3.session.Session().client("dynamodb", region_name=faulty.region, endpoint_url=faulty.aws_endpoint_url,
                       config=Config(retries={"mode": "standard", "total_max_attempts": 20}))
    cluster = Cluster(faulty)
    namespace = unique("faults")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    tables = [unique("f") for _ in range(3)]
    spec = dict(timeToLive={"attributeName": "exp", "enabled": True}, tags=[{"key": "team", "value": "a"}],
                continuousBackups={"pointInTimeRecoveryEnabled": True})
    retries_before = AWS_RETRIES.value

    outcomes = apply([manifest(t, simple_spec(t, **spec), namespace) for t in tables])
    assert [o.state for o in outcomes] == ["Synced"] * 3, [o.message for o in outcomes]
    fill(ddb, tables)
    calls = CallCounter(faulty, os.environ["AWS_ACCESS_KEY_ID"])  # the module's own sandbox's key
    calls.reset()

    changed = simple_spec(tables[0], **spec, globalSecondaryIndexes=[{
        "indexName": "by-id", "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
        "projection": {"projectionType": "KEYS_ONLY"}}])
    assert [o.state for o in apply([manifest(tables[0], changed, namespace)])] == ["Synced"]
    assert [o.state for o in reconcile(namespace=namespace)] == ["Synced"] * 3

    arn = ddb.describe_table(TableName=tables[1])["Table"]["TableArn"]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
    result = drift(namespace=namespace, report_path=str(tmp_path / "r.csv"))
    assert result.failures == 0 and result.remediated == 1

    assert {"Key": "team", "Value": "a"} in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]
    described = ddb.describe_table(TableName=tables[0])["Table"]
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == ["by-id"]
    for table in tables:
        ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        assert ttl["TimeToLiveStatus"] == "ENABLED"
    assert AWS_RETRIES.value - retries_before > 10, "the faults were not retried?"
    assert result.aws_retries == AWS_RETRIES.value
    assert_nothing_lost(ddb, tables, calls.entries())
