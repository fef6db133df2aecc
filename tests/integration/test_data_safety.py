"""Data safety: tables full of items go through every flow and every kind of drift; every item is still
there, and no DeleteTable or index deletion happened but through an explicit deletion or opt-in."""

from __future__ import annotations

import pytest

from ack.model import ALLOW_DESTRUCTIVE
from flows.drift import drift
from flows.reconcile import reconcile
from tests.integration.tables import (
    CallCounter, Cluster, apply, assert_nothing_lost, describe, dynamodb, fill, manifest, settle, simple_spec, unique,
)

pytestmark = pytest.mark.integration
GSI = {"indexName": "by-id", "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
       "projection": {"projectionType": "ALL"}}
EXTRA = {"Create": {"IndexName": "extra", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"}}}


def test_no_item_is_lost_and_nothing_is_deleted_without_opt_in(target, sandbox, tmp_path):
    cluster, namespace = Cluster(target), unique("safety")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    ddb = dynamodb(target)
    tables = [unique("safe") for _ in range(3)]
    spec = dict(globalSecondaryIndexes=[GSI], tags=[{"key": "team", "value": "a"}],
                timeToLive={"attributeName": "exp", "enabled": True},
                streamSpecification={"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"})
    manifests = [manifest(t, simple_spec(t, **spec), namespace) for t in tables]
    assert {o.state for o in apply(manifests)} == {"Synced"}
    fill(ddb, tables)
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()

    # Every flow, over and over, and drift of every kind made out of band.
    apply(manifests)
    reconcile(namespace=namespace)
    for table in tables:
        arn = describe(target, table)["TableArn"]
        ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
        ddb.update_table(TableName=table, GlobalSecondaryIndexUpdates=[EXTRA])
    for table in tables:
        settle(target, table)
    drift(namespace=namespace, detect_only=True, report_path=str(tmp_path / "1.json"))
    drift(namespace=namespace, report_path=str(tmp_path / "2.json"))
    reconcile(namespace=namespace)
    assert all("extra" in _indexes(target, t) for t in tables), "an index the spec never named was deleted"

    # The opt-in is what lets the extra index go, and only on that table.
    opted = manifest(tables[0], simple_spec(tables[0], **spec), namespace, {ALLOW_DESTRUCTIVE: "true"})
    apply([opted])
    assert "extra" not in _indexes(target, tables[0]) and "extra" in _indexes(target, tables[1])

    assert_nothing_lost(ddb, tables, calls.entries(), index_deletions=1)  # the opted-in one


def _indexes(target, table: str) -> set[str]:
    return {i["IndexName"] for i in describe(target, table).get("GlobalSecondaryIndexes", [])}
