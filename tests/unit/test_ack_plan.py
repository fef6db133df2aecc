"""Round planning, run against a small in-memory table that enforces AWS's update rules, so each of
ACK's update scenarios is shown to converge in the expected rounds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ack.delta import delta
from ack.model import TableSpec
from ack.normalize import observed_from_aws
from ack.plan import Plan, Step, create_table_params, delete_table, plan

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
ZERO = {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}


class FakeTable:
    """One DynamoDB table: applies steps as AWS would, and refuses what AWS refuses."""

    def __init__(self, spec: TableSpec) -> None:
        params = create_table_params(spec)
        self.table: dict[str, Any] = {
            "TableName": params["TableName"],
            "TableArn": ARN,
            "TableStatus": "ACTIVE",
            "AttributeDefinitions": params["AttributeDefinitions"],
            "KeySchema": params["KeySchema"],
            "ProvisionedThroughput": params.get("ProvisionedThroughput", ZERO),
            "GlobalSecondaryIndexes": [
                {**i, "IndexStatus": "ACTIVE", "ProvisionedThroughput": i.get("ProvisionedThroughput", ZERO)}
                for i in params.get("GlobalSecondaryIndexes", [])
            ],
            "DeletionProtectionEnabled": params["DeletionProtectionEnabled"],
        }
        self._set_billing(params["BillingMode"])
        if params.get("StreamSpecification", {}).get("StreamEnabled"):
            self.table["StreamSpecification"] = params["StreamSpecification"]
        self.tags = {t["Key"]: t["Value"] for t in params.get("Tags", [])}
        self.ttl: dict[str, Any] = {"TimeToLiveStatus": "DISABLED"}
        self.pitr = "DISABLED"

    def observed(self):
        return observed_from_aws(
            copy.deepcopy(self.table),
            [{"Key": k, "Value": v} for k, v in self.tags.items()],
            self.ttl,
            {"PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": self.pitr}},
        )

    def call(self, step: Step) -> None:
        getattr(self, step.api)(**step.params)

    def TagResource(self, ResourceArn: str, Tags: list[dict[str, str]]) -> None:
        self.tags.update({t["Key"]: t["Value"] for t in Tags})

    def UntagResource(self, ResourceArn: str, TagKeys: list[str]) -> None:
        for key in TagKeys:
            del self.tags[key]

    def UpdateTimeToLive(self, TableName: str, TimeToLiveSpecification: dict[str, Any]) -> None:
        enabled = self.ttl["TimeToLiveStatus"] == "ENABLED"
        assert TimeToLiveSpecification["Enabled"] != enabled, "TimeToLive is already in that state"
        if enabled:
            assert TimeToLiveSpecification["AttributeName"] == self.ttl["AttributeName"]
            self.ttl = {"TimeToLiveStatus": "DISABLED"}
        else:
            self.ttl = {"TimeToLiveStatus": "ENABLED", "AttributeName": TimeToLiveSpecification["AttributeName"]}

    def UpdateContinuousBackups(self, TableName: str, PointInTimeRecoverySpecification: dict[str, bool]) -> None:
        self.pitr = "ENABLED" if PointInTimeRecoverySpecification["PointInTimeRecoveryEnabled"] else "DISABLED"

    def UpdateTable(self, TableName: str, **params: Any) -> None:
        assert params, "AWS refuses an UpdateTable with nothing to change"
        assert self.table["TableStatus"] == "ACTIVE"
        updates = params.get("GlobalSecondaryIndexUpdates", [])
        membership = [u for u in updates if "Create" in u or "Delete" in u]
        assert len(membership) <= 1 and (not membership or len(updates) == 1), "one index create or delete per call"
        if "BillingMode" in params:
            self._set_billing(params["BillingMode"])
            if params["BillingMode"] == "PROVISIONED":
                assert "ProvisionedThroughput" in params
                named = {u["Update"]["IndexName"] for u in updates if "Update" in u}
                assert named == {i["IndexName"] for i in self.table["GlobalSecondaryIndexes"]}, (
                    "every index's throughput"
                )
        ppr = self.table.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
        if "ProvisionedThroughput" in params:
            assert not ppr, "no provisioned throughput on a PAY_PER_REQUEST table"
            self.table["ProvisionedThroughput"] = params["ProvisionedThroughput"]
        if "OnDemandThroughput" in params:
            assert ppr
            self.table["OnDemandThroughput"] = params["OnDemandThroughput"]
        for name in ("TableClass", "DeletionProtectionEnabled"):
            if name in params:
                self.table[name if name != "TableClass" else "TableClassSummary"] = (
                    {"TableClass": params[name]} if name == "TableClass" else params[name]
                )
        if "SSESpecification" in params:
            sse = params["SSESpecification"]
            key = sse.get("KMSMasterKeyId", "alias/aws/dynamodb")
            self.table["SSEDescription"] = (
                {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}
                if sse["Enabled"]
                else {"Status": "DISABLED"}
            )
        if "StreamSpecification" in params:
            stream, current = params["StreamSpecification"], self.table.get("StreamSpecification")
            if stream["StreamEnabled"]:
                assert not current, "table already has an enabled stream"
                self.table["StreamSpecification"] = stream
            else:
                assert current, "no stream to disable"
                del self.table["StreamSpecification"]
        for update in updates:
            self._index_update(update, params.get("AttributeDefinitions"), ppr)

    def _index_update(self, update: dict[str, Any], definitions: list[dict[str, str]] | None, ppr: bool) -> None:
        indexes = self.table["GlobalSecondaryIndexes"]
        if "Create" in update:
            create = update["Create"]
            defined = {d["AttributeName"] for d in definitions or []}
            assert {k["AttributeName"] for k in create["KeySchema"]} <= defined
            assert ppr != ("ProvisionedThroughput" in create)
            indexes.append(
                {**create, "IndexStatus": "ACTIVE", "ProvisionedThroughput": create.get("ProvisionedThroughput", ZERO)}
            )
            self.table["AttributeDefinitions"] = definitions
        elif "Delete" in update:
            name = update["Delete"]["IndexName"]
            assert any(i["IndexName"] == name for i in indexes)
            self.table["GlobalSecondaryIndexes"] = [i for i in indexes if i["IndexName"] != name]
        else:
            [index] = [i for i in indexes if i["IndexName"] == update["Update"]["IndexName"]]
            index.update({k: v for k, v in update["Update"].items() if k != "IndexName"})

    def _set_billing(self, mode: str) -> None:
        self.table["BillingModeSummary"] = {"BillingMode": mode}
        if mode == "PAY_PER_REQUEST":  # AWS reports 0/0 from now on
            self.table["ProvisionedThroughput"] = ZERO
            for index in self.table["GlobalSecondaryIndexes"]:
                index["ProvisionedThroughput"] = ZERO


def spec(**changes: Any) -> TableSpec:
    base: dict[str, Any] = {
        "tableName": "orders",
        "billingMode": "PAY_PER_REQUEST",
        "attributeDefinitions": [{"attributeName": "pk", "attributeType": "S"}],
        "keySchema": [{"attributeName": "pk", "keyType": "HASH"}],
    }
    return TableSpec.model_validate({**base, **changes})


def with_indexes(*names: str, read: int | None = None, **changes: Any) -> TableSpec:
    """A spec with one index per name, keyed on the attribute of the same name."""
    indexes = [
        {
            "indexName": name,
            "keySchema": [{"attributeName": name, "keyType": "HASH"}],
            "projection": {"projectionType": "ALL"},
            **({"provisionedThroughput": {"readCapacityUnits": read, "writeCapacityUnits": read}} if read else {}),
        }
        for name in names
    ]
    attributes = [{"attributeName": "pk", "attributeType": "S"}] + [
        {"attributeName": n, "attributeType": "S"} for n in names
    ]
    return spec(attributeDefinitions=attributes, globalSecondaryIndexes=indexes or None, **changes)


def converge(table: FakeTable, desired: TableSpec, max_rounds: int = 8) -> list[list[Step]]:
    """Run rounds as the reconciler does until nothing differs; return each round's steps."""
    rounds = []
    for _ in range(max_rounds):
        observed = table.observed()
        differences = delta(desired, observed.spec)
        if not differences:
            return rounds
        this = plan(differences, observed, desired)
        assert (this.replacements, this.refused, this.wait, this.terminal) == ([], [], "", ""), this
        assert this.steps, f"no step for {differences}"
        for step in this.steps:
            table.call(step)
        if this.complete:  # the reconciler then reports Synced without reading the table again
            assert delta(desired, table.observed().spec) == [], f"a round said complete, yet: {this.steps}"
        rounds.append(this.steps)
    raise AssertionError(f"no convergence in {max_rounds} rounds: {rounds}")


