"""The AWS behaviour moto lacks, one small rule object each; plain Python, no HTTP.

The endpoint (server.py) parses every request into a `Call` and, for each rule that names the call's
service and operation, asks `before` (refuse with a `Refusal`, or None to let moto answer) and then
`after` (rewrite moto's successful JSON answer in place). Rules that need moto's own table read it
through `find_table`, the in-process moto object the request is about to touch.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from moto.dynamodb.models.table import Table

Clock = Callable[[], float]
Key = tuple[str, str]  # (region, table name)


@dataclass(frozen=True)
class Call:
    """One request as the rules see it."""

    service: str  # SigV4 signing name: "dynamodb", "kafka", "monitoring", ...
    operation: str  # "" when it could not be told
    region: str = "us-east-1"
    protocol: str = "json"  # json, rest-json, query, ec2, rest-xml or cbor: decides the error shape
    params: dict[str, Any] = field(default_factory=dict)  # JSON body or query/form parameters
    access_key_id: str | None = None
    app: str = ""  # the client's app id (botocore's user_agent_appid), to tell the project's calls apart


@dataclass(frozen=True)
class Refusal:
    """An AWS error answered instead of moto's: `code` without any namespace prefix."""

    code: str
    message: str
    status: int = 400


class Rule:
    """Base of every rule: by default it refuses nothing and rewrites nothing.

    A rule is asked only about the calls it names; most are about DynamoDB's UpdateTable.
    """

    service: ClassVar[str] = "dynamodb"
    operations: ClassVar[frozenset[str]] = frozenset({"UpdateTable"})

    def applies(self, call: Call) -> bool:
        return call.service == self.service and call.operation in self.operations

    def before(self, call: Call) -> Refusal | None:
        return None

    def after(self, call: Call, body: dict[str, Any]) -> None:
        """Rewrite moto's successful answer `body` in place."""

    def request(self, call: Call) -> dict[str, str] | None:
        """The parameters moto is asked instead of the call's (as a form for the query protocol, else as JSON), or
        None to pass them on."""
        return None

    def after_text(self, call: Call, text: str) -> str:
        """Rewrite moto's successful XML answer (query protocol)."""
        return text

    def answer(self, call: Call) -> dict[str, Any] | None:
        """The answer to a call moto does not serve, given instead of asking moto; None to ask moto."""
        return None


FindTable = Callable[[Call], "Table | None"]
FindBackend = Callable[[Call, str], Any]  # moto's DynamoDB backend of the caller's account in a region


def table_key(call: Call) -> Key:
    name = str(call.params.get("TableName", ""))
    # AWS accepts a table ARN wherever a table name goes.
    return call.region, name.rsplit(":table/", 1)[-1]


def description(body: dict[str, Any]) -> dict[str, Any]:
    """The table in an answer: "TableDescription" of Create/Update/DeleteTable, "Table" of DescribeTable."""
    return body.get("Table") or body.get("TableDescription") or {}


def index_changes(call: Call) -> list[tuple[str, str]]:
    """(Create|Delete|Update, IndexName) for each GlobalSecondaryIndexUpdates entry."""
    return [
        (action, spec.get("IndexName", ""))
        for update in call.params.get("GlobalSecondaryIndexUpdates") or []
        for action, spec in update.items()
    ]


# --- Rules 1-3: statuses that take time, and refusals while they do --------------------------------


