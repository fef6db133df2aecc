"""ACK's end-to-end Table scenarios (docs/ack-table.md), through the real API server and the sandbox.

Every spec change is a new server-side apply of the whole manifest, as a user makes it; `apply` then
reconciles until synced. Each step checks both sides: what DynamoDB reports (DescribeTable and the side
calls) and the resource's status (tableStatus, ACK.ResourceSynced, observedGeneration == generation).
Create and delete with a local secondary index is in test_reconcile_basics.py.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client

from ack.model import FINALIZER, NAMESPACE_DELETION_POLICY, SYNCED, TERMINAL
from ack.tags import is_user_tag
from tests.integration.tables import (
    CallCounter, Cluster, apply, describe, dynamodb, manifest, reconcile_table, simple_spec, table_exists, unique,
)

pytestmark = pytest.mark.integration

KMS_KEY_ID = "4b1f3c2e-7d0a-4e8f-9b6c-2a5d8e1f0c3b"
MUTATING_PREFIXES = ("Create", "Update", "Delete", "Tag", "Untag")


# ------------------------------------------------------------------------------------ helpers


class AwsCalls(CallCounter):
    """The local endpoint's call log since the last reset: what the flows asked of DynamoDB."""

    def _dynamodb(self) -> list[dict[str, Any]]:
        return [c for c in self.entries() if c["service"] == "dynamodb"]

    def mutating(self) -> list[str]:
        """The answered calls that change a table, in order."""
        return [c["operation"] for c in self._dynamodb()
                if c["operation"].startswith(MUTATING_PREFIXES) and c["status"] < 400]

    def refused(self) -> list[str]:
        return [f"{c['operation']} ({c['status']})" for c in self._dynamodb() if c["status"] >= 400]


@dataclass(frozen=True)
class Live:
    """A table as DynamoDB reports it: DescribeTable plus the side calls ACK reads each round."""

    table: dict[str, Any]
    tags: dict[str, str]
    ttl: dict[str, Any]
    backups: dict[str, Any]

    @classmethod
    def read(cls, target, table_name: str) -> Live:
        ddb = dynamodb(target)
        table = describe(target, table_name)
        return cls(
            table=table,
            tags={t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]},
            ttl=ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"],
            backups=ddb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"],
        )

    def facts(self) -> dict[str, Any]:
        """The settings the scenarios change, in a form a test can spell out."""
        table, indexes = self.table, self.table.get("GlobalSecondaryIndexes", [])
        sse = table.get("SSEDescription") or {}
        stream = table.get("StreamSpecification") or {}
        pitr = self.backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
        return {
            "status": table["TableStatus"],
            "billing": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "throughput": _units(table["ProvisionedThroughput"]),
            "onDemand": _limits(table.get("OnDemandThroughput")),
            "tableClass": table.get("TableClassSummary", {}).get("TableClass", "STANDARD"),
            "deletionProtection": table.get("DeletionProtectionEnabled", False),
            # AWS leaves StreamSpecification out while the stream is disabled.
            "stream": stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
            "sse": sse.get("SSEType"),
            "sseKey": sse.get("KMSMasterKeyArn", "").rsplit("key/", 1)[-1] or None,
            "ttl": self.ttl.get("AttributeName") if self.ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING") else None,
            "pitr": pitr == "ENABLED",
            "tags": {key: value for key, value in self.tags.items() if is_user_tag(key)},
            "indexes": sorted(i["IndexName"] for i in indexes),
            "indexKeys": {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in indexes},
            "indexThroughput": {i["IndexName"]: _units(i["ProvisionedThroughput"]) for i in indexes},
            "indexOnDemand": {i["IndexName"]: _limits(i.get("OnDemandThroughput")) for i in indexes},
        }


def _units(throughput: dict[str, int]) -> tuple[int, int]:
    return throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]


def _limits(throughput: dict[str, int] | None) -> tuple[int, int] | None:
    return throughput and (throughput.get("MaxReadRequestUnits"), throughput.get("MaxWriteRequestUnits"))


def condition(resource: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (resource.get("status") or {}).get("conditions", []) if c["type"] == type_), None)


