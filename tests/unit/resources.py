"""Table resources and live tables as the reconciler sees them, for the pure tests."""

from __future__ import annotations

from typing import Any

from ack.model import FINALIZER
from ack.tags import OWNER_TAG
from ack.normalize import LiveTable, observed_from_aws
from ack.resource import TableResource

ACCOUNT_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/"
SPEC = {
    "tableName": "orders",
    "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"}],
    "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
    "billingMode": "PAY_PER_REQUEST",
}


def resource(spec: dict[str, Any] | None = None, annotations: dict[str, str] | None = None, *,
             owned: str | None = None, deleting: bool = False, finalizer: bool = True,
             managed_indexes: list[str] | None = None, namespace: str = "shop",
             status: dict[str, Any] | None = None) -> TableResource:
    meta: dict[str, Any] = {"name": "orders", "namespace": namespace, "generation": 1,
                            "annotations": annotations or {}, "finalizers": [FINALIZER] if finalizer else []}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    status = dict(status or {})
    if owned:
        status["ackResourceMetadata"] = {"arn": ACCOUNT_ARN + owned, "ownerAccountID": "123456789012",
                                         "region": "us-east-1"}
    if managed_indexes is not None:
        status["managedIndexes"] = managed_indexes
    return TableResource.parse({"metadata": meta, "spec": spec or SPEC, "status": status})


def live(owner: str | None = "shop/orders", name: str = "orders", status: str = "ACTIVE",
         **describe: Any) -> LiveTable:
    table = {"TableName": name, "TableArn": ACCOUNT_ARN + name, "TableStatus": status,
             "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
             "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
             "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}, **describe}
    tags = [{"Key": OWNER_TAG, "Value": owner}] if owner else []
    return LiveTable(table, observed_from_aws(table, tags), owner)