def index_ops(step: Step) -> list[tuple[str, str]]:
    return [
        (op, body["IndexName"]) for u in step.params.get("GlobalSecondaryIndexUpdates", []) for op, body in u.items()
    ]


def test_nothing_differs_nothing_to_do() -> None:
    assert plan([], FakeTable(spec()).observed(), spec()) == Plan()


def test_three_indexes_in_one_change_are_created_one_per_round() -> None:
    table = FakeTable(spec())
    rounds = converge(table, with_indexes("aaa", "bbb", "ccc"))
    assert [[index_ops(s) for s in r] for r in rounds] == [
        [[("Create", "aaa")]],
        [[("Create", "bbb")]],
        [[("Create", "ccc")]],
    ]
    assert rounds[0][0].reason == "create index aaa; 2 more in later rounds (one index creation per call)"
    assert rounds[0][0].params["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "aaa", "AttributeType": "S"},
    ]


def test_delete_one_index_and_create_another_deletes_first() -> None:
    table = FakeTable(with_indexes("old"))
    rounds = converge(table, with_indexes("new"))
    assert [[index_ops(s) for s in r] for r in rounds] == [[[("Delete", "old")]], [[("Create", "new")]]]
    assert rounds[0][0].destructive


def test_update_one_index_and_create_another() -> None:
    table = FakeTable(
        with_indexes(
            "aaa",
            read=5,
            billingMode="PROVISIONED",
            provisionedThroughput={"readCapacityUnits": 5, "writeCapacityUnits": 5},
        )
    )
    desired = with_indexes(
        "aaa",
        "bbb",
        read=10,
        billingMode="PROVISIONED",
        provisionedThroughput={"readCapacityUnits": 5, "writeCapacityUnits": 5},
    )
    rounds = converge(table, desired)
    assert [[index_ops(s) for s in r] for r in rounds] == [[[("Update", "aaa")], [("Create", "bbb")]]]


