from __future__ import annotations

from datetime import UTC, datetime

from ack import conditions
from ack.model import ADOPTED, READY, RECOVERABLE, SYNCED, TERMINAL

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)


def by_type(found: conditions.Conditions) -> dict[str, dict]:
    return {c["type"]: c for c in found}


def test_transition_time_kept_while_status_unchanged() -> None:
    first = conditions.pending([], "the table is UPDATING", now=T0)
    again = conditions.pending(first, "index a is CREATING", now=T1)
    assert by_type(again)[SYNCED] == {
        "type": SYNCED,
        "status": "False",
        "reason": "Pending",
        "message": "index a is CREATING",
        "lastTransitionTime": "2024-05-01T12:00:00Z",
    }
    done = conditions.synced(again, now=T1)
    assert by_type(done)[SYNCED]["status"] == "True"
    assert by_type(done)[SYNCED]["lastTransitionTime"] == "2024-05-01T13:00:00Z"


def test_terminal_and_recoverable_replace_each_other() -> None:
    failing = conditions.recoverable([], "Throttling", "Rate exceeded", now=T0)
    assert set(by_type(failing)) == {RECOVERABLE, SYNCED, READY}
    stuck = conditions.terminal(failing, "RequiresReplacement", "spec.keySchema: requires replacement", now=T1)
    assert set(by_type(stuck)) == {TERMINAL, SYNCED, READY}
    assert by_type(stuck)[SYNCED]["reason"] == by_type(stuck)[READY]["reason"] == "RequiresReplacement"
    assert set(by_type(conditions.synced(stuck, now=T1))) == {SYNCED, READY}


def test_ready_says_what_resource_synced_says() -> None:
    for found in (conditions.synced([], now=T0), conditions.pending([], "the table is CREATING", now=T0),
                  conditions.terminal([], "InvalidSpec", "spec.keySchema: ...", now=T0),
                  conditions.recoverable([], "Throttling", "Rate exceeded", now=T0)):
        ready, synced = by_type(found)[READY], by_type(found)[SYNCED]
        assert {**ready, "type": SYNCED} == synced


def test_adopted_stays_with_other_conditions() -> None:
    adopted = conditions.adopted(conditions.synced([], now=T0), "took over the table orders", now=T0)
    assert set(by_type(conditions.pending(adopted, "waiting", now=T1))) == {SYNCED, READY, ADOPTED}


def test_status_changed_ignores_transition_time_and_order() -> None:
    old = {"tableStatus": "ACTIVE", "conditions": conditions.adopted(conditions.synced([], now=T0), "x", now=T0)}
    churned = {
        "tableStatus": "ACTIVE",
        "conditions": [{**c, "lastTransitionTime": "2030-01-01T00:00:00Z"} for c in reversed(old["conditions"])],
    }
    assert not conditions.status_changed(old, churned)
    assert conditions.status_changed(old, {**old, "tableStatus": "UPDATING"})
    assert conditions.status_changed(None, old)
    message_changed = {**old, "conditions": conditions.synced(old["conditions"], "other message", now=T1)}
    assert conditions.status_changed(old, message_changed)


def test_status_from_describe() -> None:
    table = {
        "TableName": "orders",
        "TableArn": "arn:aws:dynamodb:eu-west-1:210987654321:table/orders",
        "TableId": "0b9ec3a4-5d51-4a24-9a4c-3f4f2f0d1e2a",
        "TableStatus": "UPDATING",
        "CreationDateTime": datetime(2024, 5, 1, 14, 0, 5, 500000, tzinfo=UTC),
        "ItemCount": 3,
        "TableSizeBytes": 120,
        "LatestStreamArn": "arn:aws:dynamodb:eu-west-1:210987654321:table/orders/stream/2024-05-01T14:00:05.500",
        "LatestStreamLabel": "2024-05-01T14:00:05.500",
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "byCity",
                "IndexStatus": "CREATING",
                "Backfilling": True,
                "IndexArn": "arn:aws:dynamodb:eu-west-1:210987654321:table/orders/index/byCity",
                "KeySchema": [{"AttributeName": "city", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0},
                "WarmThroughput": {"Status": "UPDATING"},  # not in ACK's status: dropped
            }
        ],
    }
    status = conditions.status_from_describe(table)
    assert status == {
        "ackResourceMetadata": {"arn": table["TableArn"], "ownerAccountID": "210987654321", "region": "eu-west-1"},
        "tableStatus": "UPDATING",
        "tableID": "0b9ec3a4-5d51-4a24-9a4c-3f4f2f0d1e2a",
        "creationDateTime": "2024-05-01T14:00:05Z",
        "itemCount": 3,
        "tableSizeBytes": 120,
        "latestStreamARN": table["LatestStreamArn"],
        "latestStreamLabel": "2024-05-01T14:00:05.500",
        "globalSecondaryIndexesDescriptions": [
            {
                "indexName": "byCity",
                "indexStatus": "CREATING",
                "backfilling": True,
                "indexARN": "arn:aws:dynamodb:eu-west-1:210987654321:table/orders/index/byCity",
                "keySchema": [{"attributeName": "city", "keyType": "HASH"}],
                "projection": {"projectionType": "ALL"},
                "provisionedThroughput": {"readCapacityUnits": 0, "writeCapacityUnits": 0, "numberOfDecreasesToday": 0},
            }
        ],
    }


def test_is_synced_reads_the_synced_condition_only() -> None:
    assert conditions.is_synced(conditions.synced([]))
    assert not conditions.is_synced(conditions.recoverable([], "RetryLater", "later"))
    assert not conditions.is_synced(conditions.set_condition([], SYNCED, "False"))
    assert not conditions.is_synced(conditions.adopted([], "adopted")) and not conditions.is_synced(None)