class TableTimeline:
    """Until when each table is CREATING/UPDATING and each new GSI CREATING: the state behind rules 1-3."""

    def __init__(self, table_delay: float, index_delay: float, clock: Clock = time.monotonic):
        self.table_delay = table_delay
        self.index_delay = index_delay
        self.clock = clock
        self._tables: dict[Key, tuple[str, float]] = {}  # key -> (CREATING|UPDATING, until)
        self._indexes: dict[Key, dict[str, float]] = {}  # key -> {GSI name: CREATING until}

    def created(self, key: Key) -> None:
        self._tables[key] = ("CREATING", self.clock() + self.table_delay)
        self._indexes[key] = {}

    def updated(self, key: Key, delay: float | None = None) -> None:
        until = self.clock() + (self.table_delay if delay is None else delay)
        _, current = self._tables.get(key, ("UPDATING", 0.0))
        self._tables[key] = ("UPDATING", max(until, current))

    def index_created(self, key: Key, index: str) -> None:
        self._indexes.setdefault(key, {})[index] = self.clock() + self.index_delay
        self.updated(key, self.index_delay)  # the table is UPDATING while its new index builds

    def deleted(self, key: Key) -> None:
        self._tables.pop(key, None)
        self._indexes.pop(key, None)

    def table_status(self, key: Key) -> str:
        status, until = self._tables.get(key, ("ACTIVE", 0.0))
        return status if self.clock() < until else "ACTIVE"

    def index_status(self, key: Key, index: str) -> str:
        if self.table_status(key) == "CREATING":
            return "CREATING"  # GSIs named at CreateTable are built with the table
        return "CREATING" if self.clock() < self._indexes.get(key, {}).get(index, 0.0) else "ACTIVE"

    def creating_index(self, key: Key) -> str | None:
        return next((name for name in self._indexes.get(key, {}) if self.index_status(key, name) != "ACTIVE"), None)


class TableStatus(Rule):
    """Rule 1: CREATING after CreateTable, UPDATING after UpdateTable, until the table delay passed; then ACTIVE.

    DeleteTable answers DELETING (moto has deleted the table already).
    """

    operations = frozenset({"CreateTable", "UpdateTable", "DeleteTable", "DescribeTable"})

    def __init__(self, timeline: TableTimeline):
        self.timeline = timeline

    def after(self, call: Call, body: dict[str, Any]) -> None:
        key, table = table_key(call), description(body)
        # AWS's own answers to the three calls always name the new status, whatever the delay.
        if call.operation == "CreateTable":
            self.timeline.created(key)
            table["TableStatus"] = "CREATING"
        elif call.operation == "UpdateTable":
            self.timeline.updated(key)
            table["TableStatus"] = "UPDATING"
        elif call.operation == "DeleteTable":
            self.timeline.deleted(key)
            table["TableStatus"] = "DELETING"
        else:
            table["TableStatus"] = self.timeline.table_status(key)


class IndexStatus(Rule):
    """Rule 2: a GSI added by UpdateTable is CREATING, and its table UPDATING, until the index delay passed."""

    operations = frozenset({"CreateTable", "UpdateTable", "DescribeTable"})

    def __init__(self, timeline: TableTimeline):
        self.timeline = timeline

    def after(self, call: Call, body: dict[str, Any]) -> None:
        key, table = table_key(call), description(body)
        for action, name in index_changes(call):
            if action == "Create":
                self.timeline.index_created(key, name)
        for index in table.get("GlobalSecondaryIndexes") or []:
            index["IndexStatus"] = self.timeline.index_status(key, index["IndexName"])


class OneIndexAtATime(Rule):
    """Rule 3: no GSI is created or deleted while another one is still being built."""

    def __init__(self, timeline: TableTimeline):
        self.timeline = timeline

    def before(self, call: Call) -> Refusal | None:
        if any(action in ("Create", "Delete") for action, _ in index_changes(call)):
            if self.timeline.creating_index(table_key(call)):
                return Refusal(
                    "LimitExceededException",
                    "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
                )
        return None


class NoUpdateWhileBusy(Rule):
    """Rule 3: UpdateTable only on an ACTIVE table."""

    def __init__(self, timeline: TableTimeline):
        self.timeline = timeline

    def before(self, call: Call) -> Refusal | None:
        key = table_key(call)
        status = self.timeline.table_status(key)
        if status == "ACTIVE":
            return None
        doing = "created" if status == "CREATING" else "updated"
        return Refusal(
            "ResourceInUseException",
            f"Attempt to change a resource which is still in use: Table is being {doing}: {key[1]}",
        )


# --- Rule 4 and the cheap validations of rule 7 -----------------------------------------------------


