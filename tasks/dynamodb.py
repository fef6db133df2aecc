"""DynamoDB as the Table resource manager sees it: read one table, run a planned call, wait until settled.

Throttling and 5xx answers are retried by botocore's standard retry mode (see tasks.connections);
what is left is turned into the reconciler's error kinds (ack.errors).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError, WaiterError
from botocore.waiter import WaiterModel, create_waiter_with_client
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ack.errors import ReconcileError, Recoverable, Terminal, from_aws
from ack.model import OWNER_TAG, TableSpec
from ack.normalize import Observed, observed_from_aws
from ack.plan import Step
from tasks.connections import Target

# A table is settled when it and all its indexes and replicas are ACTIVE: only then does AWS take
# another update. botocore's own TableExists waiter looks at the table alone.
_WAITERS = WaiterModel(
    {
        "version": 2,
        "waiters": {
            "TableSettled": {
                "operation": "DescribeTable",
                "delay": 1,
                "maxAttempts": 10,
                "acceptors": [
                    {
                        "matcher": "path",
                        "state": "success",
                        "expected": True,
                        "argument": "Table.TableStatus == 'ACTIVE'"
                        " && length((Table.GlobalSecondaryIndexes || `[]`)[?IndexStatus != 'ACTIVE']) == `0`"
                        " && length((Table.Replicas || `[]`)[?ReplicaStatus != 'ACTIVE']) == `0`",
                    },
                    {"matcher": "error", "state": "failure", "expected": "ResourceNotFoundException"},
                ],
            }
        },
    }
)
PROGRESS_EVERY_SECONDS = 10


@dataclass(frozen=True)
class LiveTable:
    """A table as read from AWS: DescribeTable's answer, the same as a spec, and who owns it."""

    describe: dict[str, Any]
    observed: Observed
    owner: str | None  # the OWNER_TAG value: "namespace/name" of the resource that manages it

    @property
    def name(self) -> str:
        return self.describe["TableName"]


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _failed(exc: ClientError, action: str) -> Exception:
    error = exc.response.get("Error", {})
    return from_aws(error.get("Code", ""), error.get("Message", ""), action)


def transient(task, task_run, state) -> bool:
    """Prefect retries a call only for failures that may pass soon (throttling or 5xx that outlasted
    botocore's own retries); busy tables and rate limits are the reconcile loop's to wait for."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, Recoverable) and exc.reason not in ("Busy", "RetryLater", "Timeout", "TableMissing")


def read_live(target: Target, spec: TableSpec) -> LiveTable | None:
    """DescribeTable and the side calls the spec needs; None when the table does not exist."""
    ddb = target.client("dynamodb")
    name = spec.table_name
    try:
        describe = ddb.describe_table(TableName=name)["Table"]
        arn = describe["TableArn"]
        tags = [tag for page in ddb.get_paginator("list_tags_of_resource").paginate(ResourceArn=arn)
                for tag in page.get("Tags", [])]
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        # Read only when the spec names them: the fewest calls that suffice.
        insights = (ddb.describe_contributor_insights(TableName=name).get("ContributorInsightsStatus")
                    if spec.contributor_insights else None)
        policy = _resource_policy(ddb, arn) if spec.resource_policy else None
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise _failed(exc, "DescribeTable") from None
    return LiveTable(
        describe=describe,
        observed=observed_from_aws(describe, tags, ttl, backups, insights_status=insights, policy=policy),
        owner=next((t["Value"] for t in tags if t["Key"] == OWNER_TAG), None),
    )


read_table = task(read_live, name="read_table", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2,
                  retry_condition_fn=transient)


def _resource_policy(ddb, arn: str) -> str | None:
    try:
        return ddb.get_resource_policy(ResourceArn=arn)["Policy"]
    except ClientError as exc:
        if _code(exc) == "PolicyNotFoundException":
            return None
        raise


@task(cache_policy=NO_CACHE, task_run_name="{step.api}: {step.reason}", retries=2, retry_delay_seconds=2,
      retry_condition_fn=transient)
def run_step(target: Target, step: Step) -> dict[str, Any]:
    """One planned DynamoDB call; AWS's refusal becomes Terminal (invalid) or Recoverable (busy, failing)."""
    get_run_logger().info("%s: %s", step.api, step.reason)
    try:
        return getattr(target.client("dynamodb"), xform_name(step.api))(**step.params)
    except ClientError as exc:
        raise _failed(exc, step.api) from None
    except ParamValidationError as exc:  # refused by botocore before sending: as AWS would, so terminal
        raise Terminal("InvalidParameter", f"{step.api}: {exc}") from None