def assert_status_synced(resource: dict[str, Any], live: Live) -> None:
    """The resource's status says what DynamoDB says, and that the latest generation is synced."""
    status, table = resource["status"], live.table
    assert status["tableStatus"] == table["TableStatus"] == "ACTIVE"
    assert condition(resource, SYNCED)["status"] == "True", condition(resource, SYNCED)
    assert condition(resource, TERMINAL) is None
    assert status["observedGeneration"] == resource["metadata"]["generation"]
    assert status["ackResourceMetadata"]["arn"] == table["TableArn"]
    assert status.get("tableID") == table.get("TableId")
    assert status.get("latestStreamARN") == table.get("LatestStreamArn")
    assert [(d["indexName"], d["indexStatus"]) for d in status.get("globalSecondaryIndexesDescriptions", [])] == [
        (i["IndexName"], "ACTIVE") for i in table.get("GlobalSecondaryIndexes", [])
    ]


def assert_status_terminal(resource: dict[str, Any], text: str) -> None:
    """ACK.Terminal says `text`; the resource is not synced; its generation was looked at."""
    terminal, synced = condition(resource, TERMINAL), condition(resource, SYNCED)
    assert terminal is not None and terminal["status"] == "True" and text in terminal["message"], terminal
    assert synced["status"] == "False", synced
    assert resource["status"]["observedGeneration"] == resource["metadata"]["generation"]


def assert_facts(live: Live, expected: dict[str, Any]) -> None:
    facts = live.facts()
    assert {key: facts[key] for key in expected} == expected