class OneIndexChangePerCall(Rule):
    """Rule 4: one GSI create or delete per UpdateTable call (moto applies several)."""

    def before(self, call: Call) -> Refusal | None:
        if sum(action in ("Create", "Delete") for action, _ in index_changes(call)) > 1:
            return Refusal(
                "ValidationException",
                "One or more parameter values were invalid: Only one global secondary index update is allowed "
                "per UpdateTable call",
            )
        return None


class NothingToUpdate(Rule):
    """UpdateTable that changes nothing is refused by AWS (moto accepts it)."""

    def before(self, call: Call) -> Refusal | None:
        if set(call.params) - {"TableName", "AttributeDefinitions"}:
            return None
        return Refusal(
            "ValidationException",
            "1 validation error detected: At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
            "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        )


class NoThroughputOnDemand(Rule):
    """ProvisionedThroughput on a PAY_PER_REQUEST table only together with the switch to PROVISIONED."""

    def __init__(self, find_table: FindTable):
        self.find_table = find_table

    def before(self, call: Call) -> Refusal | None:
        table = self.find_table(call)
        if "ProvisionedThroughput" not in call.params or table is None:
            return None
        if call.params.get("BillingMode", table.billing_mode) != "PAY_PER_REQUEST":
            return None
        return Refusal(
            "ValidationException",
            "One or more parameter values were invalid: ProvisionedThroughput cannot be specified when BillingMode "
            "is PAY_PER_REQUEST",
        )


class ChangeRateLimits(Rule):
    """AWS's own rate limits: a table's Time to Live changes at most once per `ttl_window` (an hour on AWS),
    and it switches to PROVISIONED at most once per `billing_window` (24 hours on AWS)."""

    operations = frozenset({"UpdateTable", "UpdateTimeToLive"})

    def __init__(self, ttl_window: float, billing_window: float, find_table: FindTable,
                 clock: Clock = time.monotonic):
        self.windows = {"UpdateTimeToLive": ttl_window, "UpdateTable": billing_window}
        self.find_table = find_table
        self.clock = clock
        self._last: dict[tuple[str, Key], float] = {}  # (operation, table) -> when it last changed

    def _limited(self, call: Call) -> bool:
        if call.operation == "UpdateTimeToLive":
            return True
        table = self.find_table(call)
        return call.params.get("BillingMode") == "PROVISIONED" and table is not None \
            and table.billing_mode == "PAY_PER_REQUEST"

    def before(self, call: Call) -> Refusal | None:
        if not self._limited(call):
            return None
        key, now = (call.operation, table_key(call)), self.clock()
        if key in self._last and now < self._last[key] + self.windows[call.operation]:
            if call.operation == "UpdateTimeToLive":
                return Refusal("ValidationException", "Time to live has been modified multiple times within a "
                                                      "fixed interval")
            return Refusal("LimitExceededException", "Subscriber limit exceeded: a switch to PROVISIONED billing "
                                                     "mode is allowed once every 24 hours")
        self._last[key] = now  # asked after every other refusal: this call goes through
        return None


class MissingIndex(Rule):
    """Deleting or updating a GSI the table does not have: AWS says ResourceNotFound, moto fails with HTTP 500."""

    def __init__(self, find_table: FindTable):
        self.find_table = find_table

    def before(self, call: Call) -> Refusal | None:
        table = self.find_table(call)
        if table is None:
            return None
        names = {index.name for index in table.global_indexes}
        for action, name in index_changes(call):
            if action in ("Delete", "Update") and name not in names:
                return Refusal(
                    "ResourceNotFoundException",
                    f"Requested resource not found: Table: {table.name} Index: {name} not found",
                )
        return None


# --- Rule 5: table class and SSE as set --------------------------------------------------------------


def kms_key_arn(key: str | None, region: str, account: str) -> str:
    """The key ARN AWS reports for `key` (id, ARN, alias or None for the AWS managed key).

    The sandbox has no KMS behind DynamoDB, so an alias maps to a made-up but stable key id.
    """
    if key is None:
        alias = "alias/aws/dynamodb"
    elif ":key/" in key:
        return key
    elif "alias/" in key:
        alias = "alias/" + key.split("alias/", 1)[1]  # an alias name or an alias ARN
    else:
        return f"arn:aws:kms:{region}:{account}:key/{key}"
    return f"arn:aws:kms:{region}:{account}:key/{uuid.uuid5(uuid.NAMESPACE_URL, f'{account}/{region}/{alias}')}"


class TableClassAndSse(Rule):
    """Rule 5: TableClassSummary and SSEDescription as CreateTable and UpdateTable set them (moto ignores updates)."""

    operations = frozenset({"CreateTable", "UpdateTable", "DescribeTable", "DeleteTable"})

    def __init__(self) -> None:
        self._class: dict[Key, str] = {}
        self._sse: dict[Key, dict[str, str] | None] = {}

    def after(self, call: Call, body: dict[str, Any]) -> None:
        key, table = table_key(call), description(body)
        if call.operation == "DeleteTable":
            self._class.pop(key, None)
            self._sse.pop(key, None)
            return
        if call.operation == "CreateTable":
            self._sse[key] = None
        if "TableClass" in call.params:
            self._class[key] = call.params["TableClass"]
        if "SSESpecification" in call.params:
            self._sse[key] = self._describe_sse(call.params["SSESpecification"], table["TableArn"])
        if key in self._class:
            table["TableClassSummary"] = {"TableClass": self._class[key]}
        if key not in self._sse:
            return  # a table this endpoint did not create: leave moto's answer
        if self._sse[key] is None:
            table.pop("SSEDescription", None)  # AWS-owned key: AWS reports no SSEDescription
        else:
            table["SSEDescription"] = self._sse[key]

    @staticmethod
    def _describe_sse(spec: dict[str, Any], table_arn: str) -> dict[str, str] | None:
        if not spec.get("Enabled"):
            return None
        _, _, _, region, account, _ = table_arn.split(":", 5)
        key_arn = kms_key_arn(spec.get("KMSMasterKeyId"), region, account)
        return {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key_arn}


class OnDemandLimits(Rule):
    """Rule 5: OnDemandThroughput of the table and its GSIs as CreateTable and UpdateTable set them (moto
    ignores it). An update names only the limits it changes; -1 (no limit) is reported as given."""

    operations = frozenset({"CreateTable", "UpdateTable", "DescribeTable", "DeleteTable"})

    def __init__(self) -> None:
        self._limits: dict[Key, dict[str | None, dict[str, int]]] = {}  # key -> {GSI name, or None: limits}

    def after(self, call: Call, body: dict[str, Any]) -> None:
        key, table = table_key(call), description(body)
        if call.operation == "DeleteTable":
            self._limits.pop(key, None)
            return
        if call.operation == "CreateTable":
            self._limits[key] = {}
            for index in call.params.get("GlobalSecondaryIndexes") or []:
                self._set(key, index.get("IndexName"), index.get("OnDemandThroughput"))
        self._set(key, None, call.params.get("OnDemandThroughput"))
        for update in call.params.get("GlobalSecondaryIndexUpdates") or []:
            for action, index in update.items():
                if action == "Delete":
                    self._limits.get(key, {}).pop(index.get("IndexName"), None)
                else:
                    self._set(key, index.get("IndexName"), index.get("OnDemandThroughput"))
        limits = self._limits.get(key, {})
        if None in limits:
            table["OnDemandThroughput"] = dict(limits[None])
        for index in table.get("GlobalSecondaryIndexes") or []:
            if index.get("IndexName") in limits:
                index["OnDemandThroughput"] = dict(limits[index["IndexName"]])

    def _set(self, key: Key, index: str | None, limits: dict[str, int] | None) -> None:
        if limits:
            self._limits.setdefault(key, {}).setdefault(index, {}).update(limits)


# --- Rule 5b: contributor insights, which moto does not serve ------------------------------------------


class ContributorInsights(Rule):
    """Describe/UpdateContributorInsights for a table or one of its GSIs: ENABLING (DISABLING) after an update,
    ENABLED (DISABLED) once the table delay passed; DISABLED until first enabled. Deleting the table forgets it."""

    operations = frozenset({"UpdateContributorInsights", "DescribeContributorInsights", "DeleteTable"})

    def __init__(self, delay: float, find_table: FindTable, clock: Clock = time.monotonic):
        self.delay = delay
        self.find_table = find_table
        self.clock = clock
        self._state: dict[tuple[Key, str], tuple[str, float, float]] = {}  # (key, index) -> (action, until, at)

    def before(self, call: Call) -> Refusal | None:
        if call.operation == "DeleteTable":
            return None
        table = self.find_table(call)
        if table is None:
            return Refusal("ResourceNotFoundException", f"Requested resource not found: Table: {table_key(call)[1]} "
                                                        "not found")
        index = call.params.get("IndexName")
        if index and index not in {i.name for i in table.global_indexes}:
            return Refusal("ResourceNotFoundException",
                           f"Requested resource not found: Table: {table.name} Index: {index} not found")
        action = call.params.get("ContributorInsightsAction")
        if call.operation == "UpdateContributorInsights" and action not in ("ENABLE", "DISABLE"):
            return Refusal("ValidationException", f"1 validation error detected: Value '{action}' at "
                                                  "'contributorInsightsAction' failed to satisfy constraint: Member "
                                                  "must satisfy enum value set: [ENABLE, DISABLE]")
        return None

    def after(self, call: Call, body: dict[str, Any]) -> None:  # DeleteTable
        key = table_key(call)
        for state in [state for state in self._state if state[0] == key]:
            del self._state[state]

    def answer(self, call: Call) -> dict[str, Any] | None:
        if call.operation == "DeleteTable":
            return None
        key, index = table_key(call), str(call.params.get("IndexName", ""))
        if call.operation == "UpdateContributorInsights":
            now = self.clock()
            self._state[(key, index)] = (call.params["ContributorInsightsAction"], now + self.delay, now)
        action, until, at = self._state.get((key, index), ("DISABLE", 0.0, 0.0))
        status = ("ENABL" if action == "ENABLE" else "DISABL") + ("ING" if self.clock() < until else "ED")
        answer: dict[str, Any] = {"TableName": key[1], "ContributorInsightsStatus": status}
        if index:
            answer["IndexName"] = index
        if call.operation == "DescribeContributorInsights":
            answer["ContributorInsightsRuleList"] = [f"DynamoDBContributorInsights-{kind}-{key[1]}-{at:.0f}"
                                                     for kind in ("PKC", "SKC", "PKT", "SKT")] \
                if status == "ENABLED" else []
            if at:
                answer["LastUpdateDateTime"] = time.time() - (self.clock() - at)
        return answer


# --- Rule 5d: on-demand backups, which moto makes at once from any table --------------------------------------


class Backups(Rule):
    """CreateBackup, DescribeBackup and DeleteBackup as AWS answers them. CreateBackup is refused while the table is
    CREATING (TableInUseException) and for a missing table (TableNotFoundException); a new backup is CREATING until
    the table delay passed, then AVAILABLE (moto: AVAILABLE at once); DeleteBackup is refused while it is CREATING
    (BackupInUseException); an unknown ARN is BackupNotFoundException (moto: an HTTP 500)."""

    operations = frozenset({"CreateBackup", "DescribeBackup", "DeleteBackup"})

    def __init__(self, timeline: TableTimeline, find_table: FindTable, backend: FindBackend,
                 clock: Clock = time.monotonic):
        self.timeline = timeline
        self.find_table = find_table
        self.backend = backend
        self.clock = clock
        self._creating: dict[str, float] = {}  # backup ARN -> CREATING until

    def _status(self, arn: str) -> str:
        return "CREATING" if self.clock() < self._creating.get(arn, 0.0) else "AVAILABLE"

    def before(self, call: Call) -> Refusal | None:
        if call.operation == "CreateBackup":
            name = table_key(call)[1]
            if self.find_table(call) is None:
                return Refusal("TableNotFoundException", f"Table not found: {name}")
            if self.timeline.table_status(table_key(call)) == "CREATING":
                return Refusal("TableInUseException", f"Table is being created: {name}")
            return None
        arn = str(call.params.get("BackupArn", ""))
        if arn not in self.backend(call, call.region).backups:
            return Refusal("BackupNotFoundException", f"Backup not found: {arn}")
        if call.operation == "DeleteBackup" and self._status(arn) == "CREATING":
            return Refusal("BackupInUseException", f"Backup is being created: {arn}")
        return None

    def after(self, call: Call, body: dict[str, Any]) -> None:
        details = body.get("BackupDetails") or (body.get("BackupDescription") or {}).get("BackupDetails") or {}
        arn = str(details.get("BackupArn", ""))
        if call.operation == "CreateBackup":
            self._creating[arn] = self.clock() + self.timeline.table_delay
        if call.operation == "DeleteBackup":
            self._creating.pop(arn, None)  # moto answers DELETED
        else:
            details["BackupStatus"] = self._status(arn)


# --- Rule 5c: replicas (global tables, version 2019.11.21), which moto does not serve -----------------


class Replicas(Rule):
    """UpdateTable's ReplicaUpdates: a replica is a table of the same name in another region, CREATING (or UPDATING,
    DELETING) until the table delay passed, one replica change at a time, and only on a table whose stream is
    NEW_AND_OLD_IMAGES. DescribeTable lists them as AWS does. moto is asked the rest of the call without them.
    A deleted table forgets its replicas, whose tables stay in their regions, as on AWS."""

    operations = frozenset({"UpdateTable", "DescribeTable", "DeleteTable"})
    STREAM_NEEDED = ("Table must have DynamoDB Streams enabled with StreamViewType set to NEW_AND_OLD_IMAGES to "
                     "add or update replicas")

    def __init__(self, delay: float, find_table: FindTable, backend: FindBackend, clock: Clock = time.monotonic):
        self.delay = delay
        self.find_table = find_table
        self.backend = backend
        self.clock = clock
        self._replicas: dict[Key, dict[str, dict[str, Any]]] = {}  # key -> region -> AWS's replica description
        self._busy: dict[tuple[Key, str], tuple[str, float]] = {}  # (key, region) -> (status, until)

    def _status(self, key: Key, region: str) -> str:
        status, until = self._busy.get((key, region), ("ACTIVE", 0.0))
        return status if self.clock() < until else "ACTIVE"

    def before(self, call: Call) -> Refusal | None:
        updates = call.params.get("ReplicaUpdates")
        table = self.find_table(call)
        if call.operation != "UpdateTable" or not updates or table is None:
            return None
        key = table_key(call)
        if len(updates) != 1 or len(updates[0]) != 1:
            return Refusal("ValidationException", "One or more parameter values were invalid: only one replica "
                                                  "update is allowed per UpdateTable call")
        [(action, replica)] = updates[0].items()
        region = str(replica.get("RegionName", ""))
        replicas = self._replicas.get(key, {})
        if busy := next((r for r in replicas if self._status(key, r) != "ACTIVE"), None):
            return Refusal("LimitExceededException", f"Subscriber limit exceeded: the replica in {busy} is "
                                                     f"{self._status(key, busy)}: one replica change at a time")
        if region == call.region:
            return Refusal("ValidationException", f"Cannot add a replica in the table's own region {region}")
        if action in ("Create", "Update"):
            stream = table.stream_specification or {}
            if not (stream.get("StreamEnabled") and stream.get("StreamViewType") == "NEW_AND_OLD_IMAGES"):
                return Refusal("ValidationException", self.STREAM_NEEDED)
        if action == "Create" and (region in replicas or table.name in self.backend(call, region).tables):
            return Refusal("ValidationException", f"Failed to create a the new replica of table with name: "
                                                  f"'{table.name}' because one or more replicas already existed as "
                                                  f"tables.")
        if action in ("Update", "Delete") and region not in replicas:
            return Refusal("ValidationException", f"Update global table operation failed because of invalid replica: "
                                                  f"{region} is not a replica of {table.name}")
        return None

    def request(self, call: Call) -> dict[str, Any] | None:
        if "ReplicaUpdates" not in call.params:
            return None
        return {key: value for key, value in call.params.items() if key != "ReplicaUpdates"}

    def after(self, call: Call, body: dict[str, Any]) -> None:
        key, table = table_key(call), description(body)
        if call.operation == "DeleteTable":
            self._replicas.pop(key, None)
            return
        for update in call.params.get("ReplicaUpdates") or []:
            for action, replica in update.items():
                self._apply(call, key, action, replica)
        replicas = self._replicas.get(key, {})
        for region in [r for r in replicas if replicas[r]["ReplicaStatus"] == "DELETING"
                       and self._status(key, r) == "ACTIVE"]:
            del replicas[region]  # deleted
        for region, replica in replicas.items():
            replica["ReplicaStatus"] = self._status(key, region)
        if replicas:
            table["Replicas"] = [dict(replica) for replica in replicas.values()]

    def _apply(self, call: Call, key: Key, action: str, replica: dict[str, Any]) -> None:
        region = replica["RegionName"]
        source = self.find_table(call)
        self._busy[(key, region)] = ({"Create": "CREATING", "Update": "UPDATING"}.get(action, "DELETING"),
                                     self.clock() + self.delay)
        if action == "Delete":
            self._replicas[key][region]["ReplicaStatus"] = "DELETING"
            self.backend(call, region).tables.pop(source.name, None)
            return
        described = {"RegionName": region, "ReplicaStatus": "CREATING"}
        for name in ("KMSMasterKeyId", "ProvisionedThroughputOverride", "GlobalSecondaryIndexes"):
            if name in replica:
                described[name] = replica[name]
        if "TableClassOverride" in replica:
            described["ReplicaTableClassSummary"] = {"TableClass": replica["TableClassOverride"]}
        self._replicas.setdefault(key, {})[region] = {**self._replicas.get(key, {}).get(region, {}), **described}
        if action == "Create":  # the same table, in the replica's region
            shape = source.describe(base_key="Table")["Table"]
            self.backend(call, region).create_table(
                source.name, schema=shape["KeySchema"], throughput=shape.get("ProvisionedThroughput"),
                attr=shape["AttributeDefinitions"], global_indexes=shape.get("GlobalSecondaryIndexes"),
                indexes=shape.get("LocalSecondaryIndexes"), streams=shape.get("StreamSpecification"),
                billing_mode=shape.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
                sse_specification=None, tags=[], deletion_protection_enabled=False, warm_throughput=None)


# --- Rule 6: MSK clusters become ACTIVE --------------------------------------------------------------


class MskActivation(Rule):
    """Rule 6: an MSK cluster is CREATING until the MSK delay passed, then ACTIVE (moto: CREATING forever)."""

    service = "kafka"
    operations = frozenset(
        {"CreateCluster", "CreateClusterV2", "DescribeCluster", "DescribeClusterV2", "ListClusters", "ListClustersV2"}
    )

    def __init__(self, delay: float, clock: Clock = time.monotonic):
        self.delay = delay
        self.clock = clock
        self._ready_at: dict[str, float] = {}

    def after(self, call: Call, body: dict[str, Any]) -> None:
        if call.operation.startswith("CreateCluster"):
            self._ready_at[body["clusterArn"]] = self.clock() + self.delay
            return
        for info in self._cluster_infos(body):
            if info.get("state") == "CREATING" and self.clock() >= self._ready_at.get(info.get("clusterArn"), math.inf):
                info["state"] = "ACTIVE"

    @staticmethod
    def _cluster_infos(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if "clusterInfo" in body:
            yield body["clusterInfo"]
        yield from body.get("clusterInfoList") or []


# --- Rule 7: moto's stream bugs ----------------------------------------------------------------------


def _stream_enabled(table: Table) -> bool:
    return bool((table.stream_specification or {}).get("StreamEnabled"))


class StreamReenable(Rule):
    """Enabling a stream again after disabling it: moto refuses because the old stream's label stays set.

    It changes moto's table before the call, so it must come after every rule that can refuse.
    """

    def __init__(self, find_table: FindTable):
        self.find_table = find_table

    def before(self, call: Call) -> Refusal | None:
        table = self.find_table(call)
        if (call.params.get("StreamSpecification") or {}).get("StreamEnabled") and table is not None:
            if not _stream_enabled(table):
                table.latest_stream_label = None  # the check moto makes; it sets a new label when enabling
        return None


class StreamDisableDropsShard(Rule):
    """After a stream is disabled moto keeps its shard, and every write then fails with HTTP 500."""

    def __init__(self, find_table: FindTable):
        self.find_table = find_table

    def after(self, call: Call, body: dict[str, Any]) -> None:
        spec = call.params.get("StreamSpecification")
        table = self.find_table(call)
        if spec is not None and not spec.get("StreamEnabled") and table is not None and not _stream_enabled(table):
            table.stream_shard = None  # writes record nothing, as on AWS once the stream is off


# --- Rule 8: DocumentDB on moto's RDS ------------------------------------------------------------------


class DocumentDb(Rule):
    """DocumentDB is served by the RDS API with Engine `docdb`, which moto refuses ("Engine 'docdb' is not
    supported"). moto is asked for a Neptune cluster (the other engine of that API family it knows), and its
    answers about the clusters and instances made that way say `docdb` again."""

    service = "rds"
    operations = frozenset({"CreateDBCluster", "CreateDBInstance", "DescribeDBClusters", "DescribeDBInstances",
                            "DeleteDBCluster", "DeleteDBInstance", "ModifyDBCluster", "ModifyDBInstance"})
    _MEMBER = re.compile(r"<(DBCluster|DBInstance)>.*?</\1>", re.S)
    _IDENTIFIER = re.compile(r"<(?:DBClusterIdentifier|DBInstanceIdentifier)>([^<]+)</")

    def __init__(self) -> None:
        self._made: set[str] = set()  # identifiers of the clusters and instances made as docdb

    def request(self, call: Call) -> dict[str, str] | None:
        if call.params.get("Engine") != "docdb":
            return None
        key = "DBClusterIdentifier" if call.operation == "CreateDBCluster" else "DBInstanceIdentifier"
        self._made.add(str(call.params.get(key, "")))
        return {**call.params, "Engine": "neptune"}

    def after_text(self, call: Call, text: str) -> str:
        def relabel(member: re.Match[str]) -> str:
            found = self._IDENTIFIER.search(member.group(0))
            if found is None or found.group(1) not in self._made:
                return member.group(0)
            return member.group(0).replace("<Engine>neptune</Engine>", "<Engine>docdb</Engine>")

        return self._MEMBER.sub(relabel, text)


def default_rules(
    table_delay: float, index_delay: float, msk_delay: float, find_table: FindTable, backend: FindBackend,
    clock: Clock = time.monotonic, ttl_window: float = 3600.0, billing_window: float = 86400.0,
) -> list[Rule]:
    """All rules in the order they are asked: refusals that only validate first, the one that changes moto last."""
    timeline = TableTimeline(table_delay, index_delay, clock)
    return [
        NothingToUpdate(),
        OneIndexChangePerCall(),
        NoThroughputOnDemand(find_table),
        MissingIndex(find_table),
        OneIndexAtATime(timeline),
        NoUpdateWhileBusy(timeline),
        Replicas(table_delay, find_table, backend, clock),
        ChangeRateLimits(ttl_window, billing_window, find_table, clock),  # the last refusal: it records
        StreamReenable(find_table),
        TableStatus(timeline),
        IndexStatus(timeline),
        TableClassAndSse(),
        OnDemandLimits(),
        ContributorInsights(table_delay, find_table, clock),
        Backups(timeline, find_table, backend, clock),
        StreamDisableDropsShard(find_table),
        MskActivation(msk_delay, clock),
        DocumentDb(),
    ]