@task(cache_policy=NO_CACHE)
def wait_until_settled(target: Target, table_name: str, timeout_seconds: float, poll_seconds: float) -> bool:
    """Wait until the table and its indexes are ACTIVE (True), or it is gone (False); progress is logged."""
    waiter = create_waiter_with_client("TableSettled", _WAITERS, target.client("dynamodb"))
    attempts = max(1, round(PROGRESS_EVERY_SECONDS / poll_seconds))
    started = time.monotonic()
    while True:
        try:
            waiter.wait(TableName=table_name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": attempts})
            return True
        except WaiterError as exc:
            if "ResourceNotFoundException" in str(exc.last_response.get("Error", {}).get("Code", "")):
                return False
            if "Error" in exc.last_response:  # an answer that is neither settled nor busy: stop waiting
                error = exc.last_response["Error"]
                raise from_aws(error.get("Code", ""), error.get("Message", ""), "DescribeTable") from None
            waited = time.monotonic() - started
            state = _busy_parts(exc.last_response.get("Table", {}))
            if waited >= timeout_seconds:
                raise Recoverable("Timeout", f"{table_name} is still {state} after {waited:.0f} s") from None
            get_run_logger().info("waiting for %s: %s (%.0f s)", table_name, state, waited)


@task(cache_policy=NO_CACHE)
def wait_until_gone(target: Target, table_name: str, timeout_seconds: float, poll_seconds: float) -> None:
    waiter = target.client("dynamodb").get_waiter("table_not_exists")
    try:
        waiter.wait(TableName=table_name, WaiterConfig={"Delay": poll_seconds,
                                                        "MaxAttempts": max(1, round(timeout_seconds / poll_seconds))})
    except WaiterError:
        raise Recoverable("Timeout", f"{table_name} still exists after {timeout_seconds:.0f} s") from None


def _busy_parts(table: dict[str, Any]) -> str:
    parts = [f"table {table.get('TableStatus', '?')}"]
    parts += [f"index {i['IndexName']} {i.get('IndexStatus')}" for i in table.get("GlobalSecondaryIndexes", [])
              if i.get("IndexStatus") != "ACTIVE"]
    return ", ".join(parts)


@task(cache_policy=NO_CACHE)
def read_tables(target: Target, specs: dict[str, TableSpec], concurrency: int = 16) -> dict[str, LiveTable | None | str]:
    """Many tables at once, in one task (a task per table would cost more than the reads), with bounded
    concurrency over one pooled client. Each key maps to the table, None (missing) or the error's message."""
    def read_one(spec: TableSpec) -> LiveTable | None | str:
        try:
            return read_live(target, spec)
        except ReconcileError as exc:
            return exc.message
        except (ClientError, BotoCoreError) as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return dict(zip(specs, pool.map(read_one, specs.values())))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def owned_tables_outside(target: Target, known: set[str]) -> dict[str, str]:
    """Tables in the account, other than `known`, that carry the ownership tag: {table name: owner}."""
    ddb = target.client("dynamodb")
    names = [n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"] if n not in known]
    if not names:
        return {}
    identity = target.client("sts").get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    owned = {}
    for name in names:
        arn = f"arn:{partition}:dynamodb:{target.region}:{identity['Account']}:table/{name}"
        tags = ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
        owner = next((t["Value"] for t in tags if t["Key"] == OWNER_TAG), None)
        if owner:
            owned[name] = owner
    return owned
