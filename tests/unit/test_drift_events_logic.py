"""The drift events' pure parts: an event read into the table it concerns and who made it, what is malformed, the
rule's pattern and the queue's policy; and the index of which resource owns which table."""

from __future__ import annotations

import json

import pytest

from ack.trail import (
    DEFAULT_QUEUE, MUTATING_CALLS, MalformedEvent, dead_letter_queue, event_pattern, parse_event, queue_policy,
    table_place,
)
from controller.drift_events import TableIndex

ACCOUNT, REGION = "111122223333", "eu-west-1"


def _event(name: str = "UpdateTimeToLive", parameters: dict | None = None, user_agent: str = "Boto3/1.40",
           caller: str = f"arn:aws:iam::{ACCOUNT}:user/alice", **detail: object) -> str:
    record = {"eventSource": "dynamodb.amazonaws.com", "eventName": name, "awsRegion": REGION,
              "recipientAccountId": ACCOUNT, "userAgent": user_agent, "eventID": "e-1",
              "eventTime": "2026-12-01T10:00:00Z", "userIdentity": {"arn": caller},
              "requestParameters": {"tableName": "orders"} if parameters is None else parameters, **detail}
    return json.dumps({"version": "0", "source": "aws.dynamodb", "detail-type": "AWS API Call via CloudTrail",
                       "detail": record})


def test_an_event_names_its_table_by_name_or_by_arn():
    assert parse_event(_event()).place == (ACCOUNT, REGION, "orders")
    tagged = parse_event(_event("TagResource", {"resourceArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders",
                                                "tags": [{"key": "a", "value": "b"}]}))
    assert (tagged.name, tagged.place) == ("TagResource", (ACCOUNT, REGION, "orders"))
    # DynamoDB takes a table's ARN as its name too; the ARN's account and region are where the table is.
    other = parse_event(_event(parameters={"tableName": "arn:aws:dynamodb:us-west-2:444455556666:table/t"}))
    assert other.place == ("444455556666", "us-west-2", "t")


def test_the_projects_own_calls_are_told_by_app_id_or_role_session():
    assert parse_event(_event(user_agent="Boto3/1.40 md/Botocore#1.40 ua/2.1 app/ackflow cfg/retry-mode#standard")).own
    assert parse_event(_event(caller=f"arn:aws:sts::{ACCOUNT}:assumed-role/ack-dynamodb/ackflow-controller")).own
    assert not parse_event(_event()).own
    assert not parse_event(_event(user_agent="Boto3/1.40 app/ackflow-other")).own  # another app's id
    assert not parse_event(_event(caller=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/ackflow-controller-x")).own


@pytest.mark.parametrize(("body", "says"), [
    ("not json", "not JSON"),
    (json.dumps(["a list"]), "no `detail`"),
    (json.dumps({"detail": {"eventSource": "s3.amazonaws.com"}}), "eventSource"),
    (_event(name=""), "eventName"),
    (_event(recipientAccountId="12"), "12-digit"),
    (_event(parameters={"limit": 1}), "names no table"),
    (_event(parameters={"resourceArn": "arn:aws:s3:::bucket"}), "names no table"),
])
def test_a_malformed_message_says_what_is_wrong(body, says):
    with pytest.raises(MalformedEvent, match=says):
        parse_event(body)


def test_the_rule_matches_every_mutating_call_and_only_cloudtrails_dynamodb_events():
    pattern = event_pattern()
    assert pattern["source"] == ["aws.dynamodb"] and pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert set(pattern["detail"]["eventName"]) == set(MUTATING_CALLS)
    assert {"UpdateTable", "DeleteTable", "TagResource", "UntagResource", "UpdateTimeToLive", "UpdateContinuousBackups",
            "UpdateContributorInsights", "PutResourcePolicy"} <= set(MUTATING_CALLS)
    assert not {"DescribeTable", "CreateTable", "PutItem"} & set(MUTATING_CALLS)  # reads, and data, are not drift


def test_the_queue_lets_only_its_rule_send():
    [statement] = queue_policy("arn:q", "arn:rule")["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == "arn:q" and statement["Condition"] == {"ArnEquals": {"aws:SourceArn": "arn:rule"}}
    assert dead_letter_queue(DEFAULT_QUEUE) == "ackflow-drift-events-dlq"


def test_a_table_arn_and_its_index_or_stream_arns_name_the_table():
    assert table_place(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders") == (ACCOUNT, REGION, "orders")
    assert table_place(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/2026") == (ACCOUNT, REGION, "orders")
    assert table_place("arn:aws:sqs:eu-west-1:111122223333:q") is None


def _table(name: str, arn: str | None, namespace: str = "ns") -> dict:
    status = {"ackResourceMetadata": {"arn": arn}} if arn else {}
    return {"apiVersion": "dynamodb.services.k8s.aws/v1alpha1", "kind": "Table",
            "metadata": {"namespace": namespace, "name": name}, "status": status}


def test_the_index_follows_the_resources_status_arns():
    index = TableIndex()
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
    index.note("ADDED", _table("orders", None))  # not created yet: owns nothing
    assert index.owner((ACCOUNT, REGION, "orders")) is None
    index.note("MODIFIED", _table("orders", arn))
    assert index.owner((ACCOUNT, REGION, "orders")) == ("Table", "ns", "orders")
    assert index.owner(("999988887777", REGION, "orders")) is None  # the same name in another account is not it
    index.note("DELETED", _table("orders", arn))
    assert index.owner((ACCOUNT, REGION, "orders")) is None
