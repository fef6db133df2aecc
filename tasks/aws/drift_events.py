"""Drift events: an EventBridge rule matching DynamoDB's mutating calls (CloudTrail's "AWS API Call via CloudTrail"
events), its target an SQS queue that the controller long-polls (`flows.watch --drift-events`), with the policy that
lets the rule send and a dead-letter queue for messages that cannot be handled."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from ack.trail import dead_letter_queue, event_pattern, queue_policy, rule_name
from tasks.aws import Found, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove, tag_list, unless_missing
from tasks.connections import Target, caller_account

QUEUE_TARGET_ID = "drift-events-queue"
VISIBILITY_SECONDS = 30  # a message being handled is hidden this long; one whose handler died comes back after it
MAX_RECEIVES = 5  # a message received this often without being handled goes to the dead-letter queue
RETENTION_SECONDS = 14 * 86400  # the most SQS keeps: what lands in the dead-letter queue waits for a person
NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def queue_arn(target: Target, name: str) -> str:
    return f"arn:aws:sqs:{target.region}:{caller_account(target)}:{name}"


def rule_arn(target: Target, queue: str) -> str:
    return f"arn:aws:events:{target.region}:{caller_account(target)}:rule/{rule_name(queue)}"


def queue_attributes(target: Target, queue: str) -> dict[str, str]:
    """What the event queue must say: its policy, and where messages go after MAX_RECEIVES attempts."""
    return {
        "VisibilityTimeout": str(VISIBILITY_SECONDS),
        "ReceiveMessageWaitTimeSeconds": "20",  # long polls by default: an idle queue costs three calls a minute
        "Policy": json.dumps(queue_policy(queue_arn(target, queue), rule_arn(target, queue)), sort_keys=True),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(target, dead_letter_queue(queue)),
                                     "maxReceiveCount": MAX_RECEIVES}, sort_keys=True),
    }


def _find_queue(sqs: Any, prefix: str, name: str) -> Found | None:
    found = unless_missing(sqs.get_queue_url, *NO_QUEUE, QueueName=name)
    if found is None:
        return None
    tags = sqs.list_queue_tags(QueueUrl=found["QueueUrl"]).get("Tags", {})
    return Found(found["QueueUrl"], "available", is_owned(tags, prefix))


def _settled(wanted: dict[str, str], live: dict[str, str]) -> bool:
    """Whether the live attributes say what `wanted` says (JSON ones compared as JSON: SQS may reformat them)."""
    def same(key: str) -> bool:
        try:
            return json.loads(live.get(key, "null")) == json.loads(wanted[key])
        except ValueError:
            return live.get(key) == wanted[key]
    return all(same(key) for key in wanted)


def _ensure_queue(target: Target, prefix: str, name: str, attributes: dict[str, str], dry_run: bool,
                  service: str) -> ServiceResult:
    sqs = target.client("sqs")
    find = partial(_find_queue, sqs, prefix, name)

    def configure(apply: bool) -> bool:
        url = find().id
        live = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if _settled(attributes, live):
            return False
        if apply:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        return True

    return ensure(service, name, prefix, find=find, configure=configure, dry_run=dry_run,
                  create=lambda: sqs.create_queue(QueueName=name, Attributes=attributes, tags=owner_tags(prefix)))


def _find_rule(events: Any, prefix: str, name: str) -> Found | None:
    rule = unless_missing(events.describe_rule, "ResourceNotFoundException", Name=name)
    if rule is None:
        return None
    tags = events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]
    return Found(rule["Arn"], rule.get("State", "ENABLED").lower(), is_owned(tags, prefix))


def _ensure_rule(target: Target, prefix: str, queue: str, dry_run: bool) -> ServiceResult:
    events = target.client("events")
    name = rule_name(queue)
    pattern = event_pattern()
    targets = [{"Id": QUEUE_TARGET_ID, "Arn": queue_arn(target, queue)}]

    def configure(apply: bool) -> bool:
        live = events.describe_rule(Name=name)
        live_targets = events.list_targets_by_rule(Rule=name)["Targets"]
        if (json.loads(live.get("EventPattern") or "null") == pattern and live.get("State") == "ENABLED"
                and [{"Id": t["Id"], "Arn": t["Arn"]} for t in live_targets] == targets):
            return False
        if apply:
            events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(Rule=name, Targets=targets)
        return True

    def create() -> None:
        events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED", Tags=tag_list(owner_tags(prefix)),
                        Description="DynamoDB's mutating calls, for the ackflow controller's drift checks")
        events.put_targets(Rule=name, Targets=targets)

    return ensure("eventbridge rule", name, prefix, find=partial(_find_rule, events, prefix, name), create=create,
                  configure=configure, dry_run=dry_run)


@aws_task
def ensure_drift_events(target: Target, prefix: str, queue: str, dry_run: bool = False) -> list[ServiceResult]:
    """The dead-letter queue, the event queue (whose policy lets the rule send), then the rule targeting it."""
    dead_letter = dead_letter_queue(queue)
    return [
        _ensure_queue(target, prefix, dead_letter, {"MessageRetentionPeriod": str(RETENTION_SECONDS)}, dry_run,
                      "sqs dead-letter queue"),
        _ensure_queue(target, prefix, queue, queue_attributes(target, queue), dry_run, "sqs queue"),
        _ensure_rule(target, prefix, queue, dry_run),
    ]


@aws_task
def delete_drift_events(target: Target, prefix: str, queue: str, dry_run: bool = False) -> list[ServiceResult]:
    """The rule first (nothing is sent any more), then the queue, then its dead-letter queue."""
    events, sqs = target.client("events"), target.client("sqs")
    name = rule_name(queue)

    def delete_rule(_: Found) -> None:
        events.remove_targets(Rule=name, Ids=[QUEUE_TARGET_ID])
        events.delete_rule(Name=name)

    rows = [remove(target, "eventbridge rule", name, find=partial(_find_rule, events, prefix, name),
                   delete=delete_rule, dry_run=dry_run, timeout=60, delay=2)]
    for service, queue_name in (("sqs queue", queue), ("sqs dead-letter queue", dead_letter_queue(queue))):
        rows.append(remove(target, service, queue_name, find=partial(_find_queue, sqs, prefix, queue_name),
                           delete=lambda found: sqs.delete_queue(QueueUrl=found.id), dry_run=dry_run,
                           timeout=90, delay=2))
    return rows
