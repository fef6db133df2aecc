"""CloudTrail's events for DynamoDB's mutating calls, published into moto's own EventBridge.

On AWS, CloudTrail delivers each management call to EventBridge ("AWS API Call via CloudTrail") a little after
the call; an EventBridge rule with an SQS target then delivers it to a queue. moto has no CloudTrail, so the
endpoint records each successful mutating DynamoDB call here, and after `delay` seconds it is put on the default
bus of the caller's account and region, where moto's rules deliver it. The shape is the one ack/trail.py reads.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from moto.events.models import events_backends
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

from ack.trail import DETAIL_TYPE, EVENT_SOURCE, MUTATING_CALLS
from sandbox.aws.rules import Call

log = logging.getLogger(__name__)


class Trail:
    """Records the calls CloudTrail would deliver and publishes each one `delay` seconds later (CloudTrail's lag,
    shortened), each from a daemon timer: a publish never holds up the call, nor the endpoint's exit."""

    def __init__(self, delay: float, account_of: Callable[[Call], str]):
        self.delay = delay
        self.account_of = account_of  # the account moto acts in for the caller's key

    def record(self, call: Call, status: int, user_agent: str) -> None:
        """After a call is answered: a successful (2xx) mutating DynamoDB call is published; anything else is not."""
        if call.service != "dynamodb" or call.operation not in MUTATING_CALLS or not 200 <= status < 300:
            return
        try:
            account = self.account_of(call)
            timer = threading.Timer(self.delay, publish, (account, call.region, event(call, account, user_agent)))
            timer.daemon = True
            timer.start()
        except Exception:  # the call succeeded: its event is lost, as a failed delivery would lose it
            log.exception("no CloudTrail event for %s %s", call.service, call.operation)


def event(call: Call, account: str, user_agent: str) -> dict[str, Any]:
    """CloudTrail's record of `call`, made in `account` with the full `user_agent` of its request."""
    return {
        "eventVersion": "1.08",
        "userIdentity": identity(call.access_key_id or "", account, call.region),
        "eventTime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": EVENT_SOURCE,
        "eventName": call.operation,
        "awsRegion": call.region,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": user_agent,
        # CloudTrail names the request's members in lower camel case (tableName, resourceArn, sSESpecification).
        "requestParameters": {key[:1].lower() + key[1:]: value for key, value in call.params.items()},
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def identity(access_key_id: str, account: str, region: str) -> dict[str, Any]:
    """CloudTrail's userIdentity for a key: the role session moto's STS issued it to, the IAM user it belongs to,
    else the account's root (the sandbox's own key belongs to no user)."""
    partition = get_partition(region)
    if role := sts_backends[account][partition].get_assumed_role_from_access_key(access_key_id):
        principal = role.user_id  # ROLEID:SESSION; moto makes up the role's id when the role does not exist
        issuer = {"type": "Role", "principalId": principal.split(":")[0], "arn": role.role_arn, "accountId": account,
                  "userName": role.role_arn.split("/")[-1]}
        return {"type": "AssumedRole", "principalId": principal, "arn": role.arn, "accountId": account,
                "accessKeyId": access_key_id, "sessionContext": {"sessionIssuer": issuer}}
    if user := iam_backends[account][partition].get_user_from_access_key_id(access_key_id):
        return {"type": "IAMUser", "principalId": user.id, "arn": user.arn, "accountId": account,
                "accessKeyId": access_key_id, "userName": user.name}
    return {"type": "Root", "principalId": account, "arn": f"arn:{partition}:iam::{account}:root",
            "accountId": account, "accessKeyId": access_key_id}


def publish(account: str, region: str, record: dict[str, Any]) -> None:
    """Put `record` on the default bus of `account` in `region`, as CloudTrail does; a failure is logged and the
    event dropped."""
    try:
        entries = events_backends[account][region].put_events(
            [{"Source": "aws.dynamodb", "DetailType": DETAIL_TYPE, "Detail": json.dumps(record)}])
        if failed := [entry for entry in entries if "ErrorCode" in entry]:
            log.error("EventBridge refused the CloudTrail event for %s: %s", record["eventName"], failed)
    except Exception:
        log.exception("could not publish the CloudTrail event for %s", record["eventName"])
