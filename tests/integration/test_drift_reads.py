"""A cheaper scan: drift reads the tables' tags in bulk from the Resource Groups Tagging API (100 tables a call) and
each table three times (DescribeTable, DescribeTimeToLive, DescribeContinuousBackups); a difference found only in
such tags, which may lag by seconds, is confirmed with one ListTagsOfResource before it is reported or acted on."""

from __future__ import annotations

from collections import Counter

import pytest
from kubernetes import client

from flows.drift import drift
from tests.integration.tables import CallCounter, apply, dynamodb, manifest, simple_spec, unique

pytestmark = pytest.mark.integration
TABLES = 6


@pytest.fixture(scope="module")
def estate(target) -> tuple[str, list[str]]:
    namespace = unique("reads")
    client.CoreV1Api(target.kube_api()).create_namespace({"metadata": {"name": namespace}})
    tables = [unique("read") for _ in range(TABLES)]
    outcomes = apply([manifest(t, simple_spec(t, tags=[{"key": "team", "value": "a"}]), namespace) for t in tables])
    assert {o.state for o in outcomes} == {"Synced"}
    return namespace, tables


def operations(calls: CallCounter) -> Counter[str]:
    return Counter(c["operation"] for c in calls.entries() if c.get("app") == "ackflow")


def test_a_scan_in_sync_reads_tags_in_bulk_and_each_table_three_times(target, sandbox, estate):
    namespace, tables = estate
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    result = drift(namespace=namespace, detect_only=True)
    assert result.counts["IN_SYNC"] == TABLES
    made = operations(calls)
    assert made["GetResources"] >= 1 and made["ListTagsOfResource"] == 0
    per_table = {op: made[op] for op in ("DescribeTable", "DescribeTimeToLive", "DescribeContinuousBackups")}
    assert per_table == dict.fromkeys(per_table, TABLES)


def test_a_difference_in_tags_alone_is_confirmed_table_by_table_before_it_is_reported(target, sandbox, estate):
    namespace, tables = estate
    arn = dynamodb(target).describe_table(TableName=tables[0])["Table"]["TableArn"]
    dynamodb(target).untag_resource(ResourceArn=arn, TagKeys=["team"])
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    result = drift(namespace=namespace, detect_only=True)
    assert result.counts["DRIFTED"] == 1
    [row] = result.findings
    assert (row["table"], row["field"]) == (tables[0], "spec.tags[byKey:team]")
    confirmed = [c for c in calls.entries() if c["operation"] == "ListTagsOfResource"]
    assert [c["table"] for c in confirmed] == [tables[0]]  # the one table's tags, read again; no other
    assert operations(calls)["DescribeTable"] == TABLES  # and nothing else of it
    fixed = drift(namespace=namespace)
    assert fixed.remediated == 1