def test_pay_per_request_to_provisioned_carries_every_index_throughput_in_one_call() -> None:
    table = FakeTable(with_indexes("aaa", "bbb"))
    desired = with_indexes(
        "aaa",
        "bbb",
        read=5,
        billingMode="PROVISIONED",
        provisionedThroughput={"readCapacityUnits": 5, "writeCapacityUnits": 5},
    )
    [[step]] = converge(table, desired)
    five = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    assert step.params == {
        "TableName": "orders",
        "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": five,
        "GlobalSecondaryIndexUpdates": [
            {"Update": {"IndexName": "aaa", "ProvisionedThroughput": five}},
            {"Update": {"IndexName": "bbb", "ProvisionedThroughput": five}},
        ],
    }


def test_switch_to_provisioned_after_deleting_an_index_in_the_same_round() -> None:
    table = FakeTable(with_indexes("aaa", "bbb"))
    throughput = {"readCapacityUnits": 5, "writeCapacityUnits": 5}
    desired = with_indexes("aaa", read=5, billingMode="PROVISIONED", provisionedThroughput=throughput)
    [[delete, switch]] = converge(table, desired)
    assert index_ops(delete) == [("Delete", "bbb")] and delete.destructive
    assert index_ops(switch) == [("Update", "aaa")]
    assert switch.reason == "set billingMode PROVISIONED, with the throughput of the table and of every index"


