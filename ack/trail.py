"""DynamoDB's management calls as CloudTrail delivers them to EventBridge ("AWS API Call via CloudTrail"), as pure
logic: which calls change a table, the EventBridge rule's pattern, the queue's policy, and one event read into the
table it concerns and who made the call (the project's own calls are told apart by their app id or role session).

The sandbox's endpoint publishes the same shape (sandbox/aws/trail.py); the controller reads it (controller/drift_events.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

DEFAULT_QUEUE = "ackflow-drift-events"
DETAIL_TYPE = "AWS API Call via CloudTrail"
EVENT_SOURCE = "dynamodb.amazonaws.com"
OWN_APP_ID = "ackflow"  # botocore's user_agent_appid on every call the project makes: "app/ackflow" in the user agent
OWN_SESSION = "ackflow-controller"  # the role session name of every role the project assumes

# The calls that change a table outside its data: what drift compares (spec, tags, TTL, PITR, insights, policy).
MUTATING_CALLS = (
    "UpdateTable", "DeleteTable", "TagResource", "UntagResource", "UpdateTimeToLive", "UpdateContinuousBackups",
    "UpdateContributorInsights", "PutResourcePolicy", "DeleteResourcePolicy", "UpdateTableReplicaAutoScaling",
    "EnableKinesisStreamingDestination", "DisableKinesisStreamingDestination", "UpdateKinesisStreamingDestination",
)

_TABLE_ARN = re.compile(r"^arn:[\w-]+:dynamodb:([\w-]+):(\d{12}):table/([\w.-]+)")
_OWN_APP = re.compile(rf"(^|\s)app/{OWN_APP_ID}(\s|$)")


def dead_letter_queue(queue: str) -> str:
    """Where messages that cannot be handled go: the queue's name with `-dlq`."""
    return f"{queue}-dlq"


def rule_name(queue: str) -> str:
    """The EventBridge rule that feeds `queue` is named after it, so that several controllers' setups never meet."""
    return queue


def event_pattern() -> dict[str, Any]:
    """The rule's pattern: every mutating DynamoDB management call, in any table of the account and region."""
    return {"source": ["aws.dynamodb"], "detail-type": [DETAIL_TYPE],
            "detail": {"eventSource": [EVENT_SOURCE], "eventName": list(MUTATING_CALLS)}}


def queue_policy(queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """The queue's policy: EventBridge may send to it, for this rule only."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "EventBridgeSendsDriftEvents", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]}


class MalformedEvent(ValueError):
    """A message that is not a DynamoDB call event this reads: the message says what is wrong with it."""


@dataclass(frozen=True)
class TableEvent:
    """One mutating call on one table, as CloudTrail recorded it."""

    event_id: str
    name: str  # the call: UpdateTable, TagResource, ...
    account: str
    region: str
    table: str
    caller: str  # userIdentity.arn (empty when CloudTrail has none)
    user_agent: str
    time: str

    @property
    def place(self) -> tuple[str, str, str]:
        """(account, region, table name): what names a table across accounts and regions."""
        return self.account, self.region, self.table

    @property
    def own(self) -> bool:
        """Made by the project itself (its app id, or a role it assumed): nothing to check, it was the change."""
        return bool(_OWN_APP.search(self.user_agent)) or self.caller.endswith(f"/{OWN_SESSION}")


def table_place(arn: str) -> tuple[str, str, str] | None:
    """(account, region, table name) of a table's ARN (an index's or stream's ARN names its table); None if not one."""
    found = _TABLE_ARN.match(arn)
    return (found.group(2), found.group(1), found.group(3)) if found else None


def parse_event(body: str) -> TableEvent:
    """The event a queue message carries (EventBridge's envelope, CloudTrail's record in `detail`); MalformedEvent
    naming the field that is missing or wrong."""
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise MalformedEvent(f"the message is not JSON ({exc})") from None
    if not isinstance(event, dict) or not isinstance(detail := event.get("detail"), dict):
        raise MalformedEvent("the message has no `detail` object: not an EventBridge event")
    if detail.get("eventSource") != EVENT_SOURCE:
        raise MalformedEvent(f"detail.eventSource is {detail.get('eventSource')!r}, not {EVENT_SOURCE!r}")
    name = detail.get("eventName")
    if not isinstance(name, str) or not name:
        raise MalformedEvent("detail.eventName is missing")
    account = detail.get("recipientAccountId") or event.get("account")
    region = detail.get("awsRegion") or event.get("region")
    if not isinstance(account, str) or not re.fullmatch(r"\d{12}", account):
        raise MalformedEvent(f"detail.recipientAccountId is {account!r}, not a 12-digit account id")
    if not isinstance(region, str) or not region:
        raise MalformedEvent("detail.awsRegion is missing")
    parameters = detail.get("requestParameters")
    if not isinstance(parameters, dict):
        raise MalformedEvent("detail.requestParameters is missing")
    named = parameters.get("tableName") or parameters.get("resourceArn") or parameters.get("TableName") or ""
    # DynamoDB takes a table's name or its ARN; tagging and policies name it by ARN.
    place = table_place(named) if str(named).startswith("arn:") else (account, region, named)
    if not place or not place[2] or not isinstance(place[2], str):
        raise MalformedEvent(f"detail.requestParameters names no table (tableName or resourceArn): {named!r}")
    identity = detail.get("userIdentity") if isinstance(detail.get("userIdentity"), dict) else {}
    return TableEvent(event_id=str(detail.get("eventID") or event.get("id") or ""), name=name, account=place[0],
                      region=place[1], table=place[2], caller=str(identity.get("arn") or ""),
                      user_agent=str(detail.get("userAgent") or ""), time=str(detail.get("eventTime") or ""))