def changed(spec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`spec` with top-level fields set (a None value leaves the field out)."""
    spec = {**copy.deepcopy(spec), **copy.deepcopy(changes)}
    return {key: value for key, value in spec.items() if value is not None}


@dataclass
class Tables:
    """Applies manifests as a user would and checks both sides after each."""

    target: Any
    cluster: Cluster
    aws: AwsCalls

    def converge(self, name: str, spec: dict[str, Any], namespace: str = "default", **kwargs: Any) -> Live:
        """Apply the manifest, expect Synced, check the status against DynamoDB; the table as it is now."""
        self.aws.reset()
        [outcome] = apply([manifest(name, spec, namespace, **kwargs)])
        assert (outcome.state, outcome.message) == ("Synced", "")
        live = Live.read(self.target, spec["tableName"])
        assert_status_synced(self.cluster.get(name, namespace), live)
        return live

    def refuse(self, name: str, spec: dict[str, Any], text: str) -> None:
        """Apply the manifest, expect Terminal saying `text`, in the outcome and in ACK.Terminal."""
        self.aws.reset()
        [outcome] = apply([manifest(name, spec)])
        assert outcome.state == "Terminal" and text in outcome.message, outcome
        assert_status_terminal(self.cluster.get(name), text)


@pytest.fixture(scope="module")
def tables(target, sandbox) -> Tables:
    return Tables(target, Cluster(target), AwsCalls(target, sandbox.aws.access_key_id))


# --------------------------------------------------------------------------- spec fragments


def throughput(read: int, write: int) -> dict[str, int]:
    return {"readCapacityUnits": read, "writeCapacityUnits": write}


def on_demand(read: int, write: int) -> dict[str, int]:
    return {"maxReadRequestUnits": read, "maxWriteRequestUnits": write}


def gsi(name: str, *keys: str, units: tuple[int, int] | None = None, limits: tuple[int, int] | None = None,
        projection: str = "ALL") -> dict[str, Any]:
    index: dict[str, Any] = {
        "indexName": name,
        "keySchema": [{"attributeName": k, "keyType": t} for k, t in zip(keys, ("HASH", "RANGE"))],
        "projection": {"projectionType": projection},
    }
    if units:
        index["provisionedThroughput"] = throughput(*units)
    if limits:
        index["onDemandThroughput"] = on_demand(*limits)
    return index


def with_indexes(*indexes: dict[str, Any]) -> dict[str, Any]:
    """The change that gives a table keyed by `id` these GSIs, with exactly the attributes they use."""
    names = dict.fromkeys(["id", *(k["attributeName"] for i in indexes for k in i["keySchema"])])
    return {
        "attributeDefinitions": [{"attributeName": n, "attributeType": "S"} for n in names],
        "globalSecondaryIndexes": list(indexes) or None,
    }


PROVISIONED_5 = {"billingMode": "PROVISIONED", "provisionedThroughput": throughput(5, 5)}


# ------------------------------------------------------------------------------------ scenarios


@dataclass(frozen=True)
class Step:
    """One spec change, what DynamoDB reports after it, and (when given) the exact mutating calls it took."""

    changes: dict[str, Any]
    expect: dict[str, Any]
    calls: list[str] | None = None


@dataclass(frozen=True)
class Scenario:
    id: str
    base: dict[str, Any]  # changes to simple_spec (id HASH, PAY_PER_REQUEST)
    expect: dict[str, Any]  # after creation
    steps: list[Step] = field(default_factory=list)


SCENARIOS = [
    Scenario(
        "tags changed twice",
        {"tags": [{"key": "team", "value": "a"}, {"key": "env", "value": "dev"}]},
        {"tags": {"team": "a", "env": "dev"}},
        [
            Step({"tags": [{"key": "team", "value": "b"}, {"key": "env", "value": "dev"},
                           {"key": "cost", "value": "42"}]},
                 {"tags": {"team": "b", "env": "dev", "cost": "42"}}, ["TagResource"]),
            Step({"tags": [{"key": "team", "value": "c"}]}, {"tags": {"team": "c"}}, ["UntagResource", "TagResource"]),
        ],
    ),
    Scenario(
        "time to live on",
        {},
        {"ttl": None},
        [Step({"timeToLive": {"attributeName": "expiresAt", "enabled": True}}, {"ttl": "expiresAt"},
              ["UpdateTimeToLive"])],
    ),
    Scenario(
        "point-in-time recovery on then off",
        {},
        {"pitr": False},
        [
            Step({"continuousBackups": {"pointInTimeRecoveryEnabled": True}}, {"pitr": True},
                 ["UpdateContinuousBackups"]),
            Step({"continuousBackups": {"pointInTimeRecoveryEnabled": False}}, {"pitr": False},
                 ["UpdateContinuousBackups"]),
        ],
    ),
    Scenario(
        "stream off then on",
        {"streamSpecification": {"streamEnabled": False}},
        {"stream": None},
        [Step({"streamSpecification": {"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}},
              {"stream": "NEW_AND_OLD_IMAGES"}, ["UpdateTable"])],
    ),
    Scenario(
        "stream view type changed: disabled, then enabled",
        {"streamSpecification": {"streamEnabled": True, "streamViewType": "KEYS_ONLY"}},
        {"stream": "KEYS_ONLY"},
        [Step({"streamSpecification": {"streamEnabled": True, "streamViewType": "NEW_IMAGE"}},
              {"stream": "NEW_IMAGE"}, ["UpdateTable", "UpdateTable"])],
    ),
    Scenario(
        "pay-per-request to provisioned 5/5, then raised to 10/10",
        {},
        {"billing": "PAY_PER_REQUEST"},
        [
            Step(PROVISIONED_5, {"billing": "PROVISIONED", "throughput": (5, 5)}, ["UpdateTable"]),
            Step({**PROVISIONED_5, "provisionedThroughput": throughput(10, 10)},
                 {"billing": "PROVISIONED", "throughput": (10, 10)}, ["UpdateTable"]),
        ],
    ),
    Scenario(
        "encryption with a KMS key on, then off",
        {},
        {"sse": None},
        [
            Step({"sseSpecification": {"enabled": True, "sseType": "KMS", "kmsMasterKeyID": KMS_KEY_ID}},
                 {"sse": "KMS", "sseKey": KMS_KEY_ID}, ["UpdateTable"]),
            Step({"sseSpecification": {"enabled": False}}, {"sse": None}, ["UpdateTable"]),
        ],
    ),
    Scenario(
        "table class infrequent access and back",
        {},
        {"tableClass": "STANDARD"},
        [
            Step({"tableClass": "STANDARD_INFREQUENT_ACCESS"}, {"tableClass": "STANDARD_INFREQUENT_ACCESS"},
                 ["UpdateTable"]),
            Step({"tableClass": "STANDARD"}, {"tableClass": "STANDARD"}, ["UpdateTable"]),
        ],
    ),
    Scenario(
        "one index created",
        PROVISIONED_5,
        {"indexes": []},
        [Step(with_indexes(gsi("by-a", "a", units=(5, 5))),
              {"indexes": ["by-a"], "indexThroughput": {"by-a": (5, 5)}}, ["UpdateTable"])],
    ),
    Scenario(
        "one index deleted and another created in one change",
        {**PROVISIONED_5, **with_indexes(gsi("by-a", "a", units=(5, 5)))},
        {"indexes": ["by-a"]},
        [Step(with_indexes(gsi("by-b", "b", "a", units=(5, 5))),
              {"indexes": ["by-b"], "indexKeys": {"by-b": ["b", "a"]}}, ["UpdateTable", "UpdateTable"])],
    ),
    Scenario(
        "one index's throughput updated and another created",
        {**PROVISIONED_5, **with_indexes(gsi("by-a", "a", units=(5, 5)))},
        {"indexThroughput": {"by-a": (5, 5)}},
        [Step(with_indexes(gsi("by-a", "a", units=(10, 10)), gsi("by-b", "b", units=(5, 5))),
              {"indexes": ["by-a", "by-b"], "indexThroughput": {"by-a": (10, 10), "by-b": (5, 5)}},
              ["UpdateTable", "UpdateTable"])],
    ),
    Scenario(
        "many changes at once: two indexes, throughput, encryption, stream",
        PROVISIONED_5,
        {"indexes": [], "throughput": (5, 5), "sse": None, "stream": None},
        [Step(
            {**with_indexes(gsi("by-a", "a", units=(5, 5)), gsi("by-b", "b", units=(6, 6))),
             "provisionedThroughput": throughput(10, 10),
             "sseSpecification": {"enabled": True, "sseType": "KMS", "kmsMasterKeyID": KMS_KEY_ID},
             "streamSpecification": {"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}},
            {"indexes": ["by-a", "by-b"], "indexThroughput": {"by-a": (5, 5), "by-b": (6, 6)},
             "throughput": (10, 10), "sse": "KMS", "sseKey": KMS_KEY_ID, "stream": "NEW_AND_OLD_IMAGES"},
            ["UpdateTable"] * 5,
        )],
    ),
    Scenario(
        "an index on a pay-per-request table",
        {},
        {"billing": "PAY_PER_REQUEST", "indexes": []},
        [Step(with_indexes(gsi("by-a", "a", projection="KEYS_ONLY")),
              {"billing": "PAY_PER_REQUEST", "indexes": ["by-a"]}, ["UpdateTable"])],
    ),
    Scenario(
        "an index reusing the table's key attributes",
        {"attributeDefinitions": [{"attributeName": "id", "attributeType": "S"},
                                  {"attributeName": "sk", "attributeType": "S"}],
         "keySchema": [{"attributeName": "id", "keyType": "HASH"}, {"attributeName": "sk", "keyType": "RANGE"}]},
        {"indexes": []},
        [Step({"globalSecondaryIndexes": [gsi("by-sk", "sk", "id")]},
              {"indexes": ["by-sk"], "indexKeys": {"by-sk": ["sk", "id"]}}, ["UpdateTable"])],
    ),
    Scenario(
        "on-demand throughput created and updated",
        {"onDemandThroughput": on_demand(100, 100), **with_indexes(gsi("by-a", "a", limits=(50, 50)))},
        {"billing": "PAY_PER_REQUEST", "onDemand": (100, 100), "indexOnDemand": {"by-a": (50, 50)}},
        [Step({"onDemandThroughput": on_demand(200, 150), **with_indexes(gsi("by-a", "a", limits=(60, 70)))},
              {"onDemand": (200, 150), "indexOnDemand": {"by-a": (60, 70)}}, ["UpdateTable", "UpdateTable"])],
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_scenario(tables: Tables, scenario: Scenario):
    name = unique("scenario")
    spec = changed(simple_spec(name), scenario.base)
    assert_facts(tables.converge(name, spec), scenario.expect)
    for step in scenario.steps:
        spec = changed(spec, step.changes)
        live = tables.converge(name, spec)
        assert_facts(live, step.expect)
        if step.calls is not None:
            assert tables.aws.mutating() == step.calls
            assert tables.aws.refused() == []


def test_three_indexes_in_one_change_are_created_one_per_call(tables: Tables):
    name = unique("three-gsi")
    spec = simple_spec(name, **PROVISIONED_5)
    tables.converge(name, spec)

    spec = changed(spec, with_indexes(*(gsi(f"by-{a}", a, units=(5, 5)) for a in "abc")))
    live = tables.converge(name, spec)
    assert_facts(live, {"indexes": ["by-a", "by-b", "by-c"],
                        "indexThroughput": {"by-a": (5, 5), "by-b": (5, 5), "by-c": (5, 5)}})
    # The endpoint refuses an UpdateTable with more than one index creation (and any while an index is
    # still being built): three answered calls, none refused, three new indexes: one creation per call.
    assert tables.aws.mutating() == ["UpdateTable"] * 3
    assert tables.aws.refused() == []


def test_a_key_schema_change_requires_replacement_and_leaves_table_and_items(tables: Tables, target):
    name = unique("rekey")
    spec = simple_spec(name)
    before = tables.converge(name, spec).table
    items = [{"id": {"S": f"item-{n}"}, "n": {"N": str(n)}} for n in range(5)]
    for item in items:
        dynamodb(target).put_item(TableName=name, Item=item)

    rekeyed = changed(spec, {
        "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"},
                                 {"attributeName": "sk", "attributeType": "S"}],
        "keySchema": [{"attributeName": "id", "keyType": "HASH"}, {"attributeName": "sk", "keyType": "RANGE"}],
    })
    tables.refuse(name, rekeyed, "spec.keySchema: requires replacement")
    assert tables.aws.mutating() == []
    reported = condition(tables.cluster.get(name), TERMINAL)
    # Reported once: another reconcile changes nothing, on either side.
    assert reconcile_table("default", name).state == "Terminal"
    assert condition(tables.cluster.get(name), TERMINAL) == reported
    assert tables.aws.mutating() == []
    after = describe(target, name)
    assert (after["CreationDateTime"], after["KeySchema"], after["TableStatus"]) == (
        before["CreationDateTime"], before["KeySchema"], "ACTIVE")
    assert sorted(dynamodb(target).scan(TableName=name)["Items"], key=lambda i: i["n"]["N"]) == items


def test_renaming_is_terminal_and_makes_no_second_table(tables: Tables, target):
    name, new_name = unique("rename"), unique("renamed")
    spec = simple_spec(name)
    tables.converge(name, spec)

    tables.refuse(name, changed(spec, {"tableName": new_name}), "renaming needs a new resource")
    assert tables.aws.mutating() == []
    assert not table_exists(target, new_name)
    assert describe(target, name)["TableStatus"] == "ACTIVE"


def test_a_protected_table_is_kept_until_its_protection_is_removed(tables: Tables, target):
    name = unique("protected")
    spec = simple_spec(name, deletionProtectionEnabled=True)
    assert_facts(tables.converge(name, spec), {"deletionProtection": True})

    tables.cluster.delete(name)
    tables.aws.reset()
    outcome = reconcile_table("default", name)
    assert outcome.state == "Terminal"
    assert (tables.aws.mutating(), tables.aws.refused()) == ([], [])  # not even a DeleteTable to be refused
    advice = "set spec.deletionProtectionEnabled to false"
    assert advice in outcome.message
    resource = tables.cluster.get(name)
    assert FINALIZER in resource["metadata"]["finalizers"]
    terminal = condition(resource, TERMINAL)
    assert terminal["status"] == "True" and advice in terminal["message"], terminal
    assert describe(target, name)["TableStatus"] == "ACTIVE"

    # The user does what the condition says: the table goes, and then the resource.
    [outcome] = apply([manifest(name, changed(spec, {"deletionProtectionEnabled": False}))])
    assert outcome.state == "Deleted", outcome
    assert not table_exists(target, name)
    assert not tables.cluster.exists(name)


def test_a_namespace_retain_policy_keeps_the_table(tables: Tables, target):
    namespace, name = unique("retain-ns"), unique("kept")
    tables.cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=namespace, annotations={NAMESPACE_DELETION_POLICY: "retain"})))
    try:
        tables.converge(name, simple_spec(name), namespace)
        tables.cluster.delete(name, namespace)
        assert reconcile_table(namespace, name).state == "Retained"
        assert not tables.cluster.exists(name, namespace)
        assert describe(target, name)["TableStatus"] == "ACTIVE"
    finally:
        tables.cluster.core.delete_namespace(namespace)


def test_reapplying_an_unchanged_manifest_changes_nothing(tables: Tables):
    name = unique("same")
    spec = simple_spec(name, **{
        **PROVISIONED_5,
        **with_indexes(gsi("by-a", "a", units=(5, 5), projection="KEYS_ONLY")),
        "tableClass": "STANDARD_INFREQUENT_ACCESS",
        "streamSpecification": {"streamEnabled": True, "streamViewType": "NEW_IMAGE"},
        "sseSpecification": {"enabled": True, "sseType": "KMS", "kmsMasterKeyID": KMS_KEY_ID},
        "timeToLive": {"attributeName": "expiresAt", "enabled": True},
        "continuousBackups": {"pointInTimeRecoveryEnabled": True},
        "tags": [{"key": "team", "value": "a"}],
    })
    first = tables.converge(name, spec)
    generation = tables.cluster.get(name)["metadata"]["generation"]

    again = tables.converge(name, spec)
    assert tables.aws.mutating() == []
    assert tables.aws.refused() == []
    assert tables.cluster.get(name)["metadata"]["generation"] == generation
    assert again.facts() == first.facts()