def test_provisioned_to_pay_per_request_then_throughput_is_ignored() -> None:
    provisioned = {
        "billingMode": "PROVISIONED",
        "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5},
    }
    table = FakeTable(with_indexes("aaa", read=5, **provisioned))
    [[step]] = converge(table, with_indexes("aaa"))
    assert step.params == {"TableName": "orders", "BillingMode": "PAY_PER_REQUEST"}


def test_throughput_raised() -> None:
    provisioned = {
        "billingMode": "PROVISIONED",
        "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5},
    }
    table = FakeTable(spec(**provisioned))
    [[step]] = converge(
        table,
        spec(billingMode="PROVISIONED", provisionedThroughput={"readCapacityUnits": 10, "writeCapacityUnits": 10}),
    )
    assert step.params == {
        "TableName": "orders",
        "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
    }


def test_stream_view_type_change_is_disable_then_enable() -> None:
    table = FakeTable(spec(streamSpecification={"streamEnabled": True, "streamViewType": "KEYS_ONLY"}))
    rounds = converge(table, spec(streamSpecification={"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}))
    assert [[s.params["StreamSpecification"] for s in r] for r in rounds] == [
        [{"StreamEnabled": False}],
        [{"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}],
    ]
    assert "enable it with NEW_AND_OLD_IMAGES in a later round" in rounds[0][0].reason


def test_stream_off_then_on() -> None:
    table = FakeTable(spec(streamSpecification={"streamEnabled": True, "streamViewType": "KEYS_ONLY"}))
    [[off]] = converge(table, spec(streamSpecification={"streamEnabled": False}))
    assert off.params["StreamSpecification"] == {"StreamEnabled": False}
    [[on]] = converge(table, spec(streamSpecification={"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}))
    assert on.params["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_tags_removed_then_added_or_changed() -> None:
    table = FakeTable(spec(tags=[{"key": "team", "value": "aaa"}, {"key": "gone", "value": "x"}]))
    [[untag, tag]] = converge(table, spec(tags=[{"key": "team", "value": "bbb"}, {"key": "env", "value": "prod"}]))
    assert (untag.api, untag.params) == ("UntagResource", {"ResourceArn": ARN, "TagKeys": ["gone"]})
    assert (tag.api, tag.params) == (
        "TagResource",
        {"ResourceArn": ARN, "Tags": [{"Key": "team", "Value": "bbb"}, {"Key": "env", "Value": "prod"}]},
    )
    assert table.tags == {"team": "bbb", "env": "prod"}


def test_ttl_on_and_moved_to_another_attribute() -> None:
    table = FakeTable(spec())
    [[on]] = converge(table, spec(timeToLive={"enabled": True, "attributeName": "expires"}))
    assert on.params == {
        "TableName": "orders",
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires"},
    }
    rounds = converge(table, spec(timeToLive={"enabled": True, "attributeName": "ttl"}))
    assert [[s.params["TimeToLiveSpecification"] for s in r] for r in rounds] == [
        [{"Enabled": False, "AttributeName": "expires"}],
        [{"Enabled": True, "AttributeName": "ttl"}],
    ]


def test_point_in_time_recovery_on_then_off() -> None:
    table = FakeTable(spec())
    [[on]] = converge(table, spec(continuousBackups={"pointInTimeRecoveryEnabled": True}))
    assert on.api == "UpdateContinuousBackups" and on.params["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }
    [[off]] = converge(table, spec())
    assert off.params["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}


def test_sse_on_with_kms_then_off() -> None:
    table = FakeTable(spec())
    [[on]] = converge(
        table, spec(sseSpecification={"enabled": True, "sseType": "KMS", "kmsMasterKeyID": "alias/orders"})
    )
    assert on.params["SSESpecification"] == {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/orders"}
    [[off]] = converge(table, spec(sseSpecification={"enabled": False}))
    assert off.params["SSESpecification"] == {"Enabled": False}


def test_table_class_and_deletion_protection_in_one_call_and_back() -> None:
    table = FakeTable(spec())
    [[step]] = converge(table, spec(tableClass="STANDARD_INFREQUENT_ACCESS", deletionProtectionEnabled=True))
    assert step.params == {
        "TableName": "orders",
        "TableClass": "STANDARD_INFREQUENT_ACCESS",
        "DeletionProtectionEnabled": True,
    }
    [[back]] = converge(table, spec())
    assert back.params == {"TableName": "orders", "TableClass": "STANDARD", "DeletionProtectionEnabled": False}


def test_many_changes_at_once_follow_the_order() -> None:
    provisioned = {
        "billingMode": "PROVISIONED",
        "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5},
    }
    table = FakeTable(spec(**provisioned))
    desired = with_indexes(
        "aaa",
        "bbb",
        read=5,
        billingMode="PROVISIONED",
        provisionedThroughput={"readCapacityUnits": 10, "writeCapacityUnits": 10},
        sseSpecification={"enabled": True},
        streamSpecification={"streamEnabled": True, "streamViewType": "NEW_IMAGE"},
        timeToLive={"enabled": True, "attributeName": "expires"},
    )
    rounds = converge(table, desired)
    summary = [[(s.api, sorted(s.params.keys() - {"TableName"})) for s in r] for r in rounds]
    assert summary == [
        [
            ("UpdateTimeToLive", ["TimeToLiveSpecification"]),
            ("UpdateTable", ["SSESpecification"]),
            ("UpdateTable", ["StreamSpecification"]),
        ],
        [("UpdateTable", ["ProvisionedThroughput"])],
        [("UpdateTable", ["AttributeDefinitions", "GlobalSecondaryIndexUpdates"])],
        [("UpdateTable", ["AttributeDefinitions", "GlobalSecondaryIndexUpdates"])],
    ]


def test_index_on_pay_per_request_table_and_on_demand_limits() -> None:
    table = FakeTable(spec())
    desired = with_indexes("aaa", onDemandThroughput={"maxReadRequestUnits": 100, "maxWriteRequestUnits": 100})
    rounds = converge(table, desired)
    assert [s.params.get("OnDemandThroughput") for r in rounds for s in r] == [
        {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 100},
        None,
    ]
    assert "ProvisionedThroughput" not in rounds[1][0].params["GlobalSecondaryIndexUpdates"][0]["Create"]
    [[removed]] = converge(table, with_indexes("aaa", onDemandThroughput={"maxReadRequestUnits": 50}))
    assert removed.params["OnDemandThroughput"] == {"MaxReadRequestUnits": 50, "MaxWriteRequestUnits": -1}


def test_index_key_change_recreates_the_index() -> None:
    table = FakeTable(with_indexes("aaa"))
    desired = with_indexes("aaa")
    desired.global_secondary_indexes[0].projection.projection_type = "KEYS_ONLY"
    rounds = converge(table, desired)
    assert [[index_ops(s) for s in r] for r in rounds] == [[[("Delete", "aaa")]], [[("Create", "aaa")]]]
    assert not rounds[0][0].destructive  # the spec names the index: it comes back


def test_index_the_spec_never_named_is_destructive_and_refused_without_opt_in() -> None:
    table = FakeTable(with_indexes("stranger"))
    desired = with_indexes("mine")
    observed = table.observed()
    cautious = plan(delta(desired, observed.spec), observed, desired, allow_destructive=False)
    assert [index_ops(s) for s in cautious.refused] == [[("Delete", "stranger")]]
    assert [index_ops(s) for s in cautious.steps] == [[("Create", "mine")]]  # no deletion runs: creation may


def test_nothing_but_tags_while_updating() -> None:
    table = FakeTable(spec(tags=[{"key": "aaa", "value": "1"}]))
    table.table["TableStatus"] = "UPDATING"
    desired = spec(tags=[{"key": "aaa", "value": "2"}], deletionProtectionEnabled=True)
    observed = table.observed()
    result = plan(delta(desired, observed.spec), observed, desired)
    assert [s.api for s in result.steps] == ["TagResource"]
    assert result.wait == "the table is UPDATING"


def test_wait_while_an_index_is_busy_or_the_table_creating() -> None:
    table = FakeTable(with_indexes("aaa"))
    table.table["GlobalSecondaryIndexes"][0]["IndexStatus"] = "CREATING"
    desired = with_indexes("aaa", "bbb")
    observed = table.observed()
    assert plan(delta(desired, observed.spec), observed, desired) == Plan(wait="index aaa is CREATING")
    table.table["TableStatus"] = "CREATING"
    observed = table.observed()
    assert plan(delta(desired, observed.spec), observed, desired) == Plan(wait="the table is CREATING")


@pytest.mark.parametrize("status", ["DELETING", "ARCHIVING", "ARCHIVED"])
def test_terminal_table_statuses(status: str) -> None:
    table = FakeTable(spec())
    table.table["TableStatus"] = status
    observed = table.observed()
    desired = spec(deletionProtectionEnabled=True)
    assert plan(delta(desired, observed.spec), observed, desired) == Plan(
        terminal=f"the table is {status}: it cannot be changed"
    )


def test_replacement_leaves_the_table_untouched() -> None:
    table = FakeTable(spec(tags=[{"key": "aaa", "value": "1"}]))
    desired = spec(
        attributeDefinitions=[
            {"attributeName": "pk", "attributeType": "S"},
            {"attributeName": "sk", "attributeType": "S"},
        ],
        keySchema=[{"attributeName": "pk", "keyType": "HASH"}, {"attributeName": "sk", "keyType": "RANGE"}],
        tags=[{"key": "aaa", "value": "2"}],
    )
    observed = table.observed()
    result = plan(delta(desired, observed.spec), observed, desired)
    assert result.steps == [] and [p.field for p in result.replacements] == ["spec.keySchema"]
    renamed = spec(tableName="orders-v2")
    [problem] = plan(delta(renamed, observed.spec), observed, renamed).replacements
    assert "renaming needs a new resource" in problem.message


def test_replicas_one_change_per_round_and_removal_is_destructive() -> None:
    stream = {"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}
    table = FakeTable(spec(streamSpecification=stream))
    desired = spec(streamSpecification=stream, tableReplicas=[{"regionName": "us-west-2"}, {"regionName": "eu-west-1"}])
    observed = table.observed()
    first = plan(delta(desired, observed.spec), observed, desired)
    assert [s.params["ReplicaUpdates"] for s in first.steps] == [[{"Create": {"RegionName": "us-west-2"}}]]
    table.table["Replicas"] = [
        {"RegionName": "us-west-2", "ReplicaStatus": "ACTIVE"},
        {"RegionName": "ap-south-1", "ReplicaStatus": "ACTIVE"},
    ]
    observed = table.observed()
    second = plan(delta(desired, observed.spec), observed, desired, allow_destructive=False)
    assert [s.params["ReplicaUpdates"] for s in second.steps] == [[{"Create": {"RegionName": "eu-west-1"}}]]
    table.table["Replicas"].append({"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"})
    observed = table.observed()
    third = plan(delta(desired, observed.spec), observed, desired, allow_destructive=False)
    assert third.steps == [] and [s.params["ReplicaUpdates"] for s in third.refused] == [
        [{"Delete": {"RegionName": "ap-south-1"}}]
    ]
    assert third.refused[0].destructive


def test_create_table_params_hold_what_creation_takes() -> None:
    full = with_indexes(
        "aaa",
        read=1,
        billingMode="PROVISIONED",
        provisionedThroughput={"readCapacityUnits": 1, "writeCapacityUnits": 2},
        streamSpecification={"streamEnabled": True, "streamViewType": "NEW_IMAGE"},
        sseSpecification={"enabled": True, "kmsMasterKeyID": "alias/k"},
        tableClass="STANDARD_INFREQUENT_ACCESS",
        deletionProtectionEnabled=True,
        tags=[{"key": "team", "value": "aaa"}],
        timeToLive={"enabled": True, "attributeName": "expires"},
        continuousBackups={"pointInTimeRecoveryEnabled": True},
        contributorInsights="ENABLED",
        resourcePolicy="{}",
    )
    params = create_table_params(full)
    assert sorted(params) == [
        "AttributeDefinitions",
        "BillingMode",
        "DeletionProtectionEnabled",
        "GlobalSecondaryIndexes",
        "KeySchema",
        "ProvisionedThroughput",
        "SSESpecification",
        "StreamSpecification",
        "TableClass",
        "TableName",
        "Tags",
    ]
    assert params["SSESpecification"] == {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/k"}
    assert params["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"] == {
        "ReadCapacityUnits": 1,
        "WriteCapacityUnits": 1,
    }
    assert create_table_params(spec())["BillingMode"] == "PAY_PER_REQUEST"


def test_delete_table_honours_deletion_protection() -> None:
    protected = FakeTable(spec(deletionProtectionEnabled=True)).observed()
    assert "set spec.deletionProtectionEnabled to false" in delete_table(protected).terminal
    [step] = delete_table(FakeTable(spec()).observed()).steps
    assert (step.api, step.params, step.destructive) == ("DeleteTable", {"TableName": "orders"}, True)
    assert "set spec.deletionProtectionEnabled to false" in delete_table(
        protected, spec(deletionProtectionEnabled=True)).terminal


def test_delete_table_turns_protection_off_when_the_spec_does() -> None:
    protected = FakeTable(spec(deletionProtectionEnabled=True)).observed()
    steps = delete_table(protected, spec(deletionProtectionEnabled=False)).steps
    assert [(s.api, s.params) for s in steps] == [
        ("UpdateTable", {"TableName": "orders", "DeletionProtectionEnabled": False}),
        ("DeleteTable", {"TableName": "orders"}),
    ]


def test_rounds_that_leave_nothing_to_do_say_so() -> None:
    tagged = FakeTable(spec())
    tagged.tags = {"team": "a", "old": "x"}
    desired = spec(tags=[{"key": "team", "value": "b"}], continuousBackups={"pointInTimeRecoveryEnabled": True})
    this = plan(delta(desired, tagged.observed().spec), tagged.observed(), desired)
    assert this.complete
    assert [s.api for s in this.steps] == ["UntagResource", "TagResource", "UpdateContinuousBackups"]

    ttl_on = FakeTable(spec(timeToLive={"attributeName": "a", "enabled": True}))
    ttl_on.ttl = {"TimeToLiveStatus": "ENABLED", "AttributeName": "a"}
    moved = spec(timeToLive={"attributeName": "b", "enabled": True})
    assert not plan(delta(moved, ttl_on.observed().spec), ttl_on.observed(), moved).complete  # disable, then enable
    off = spec()
    assert plan(delta(off, ttl_on.observed().spec), ttl_on.observed(), off).complete

    throughput = spec(billingMode="PROVISIONED", provisionedThroughput={"readCapacityUnits": 2, "writeCapacityUnits": 2})
    table = FakeTable(throughput)
    more = spec(billingMode="PROVISIONED", provisionedThroughput={"readCapacityUnits": 3, "writeCapacityUnits": 2})
    assert not plan(delta(more, table.observed().spec), table.observed(), more).complete  # the table is UPDATING
