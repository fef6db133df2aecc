"""The API calls of one reconcile round, in the order and under the rules AWS imposes.

The reconciler loops: read the table, `delta`, `plan`, run the round's steps (waiting for the table
and its indexes to be ACTIVE after each), and again until the delta is empty. A round follows
docs/ack-table.md ("Updating: one round, in AWS's order"):

 1. tags (UntagResource, TagResource) and the resource policy;
 2. nothing else differs: done;  3. the table or an index busy: wait;
 4. Time to Live;  5. encryption;  6. index deletions, one per call;
 7. billing mode, table class and deletion protection in one call (a switch to PROVISIONED carries
    every index's throughput);  8. point-in-time recovery, contributor insights;
 9. index throughput, one per call;
10. then one of: stream change, table throughput, on-demand throughput, one index creation (never in a
    round that deletes an index), one replica change.

Changes no call can make (key schema, local indexes, table name, a key attribute's type) are returned
as `replacements`, and then nothing is planned: the table is left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ack.delta import Difference
from ack.tags import is_user_tag
from ack.model import (
    GlobalSecondaryIndex,
    KeySchemaElement,
    OnDemandThroughput,
    Projection,
    ProvisionedThroughput,
    Replica,
    TableSpec,
)
from ack.normalize import Observed
from ack.validate import Problem, replacements

_TERMINAL_STATUSES = ("DELETING", "ARCHIVING", "ARCHIVED", "INACCESSIBLE_ENCRYPTION_CREDENTIALS")
_SIDE_FIELDS = {"tags", "resourcePolicy"}  # changed by their own calls, whatever the table's status
# Fields that one call each puts right whole, the table staying ACTIVE: a round of these alone ends in sync.
_ONE_CALL_FIELDS = {*_SIDE_FIELDS, "continuousBackups", "contributorInsights"}


@dataclass(frozen=True)
class Step:
    """One DynamoDB call: `api` is the operation, `params` its boto3 keyword arguments."""

    api: str
    params: dict[str, Any]
    reason: str
    destructive: bool = False  # destroys something the spec does not name: not for drift without opt-in


@dataclass(frozen=True)
class Plan:
    """One round: the steps to run in order, or why nothing (more) can be done now."""

    steps: list[Step] = field(default_factory=list)
    replacements: list[Problem] = field(default_factory=list)  # needs a new table: report, never act
    refused: list[Step] = field(default_factory=list)  # destructive steps left out (allow_destructive=False)
    wait: str = ""  # AWS is busy: read again later
    terminal: str = ""  # the table cannot be changed at all
    complete: bool = False  # once the steps succeed, nothing differs: no need to read the table again


def plan(
    differences: list[Difference], observed: Observed, desired: TableSpec, *, allow_destructive: bool = True,
    known_indexes: frozenset[str] = frozenset(), known_replicas: frozenset[str] = frozenset(),
) -> Plan:
    """This round's steps for a validated `desired` spec, given the delta against `observed`.

    Deleting an index the spec does not name is destructive (refused unless `allow_destructive`), except
    for the `known_indexes`: those an applied spec named before, which the user has since removed. The same for
    replicas and `known_replicas` (regions)."""
    if not differences:
        return Plan()
    if replace := replacements(differences, observed.spec):
        return Plan(replacements=replace)
    status = observed.table_status
    if status in _TERMINAL_STATUSES:
        return Plan(terminal=f"the table is {status}: it cannot be changed")
    if status == "CREATING":
        return Plan(wait="the table is CREATING")
    round_ = _Round(differences, observed, desired, known_indexes, known_replicas)
    steps = round_.tags() + round_.policy()
    if not round_.fields - _SIDE_FIELDS:
        return Plan(steps, complete=True)
    if waiting := busy(observed):
        return Plan(steps, wait=waiting)

    def permitted(step: Step) -> bool:
        return allow_destructive or not step.destructive

    deletions = round_.index_deletions()
    steps += round_.ttl() + round_.encryption() + deletions + round_.table_settings()
    steps += round_.backups() + round_.insights() + round_.index_throughput()
    # An index being deleted is not ACTIVE, and AWS creates one only when all are: create later.
    steps += round_.one_more(creation_allowed=not any(map(permitted, deletions)))
    refused = [s for s in steps if not permitted(s)]
    one_call = _ONE_CALL_FIELDS | ({"timeToLive"} if round_.ttl_in_one_call() else set())
    return Plan([s for s in steps if permitted(s)], refused=refused,
                complete=not refused and not round_.fields - one_call)


def delete_table(observed: Observed, desired: TableSpec | None = None) -> Plan:
    """The deletion of the table (the resource was deleted and its deletion policy is `delete`).

    A protected table is deleted only once the resource's spec (`desired`) turns the protection off, as
    the terminal message asks: then the protection goes first (wait for the table before deleting it)."""
    if observed.table_status == "DELETING":
        return Plan(wait="the table is DELETING")
    name = observed.spec.table_name
    if busy_replica := next((f"the replica in {region} is {status}" for region, status in
                             observed.replica_status.items() if status != "ACTIVE"), ""):
        return Plan(wait=busy_replica)
    if observed.spec.table_replicas:  # AWS deletes a table only without replicas: one region per round, as ACK
        region = observed.spec.table_replicas[0].region_name
        return Plan([Step("UpdateTable", {"TableName": name, "ReplicaUpdates": [{"Delete": {"RegionName": region}}]},
                          f"delete the replica in {region} before the table", destructive=True)])
    steps = [Step("DeleteTable", {"TableName": name}, f"delete the table {name}", destructive=True)]
    if observed.spec.deletion_protection_enabled:
        if desired is None or desired.deletion_protection_enabled:
            return Plan(
                terminal="the table has deletion protection: set spec.deletionProtectionEnabled to false to delete "
                "it, or annotate the resource services.k8s.aws/deletion-policy: retain to keep it"
            )
        params = {"TableName": name, "DeletionProtectionEnabled": False}
        steps.insert(0, Step("UpdateTable", params, "turn deletion protection off, as the spec says"))
    return Plan(steps)


def create_table_params(spec: TableSpec) -> dict[str, Any]:
    """CreateTable's keyword arguments: everything AWS takes at creation. Time to Live, point-in-time
    recovery, contributor insights, replicas and the resource policy follow in update rounds."""
    billing = spec.billing_mode or "PROVISIONED"
    params: dict[str, Any] = {
        "TableName": spec.table_name,
        "AttributeDefinitions": [
            {"AttributeName": a.attribute_name, "AttributeType": a.attribute_type} for a in spec.attribute_definitions
        ],
        "KeySchema": _sdk_keys(spec.key_schema),
        "BillingMode": billing,
        "TableClass": spec.table_class or "STANDARD",
        "DeletionProtectionEnabled": bool(spec.deletion_protection_enabled),
    }
    if spec.provisioned_throughput:
        params["ProvisionedThroughput"] = _sdk_throughput(spec.provisioned_throughput)
    if spec.on_demand_throughput:
        params["OnDemandThroughput"] = _sdk_on_demand(spec.on_demand_throughput)
    if spec.global_secondary_indexes:
        params["GlobalSecondaryIndexes"] = [_sdk_index(index) for index in spec.global_secondary_indexes]
    if spec.local_secondary_indexes:
        params["LocalSecondaryIndexes"] = [
            {
                "IndexName": i.index_name,
                "KeySchema": _sdk_keys(i.key_schema),
                "Projection": _sdk_projection(i.projection),
            }
            for i in spec.local_secondary_indexes
        ]
    if spec.stream_specification:
        params["StreamSpecification"] = _sdk_stream(spec)
    if spec.sse_specification:
        params["SSESpecification"] = _sdk_sse(spec)
    if spec.tags:
        params["Tags"] = sdk_tags({t.key: t.value for t in spec.tags})
    return params


def busy(observed: Observed) -> str:
    """Why AWS would refuse an update now, or "" ("nothing while UPDATING", one index change at a time)."""
    if observed.table_status != "ACTIVE":
        return f"the table is {observed.table_status}"
    for kind, statuses in (("index", observed.index_status), ("replica", observed.replica_status)):
        for name, status in statuses.items():
            if status != "ACTIVE":
                return f"{kind} {name} is {status}"
    return ""


class _Round:
    """The steps of one round, each method one stage of the order in the module docstring."""

    def __init__(self, differences: list[Difference], observed: Observed, desired: TableSpec,
                 known_indexes: frozenset[str], known_replicas: frozenset[str]) -> None:
        self.differences = differences
        self.known_indexes = known_indexes
        self.known_replicas = known_replicas
        self.fields = {d.field for d in differences}
        self.observed, self.live, self.desired = observed, observed.spec, desired
        self.name = observed.spec.table_name
        self.billing = desired.billing_mode or "PROVISIONED"
        self.wanted_indexes = {g.index_name: g for g in desired.global_secondary_indexes or []}
        self.live_indexes = {g.index_name: g for g in observed.spec.global_secondary_indexes or []}
        index_changes: dict[str, set[str]] = {}  # index name -> the parts of it that differ
        for d in differences:
            if d.field == "globalSecondaryIndexes":
                index_changes.setdefault(d.parts[1], set()).update(d.parts[2:3])
        retyped = {d.parts[1] for d in differences if d.field == "attributeDefinitions"}
        self.removed = [n for n in index_changes if n not in self.wanted_indexes]
        self.added = [n for n in self.wanted_indexes if n in index_changes and n not in self.live_indexes]
        # AWS cannot change an index's key or projection in place: delete it, create it again later.
        self.recreated = [
            n
            for n, index in self.live_indexes.items()
            if n in self.wanted_indexes
            and ({"keySchema", "projection"} & index_changes.get(n, set()) or retyped & _attributes(index.key_schema))
        ]
        self.resized = [
            n for n in index_changes if n in self.wanted_indexes and n in self.live_indexes and n not in self.recreated
        ]
        # A switch to PROVISIONED sets the table's and every index's throughput in the same call.
        self.switch_to_provisioned = "billingMode" in self.fields and self.billing == "PROVISIONED"

    def _update(self, reason: str, destructive: bool = False, **params: Any) -> Step:
        return Step("UpdateTable", {"TableName": self.name, **params}, reason, destructive)

    def tags(self) -> list[Step]:
        if "tags" not in self.fields:
            return []
        wanted, live = _user_tags(self.desired), _user_tags(self.live)
        removed = sorted(live.keys() - wanted.keys())
        changed = {key: value for key, value in wanted.items() if live.get(key) != value}
        return tag_steps(self.observed.arn, changed, removed, "tags")

    def policy(self) -> list[Step]:
        if "resourcePolicy" not in self.fields:
            return []
        if self.desired.resource_policy:
            params = {"ResourceArn": self.observed.arn, "Policy": self.desired.resource_policy}
            return [Step("PutResourcePolicy", params, "set the resource policy")]
        return [Step("DeleteResourcePolicy", {"ResourceArn": self.observed.arn}, "remove the resource policy")]

    def ttl(self) -> list[Step]:
        if "timeToLive" not in self.fields:
            return []
        wanted, live = self.desired.time_to_live, self.live.time_to_live
        live_name = live.attribute_name if live and live.enabled else None
        if live_name:  # AWS refuses to move TTL to another attribute in place: disable first
            enable_later = (
                f", enable it on {wanted.attribute_name} in a later round" if wanted and wanted.enabled else ""
            )
            spec = {"Enabled": False, "AttributeName": live_name}
            reason = f"disable Time to Live on {live_name}{enable_later}"
        else:
            spec = {"Enabled": True, "AttributeName": wanted.attribute_name}
            reason = f"enable Time to Live on {wanted.attribute_name}"
        return [Step("UpdateTimeToLive", {"TableName": self.name, "TimeToLiveSpecification": spec}, reason)]

    def ttl_in_one_call(self) -> bool:
        """Whether the Time to Live step leaves it as wanted (not only disabled, to enable on another attribute)."""
        wanted, live = self.desired.time_to_live, self.live.time_to_live
        return not (live and live.enabled and wanted and wanted.enabled)

    def encryption(self) -> list[Step]:
        if "sseSpecification" not in self.fields:
            return []
        sse = _sdk_sse(self.desired)
        reason = (
            f"encrypt with {sse.get('KMSMasterKeyId', 'the AWS managed KMS key')}"
            if sse["Enabled"]
            else "encrypt with an AWS owned key"
        )
        return [self._update(reason, SSESpecification=sse)]

    def index_deletions(self) -> list[Step]:
        steps = [
            self._update(
                f"delete index {n}: the spec no longer names it" if n in self.known_indexes
                else f"delete index {n}: the spec never named it",
                n not in self.known_indexes,
                GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": n}}],
            )
            for n in self.removed
        ]
        steps += [
            self._update(
                f"recreate index {n}: its key or projection cannot change in place; delete now, create later",
                GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": n}}],
            )
            for n in self.recreated
        ]
        return steps

    def table_settings(self) -> list[Step]:
        settings = {
            "billingMode": self.billing,
            "tableClass": self.desired.table_class or "STANDARD",
            "deletionProtectionEnabled": bool(self.desired.deletion_protection_enabled),
        }
        changed = {name: value for name, value in settings.items() if name in self.fields}
        if not changed:
            return []
        params: dict[str, Any] = {name[0].upper() + name[1:]: value for name, value in changed.items()}
        reason = "set " + ", ".join(f"{name} {value}" for name, value in changed.items())
        if self.switch_to_provisioned:
            params["ProvisionedThroughput"] = _sdk_throughput(self.desired.provisioned_throughput)
            kept = [n for n in self.live_indexes if n in self.wanted_indexes and n not in self.recreated]
            updates = [
                {
                    "Update": {
                        "IndexName": n,
                        "ProvisionedThroughput": _sdk_throughput(self.wanted_indexes[n].provisioned_throughput),
                    }
                }
                for n in kept
            ]
            if updates:
                params["GlobalSecondaryIndexUpdates"] = updates
            reason += ", with the throughput of the table and of every index"
        return [self._update(reason, **params)]

    def backups(self) -> list[Step]:
        if "continuousBackups" not in self.fields:
            return []
        enabled = bool(
            self.desired.continuous_backups and self.desired.continuous_backups.point_in_time_recovery_enabled
        )
        params = {"TableName": self.name, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": enabled}}
        return [Step("UpdateContinuousBackups", params, f"turn point-in-time recovery {'on' if enabled else 'off'}")]

    def insights(self) -> list[Step]:
        if "contributorInsights" not in self.fields:
            return []
        action = "ENABLE" if self.desired.contributor_insights in ("ENABLE", "ENABLED") else "DISABLE"
        params = {"TableName": self.name, "ContributorInsightsAction": action}
        return [Step("UpdateContributorInsights", params, f"{action.lower()} contributor insights")]

    def index_throughput(self) -> list[Step]:
        if self.switch_to_provisioned:
            return []
        return [
            self._update(
                f"change the throughput of index {n}",
                GlobalSecondaryIndexUpdates=[{"Update": {"IndexName": n, **self._index_capacity(n)}}],
            )
            for n in self.resized
        ]

    def _index_capacity(self, name: str) -> dict[str, Any]:
        index = self.wanted_indexes[name]
        if self.billing == "PROVISIONED":
            return {"ProvisionedThroughput": _sdk_throughput(index.provisioned_throughput)}
        return {"OnDemandThroughput": {**_NO_LIMITS, **_sdk_on_demand(index.on_demand_throughput)}}

    def one_more(self, creation_allowed: bool) -> list[Step]:
        """At most one of the changes AWS takes only one at a time (stage 10)."""
        if "streamSpecification" in self.fields:
            return [self._stream()]
        if "provisionedThroughput" in self.fields and not self.switch_to_provisioned:
            return [
                self._update(
                    "change the table's throughput",
                    ProvisionedThroughput=_sdk_throughput(self.desired.provisioned_throughput),
                )
            ]
        if "onDemandThroughput" in self.fields:
            limits = {**_NO_LIMITS, **_sdk_on_demand(self.desired.on_demand_throughput)}
            return [self._update("change the table's on-demand limits", OnDemandThroughput=limits)]
        if self.added and creation_allowed:
            return [self._create_index(self.added[0])]
        replica = self._replica_change()
        return [replica] if replica else []

    def _stream(self) -> Step:
        wanted, live = self.desired.stream_specification, self.live.stream_specification
        if live and live.stream_enabled:
            later = (
                f"; its view type cannot change in place: enable it with {wanted.stream_view_type} in a later round"
                if wanted and wanted.stream_enabled
                else ""
            )
            return self._update(f"disable the stream{later}", StreamSpecification={"StreamEnabled": False})
        return self._update(
            f"enable the stream with {wanted.stream_view_type}", StreamSpecification=_sdk_stream(self.desired)
        )

    def _create_index(self, name: str) -> Step:
        index = self.wanted_indexes[name]
        types = {
            a.attribute_name: a.attribute_type
            for a in [*self.live.attribute_definitions, *self.desired.attribute_definitions]
        }
        # AWS wants the definitions of every key attribute the table will have, and no other.
        schemas = [self.live.key_schema, index.key_schema]
        schemas += [i.key_schema for i in self.live.local_secondary_indexes or []]
        schemas += [i.key_schema for i in self.live.global_secondary_indexes or []]
        used = dict.fromkeys(e.attribute_name for keys in schemas for e in keys)
        definitions = [{"AttributeName": n, "AttributeType": types[n]} for n in used]
        pending = len(self.added) - 1
        later = f"; {pending} more in later rounds (one index creation per call)" if pending else ""
        return self._update(
            f"create index {name}{later}",
            AttributeDefinitions=definitions,
            GlobalSecondaryIndexUpdates=[{"Create": _sdk_index(index)}],
        )

    def _replica_change(self) -> Step | None:
        regions = [d.parts[1] for d in self.differences if d.field == "tableReplicas"]
        if not regions:
            return None
        region, wanted = regions[0], {r.region_name: r for r in self.desired.table_replicas or []}
        if region not in wanted:
            known = region in self.known_replicas
            return self._update(f"delete the replica in {region}: the spec {'no longer names' if known else 'never named'}"
                                " it", not known, ReplicaUpdates=[{"Delete": {"RegionName": region}}])
        action = "Update" if region in {r.region_name for r in self.live.table_replicas or []} else "Create"
        return self._update(
            f"{action.lower()} the replica in {region}", ReplicaUpdates=[{action: _sdk_replica(wanted[region])}]
        )


def _attributes(keys: list[KeySchemaElement]) -> set[str]:
    return {e.attribute_name for e in keys}


def _user_tags(spec: TableSpec) -> dict[str, str]:
    return {t.key: t.value for t in spec.tags or [] if is_user_tag(t.key)}


# ------------------------------------------------------------------- spec -> boto3 parameters


def sdk_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tag_steps(arn: str, tag: dict[str, str], untag: list[str], what: str) -> list[Step]:
    """UntagResource of the keys `untag`, then TagResource of `tag`; each only when it has something to do."""
    steps = [Step("UntagResource", {"ResourceArn": arn, "TagKeys": untag}, f"remove {what} {untag}")] if untag else []
    if tag:
        steps.append(Step("TagResource", {"ResourceArn": arn, "Tags": sdk_tags(tag)}, f"set {what} {sorted(tag)}"))
    return steps


def _sdk_keys(keys: list[KeySchemaElement]) -> list[dict[str, str]]:
    return [{"AttributeName": e.attribute_name, "KeyType": e.key_type} for e in keys]


def _sdk_projection(projection: Projection) -> dict[str, Any]:
    out: dict[str, Any] = {"ProjectionType": projection.projection_type}
    if projection.non_key_attributes:
        out["NonKeyAttributes"] = list(projection.non_key_attributes)
    return out


def _sdk_throughput(throughput: ProvisionedThroughput | None) -> dict[str, int]:
    assert throughput is not None, "validate() requires throughput under PROVISIONED"
    return {"ReadCapacityUnits": throughput.read_capacity_units, "WriteCapacityUnits": throughput.write_capacity_units}


# In an update, -1 removes a limit: a limit the spec leaves out is no limit.
_NO_LIMITS = {"MaxReadRequestUnits": -1, "MaxWriteRequestUnits": -1}


def _sdk_on_demand(throughput: OnDemandThroughput | None) -> dict[str, int]:
    limits = {
        "MaxReadRequestUnits": throughput and throughput.max_read_request_units,
        "MaxWriteRequestUnits": throughput and throughput.max_write_request_units,
    }
    return {key: value for key, value in limits.items() if value is not None}


def _sdk_index(index: GlobalSecondaryIndex) -> dict[str, Any]:
    out: dict[str, Any] = {
        "IndexName": index.index_name,
        "KeySchema": _sdk_keys(index.key_schema),
        "Projection": _sdk_projection(index.projection),
    }
    if index.provisioned_throughput:
        out["ProvisionedThroughput"] = _sdk_throughput(index.provisioned_throughput)
    if index.on_demand_throughput:
        out["OnDemandThroughput"] = _sdk_on_demand(index.on_demand_throughput)
    return out


def _sdk_stream(spec: TableSpec) -> dict[str, Any]:
    stream = spec.stream_specification
    if not (stream and stream.stream_enabled):
        return {"StreamEnabled": False}
    return {"StreamEnabled": True, "StreamViewType": stream.stream_view_type}


def _sdk_sse(spec: TableSpec) -> dict[str, Any]:
    sse = spec.sse_specification
    if not (sse and sse.enabled):
        return {"Enabled": False}
    out: dict[str, Any] = {"Enabled": True, "SSEType": sse.sse_type or "KMS"}
    if sse.kms_master_key_id:
        out["KMSMasterKeyId"] = sse.kms_master_key_id
    return out


def _sdk_replica(replica: Replica) -> dict[str, Any]:
    out: dict[str, Any] = {"RegionName": replica.region_name}
    if replica.kms_master_key_id:
        out["KMSMasterKeyId"] = replica.kms_master_key_id
    if replica.provisioned_throughput_override:
        out["ProvisionedThroughputOverride"] = {
            "ReadCapacityUnits": replica.provisioned_throughput_override.read_capacity_units
        }
    overrides = [
        {
            "IndexName": g.index_name,
            "ProvisionedThroughputOverride": {
                "ReadCapacityUnits": g.provisioned_throughput_override.read_capacity_units
            },
        }
        for g in replica.global_secondary_indexes or []
        if g.provisioned_throughput_override
    ]
    if overrides:
        out["GlobalSecondaryIndexes"] = overrides
    if replica.table_class_override:
        out["TableClassOverride"] = replica.table_class_override
    return out
