"""Fields left to others (ack/ignore.py): named in ackflow.dev/ignore-fields, or capacity Application Auto Scaling
owns; reconcile's plan never touches them, drift reports them as ignored. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from ack.drift import Action, DriftClass, check_of, report
from ack.ignore import AUTOSCALING, IGNORE_FIELDS, autoscaled, parse_ignored, with_live
from ack.lifecycle import Converge, Refuse, decide
from ack.model import TableSpec
from ack.normalize import LiveTable, observed_from_aws
from ack.tags import OWNER_TAG
from tests.unit.resources import ACCOUNT_ARN, resource

SPEC: dict[str, Any] = {
    "tableName": "orders",
    "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"},
                             {"attributeName": "g", "attributeType": "S"}],
    "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
    "billingMode": "PROVISIONED",
    "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5},
    "globalSecondaryIndexes": [{"indexName": "byG", "keySchema": [{"attributeName": "g", "keyType": "HASH"}],
                                "projection": {"projectionType": "ALL"},
                                "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5}}],
}
TARGETS = [{"ResourceId": "table/orders", "ScalableDimension": "dynamodb:table:ReadCapacityUnits"},
           {"ResourceId": "table/orders/index/byG", "ScalableDimension": "dynamodb:index:ReadCapacityUnits"}]


def live(read: int = 40, write: int = 5, index_read: int = 12,
         targets: list[dict[str, str]] | None = None) -> LiveTable:
    throughput = {"ReadCapacityUnits": read, "WriteCapacityUnits": write}
    table = {"TableName": "orders", "TableArn": ACCOUNT_ARN + "orders", "TableStatus": "ACTIVE",
             "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                                      {"AttributeName": "g", "AttributeType": "S"}],
             "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "ProvisionedThroughput": throughput,
             "GlobalSecondaryIndexes": [{"IndexName": "byG", "IndexStatus": "ACTIVE",
                                         "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                         "Projection": {"ProjectionType": "ALL"},
                                         "ProvisionedThroughput": {"ReadCapacityUnits": index_read,
                                                                   "WriteCapacityUnits": 5}}]}
    tags = [{"Key": OWNER_TAG, "Value": "shop/orders"}]
    return LiveTable(table, observed_from_aws(table, tags), "shop/orders", autoscaled(targets or []))


def test_capacity_autoscaling_owns_is_never_reset_and_the_rest_still_is() -> None:
    decision = decide(resource(SPEC), live(read=40, write=9, index_read=12, targets=TARGETS))
    assert isinstance(decision, Converge)
    [update] = [s for s in decision.plan.steps if s.api == "UpdateTable"]
    # The write capacity the spec asks for; the read capacity autoscaling set, left as it is.
    assert update.params["ProvisionedThroughput"] == {"ReadCapacityUnits": 40, "WriteCapacityUnits": 5}
    assert [(d.path, why) for d, why in decision.ignored] == [
        ("spec.provisionedThroughput.readCapacityUnits", AUTOSCALING),
        ("spec.globalSecondaryIndexes[byName:byG].provisionedThroughput.readCapacityUnits", AUTOSCALING)]


def test_without_scalable_targets_capacity_is_the_specs() -> None:
    decision = decide(resource(SPEC), live(read=40, index_read=5))
    assert isinstance(decision, Converge) and not decision.ignored
    assert decision.plan.steps[0].params["ProvisionedThroughput"]["ReadCapacityUnits"] == 5


def test_fields_named_in_the_annotation_are_left_as_they_are_live() -> None:
    fields = "spec.provisionedThroughput, spec.globalSecondaryIndexes.provisionedThroughput"
    annotated = resource(SPEC, {IGNORE_FIELDS: fields})
    decision = decide(annotated, live(read=40, write=9, index_read=12))
    assert isinstance(decision, Converge) and decision.plan.steps == [] and not decision.differences
    assert {d.path for d, _ in decision.ignored} == {
        "spec.provisionedThroughput.readCapacityUnits", "spec.provisionedThroughput.writeCapacityUnits",
        "spec.globalSecondaryIndexes[byName:byG].provisionedThroughput.readCapacityUnits"}


def test_drift_reports_what_is_left_to_others_as_ignored_not_as_drift() -> None:
    found = live(read=40, write=9, targets=TARGETS)
    check = check_of(resource(SPEC), found, decide(resource(SPEC), found), "remediate")
    assert check.drift_class == DriftClass.DRIFTED  # the write capacity
    assert [d.path for d in check.differences] == ["spec.provisionedThroughput.writeCapacityUnits"]
    rows = report([check]).to_dict(orient="records")
    ignored = [r for r in rows if r["action"] == Action.IGNORED.value]
    assert [(r["field"], r["actual"], r["desired"], r["message"]) for r in ignored] == [
        ("spec.provisionedThroughput.readCapacityUnits", "40", "5", AUTOSCALING),
        ("spec.globalSecondaryIndexes[byName:byG].provisionedThroughput.readCapacityUnits", "12", "5", AUTOSCALING)]
    in_sync = live(read=40, targets=TARGETS)
    quiet = check_of(resource(SPEC), in_sync, decide(resource(SPEC), in_sync), "remediate")
    assert quiet.drift_class == DriftClass.IN_SYNC and len(quiet.ignored) == 2


@pytest.mark.parametrize("value, named", [
    ("spec.keySchema", "keySchema makes the table what it is"),
    ("spec.globalSecondaryIndexes", "of an index, only its provisionedThroughput"),
    ("spec.provisionedThroughput.reads", "only the whole provisionedThroughput or one of readCapacityUnits"),
    ("provisionedThroughput", "not a spec field path"),
])
def test_a_field_that_cannot_be_left_to_others_is_refused_naming_the_annotation(value: str, named: str) -> None:
    decision = decide(resource(SPEC, {IGNORE_FIELDS: value}), live())
    assert isinstance(decision, Refuse) and decision.reason == "InvalidAnnotation"
    assert decision.message.startswith(f"metadata.annotations[{IGNORE_FIELDS}]: {value!r}: ")
    assert named in decision.message


def test_a_spec_asks_for_what_is_live_only_where_it_is_left_to_others() -> None:
    ignored, problems = parse_ignored("spec.globalSecondaryIndexes[byG].provisionedThroughput.readCapacityUnits")
    assert problems == ()
    spec, left = with_live(TableSpec.model_validate(SPEC), live(read=40, index_read=12).observed.spec, ignored)
    assert spec.provisioned_throughput.read_capacity_units == 5  # the table's own is not left to anyone
    assert spec.global_secondary_indexes[0].provisioned_throughput.read_capacity_units == 12
    assert len(left) == 1
