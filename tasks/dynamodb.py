"""DynamoDB as the resource managers see it: read one table (or many at once) or a backup, run one planned call.

Throttling and 5xx answers are retried by botocore's standard retry mode (see tasks.connections); what is
left becomes one of the reconciler's error kinds (ack.errors), and the work queue decides when to come back.
Nothing here waits for a table to change: a reconcile does one round and returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from ack.errors import ReconcileError, RecoverableError, TerminalError, from_aws
from ack.ignore import autoscaled
from ack.model import TableSpec
from ack.normalize import LiveTable, observed_from_aws, with_tags
from ack.resource import TableResource
from ack.tags import owner_of
from ack.plan import Step
from tasks.connections import Target

K = TypeVar("K", bound=Hashable)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _failed(exc: ClientError, action: str) -> ReconcileError:
    error = exc.response.get("Error", {})
    return from_aws(error.get("Code", ""), error.get("Message", ""), action)


def read_live(target: Target, spec: TableSpec, policy: bool = False,
              known_tags: dict[str, list[dict[str, str]]] | None = None) -> LiveTable | None:
    """DescribeTable and the side calls the spec needs (the resource policy also when `policy`); None when the
    table does not exist. `known_tags` (ARN -> tags, from the tagging API's bulk read) spares ListTagsOfResource for
    the tables it names."""
    ddb = target.client("dynamodb")
    name = spec.table_name
    try:
        describe = ddb.describe_table(TableName=name)["Table"]
        arn = describe["TableArn"]
        tags = (known_tags or {}).get(arn)
        if tags is None:
            tags = [tag for page in ddb.get_paginator("list_tags_of_resource").paginate(ResourceArn=arn)
                    for tag in page.get("Tags", [])]
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        # Read only when the spec names them: the fewest calls that suffice.
        insights = (ddb.describe_contributor_insights(TableName=name).get("ContributorInsightsStatus")
                    if spec.contributor_insights else None)
        live_policy = _resource_policy(ddb, arn) if spec.resource_policy or policy else None
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise _failed(exc, "DescribeTable") from None
    except BotoCoreError as exc:  # the endpoint unreachable, a connection lost: past botocore's own retries
        raise RecoverableError("AWSUnreachable", f"DescribeTable: {exc}") from None
    return LiveTable(
        describe=describe,
        observed=observed_from_aws(describe, tags, ttl, backups, insights_status=insights, policy=live_policy),
        owner=owner_of({t["Key"]: t["Value"] for t in tags}),
        autoscaled=autoscaled(_scalable_targets(target, describe)),
    )


def _scalable_targets(target: Target, describe: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's and its indexes' scalable targets in Application Auto Scaling; none to look for on-demand (AWS
    leaves BillingModeSummary out for a table that was always PROVISIONED)."""
    if describe.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") != "PROVISIONED":
        return []
    table = f"table/{describe['TableName']}"
    ids = [table, *(f"{table}/index/{index['IndexName']}" for index in describe.get("GlobalSecondaryIndexes", []))]
    try:
        pages = target.client("application-autoscaling").get_paginator("describe_scalable_targets").paginate(
            ServiceNamespace="dynamodb", ResourceIds=ids)
        return [found for page in pages for found in page["ScalableTargets"]]
    except ClientError as exc:  # never guessed: capacity autoscaling owns must not be reset for want of a read
        raise _failed(exc, "DescribeScalableTargets") from None
    except BotoCoreError as exc:
        raise RecoverableError("AWSUnreachable", f"DescribeScalableTargets: {exc}") from None


def read_backup(target: Target, arn: str) -> dict[str, Any] | None:
    """DescribeBackup's `BackupDescription`; None when no backup has that ARN (deleted, or never made)."""
    try:
        return target.client("dynamodb").describe_backup(BackupArn=arn)["BackupDescription"]
    except ClientError as exc:
        if _code(exc) == "BackupNotFoundException":
            return None
        raise _failed(exc, "DescribeBackup") from None
    except BotoCoreError as exc:
        raise RecoverableError("AWSUnreachable", f"DescribeBackup: {exc}") from None


def _resource_policy(ddb, arn: str) -> str | None:
    try:
        return ddb.get_resource_policy(ResourceArn=arn)["Policy"]
    except ClientError as exc:
        if _code(exc) == "PolicyNotFoundException":
            return None
        raise


def run_step(target: Target, step: Step) -> dict[str, Any] | ReconcileError:
    """One planned DynamoDB call: AWS's answer, or its refusal as the reconcile error of its kind (ack.errors).
    A refusal is an answer, not a crash: the caller decides. Each call is a line in the reconcile's log."""
    logger = get_run_logger()
    logger.info("%s: %s", step.api, step.reason)
    try:
        return getattr(target.client("dynamodb"), xform_name(step.api))(**step.params)
    except ClientError as exc:
        error = _failed(exc, step.api)
    except ParamValidationError as exc:  # refused by botocore before sending: as AWS would, so terminal
        error = TerminalError("InvalidParameter", f"{step.api}: {exc}")
    except BotoCoreError as exc:
        error = RecoverableError("AWSUnreachable", f"{step.api}: {exc}")
    logger.info("%s refused: %s", step.api, error.message)
    return error


# A scan reads again what failed, after these pauses: the SDK's own retries are few (tasks/connections.py), so
# that the controller's failures come back through its queue's backoff instead of holding a worker.
SCAN_RETRY_PAUSES = (1.0, 2.0)


TagsByArn = dict[str, list[dict[str, str]]]


def bulk_tags(target: Target) -> TagsByArn | None:
    """Every DynamoDB table's tags in the target's account and region from the Resource Groups Tagging API, 100
    tables a call (ARN -> tags); None where it is not served or not allowed: the caller reads each table's own.
    Its tags may lag the table's by seconds: a difference found only in them is confirmed before it is acted on."""
    try:
        pages = target.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
            ResourceTypeFilters=["dynamodb:table"], ResourcesPerPage=100)
        return {found["ResourceARN"]: found.get("Tags", []) for page in pages
                for found in page["ResourceTagMappingList"]}
    except (ClientError, BotoCoreError):
        return None


class BulkTags:
    """`bulk_tags` of each account and region, read once for a whole drift run (its checks, then its look for
    unmanaged tables, which confirms each finding with the table's own tags)."""

    def __init__(self) -> None:
        self._read: dict[tuple[str, str | None], TagsByArn | None] = {}
        self._lock = threading.Lock()

    def of(self, target: Target) -> TagsByArn | None:
        place = (target.region, target.role_arn)
        with self._lock:
            if place not in self._read:
                self._read[place] = bulk_tags(target)
            return self._read[place]


@task(cache_policy=NO_CACHE)
def read_tables(places: dict[K, Target], resources: dict[K, TableResource],
                concurrency: int = 16, bulk: BulkTags | None = None) -> dict[K, LiveTable | None | str]:
    """The tables of many resources at once, each where `places` says it is, in one task (a task per table would
    cost more than the reads), with bounded concurrency over pooled clients. Each key maps to the table, None
    (missing) or the error's message. With `bulk`, each place's tags come from the tagging API in pages of 100:
    about 3 reads a table instead of 4."""
    def read_one(key: K) -> LiveTable | None | str:
        place = places[key]
        try:
            return read_live(place, resources[key].spec, resources[key].reads_policy, bulk.of(place) if bulk else None)
        except ReconcileError as exc:
            return exc.message
        except (ClientError, BotoCoreError) as exc:
            return str(exc)

    read: dict[K, LiveTable | None | str] = {}
    todo = list(resources)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for pause in (0.0, *SCAN_RETRY_PAUSES):
            time.sleep(pause)
            read.update(zip(todo, pool.map(read_one, todo)))
            todo = [key for key in todo if isinstance(read[key], str)]
            if not todo:
                break
    return read


def confirm_tags(places: dict[K, Target], lives: dict[K, LiveTable], concurrency: int = 16
                 ) -> dict[K, LiveTable | None | str]:
    """The tables `lives` read with the bulk tags, each with its own tags now (ListTagsOfResource: one read a table,
    `concurrency` at once); None for a table gone meanwhile, or the error's message."""
    def confirm(key: K) -> LiveTable | None | str:
        ddb = places[key].client("dynamodb")
        try:
            pages = ddb.get_paginator("list_tags_of_resource").paginate(ResourceArn=lives[key].observed.arn)
            return with_tags(lives[key], [tag for page in pages for tag in page.get("Tags", [])])
        except ClientError as exc:
            return None if _code(exc) == "ResourceNotFoundException" else str(exc)
        except BotoCoreError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return dict(zip(lives, pool.map(confirm, lives)))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def owned_tables_outside(target: Target, known: set[str], wanted: Callable[[str], bool] = lambda owner: True,
                         bulk: BulkTags | None = None) -> dict[str, str]:
    """Tables in the account, other than `known`, that carry the ownership tag of an owner `wanted` says to look
    for: {table name: owner}. From the tagging API's bulk read where it is served (each such table confirmed with
    its own tags: they may lag; `bulk`: what the run read already), else every other table's own tags."""
    ddb = target.client("dynamodb")

    def owner(arn: str) -> str | None:
        tags = ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
        return owner_of({t["Key"]: t["Value"] for t in tags})

    if (tagged := (bulk or BulkTags()).of(target)) is not None:
        candidates = {arn.rsplit(":table/", 1)[-1]: arn for arn, tags in tagged.items()
                      if (found := owner_of({t["Key"]: t["Value"] for t in tags})) and wanted(found)}
    else:
        names = [n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"]]
        identity = target.client("sts").get_caller_identity()
        partition = identity["Arn"].split(":")[1]
        candidates = {n: f"arn:{partition}:dynamodb:{target.region}:{identity['Account']}:table/{n}" for n in names}
    owned = {}
    for name, arn in candidates.items():
        if name in known:
            continue
        if (found := owner(arn)) and wanted(found):
            owned[name] = found
    return owned