"""The live table in spec form, and the canonical form that desired and live state are compared in.

`observed_from_aws` turns plain AWS response dicts into an `Observed` whose `spec` is a `TableSpec`, so
the live table and the desired one have the same shape. `canonical` then applies ACK's normalisation
rules (docs/ack-table.md) to either side, so that the comparison itself (ack.delta) is a plain
field-by-field walk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ack.tags import is_user_tag, owner_of
from ack.model import (
    GlobalSecondaryIndex,
    KeySchemaElement,
    OnDemandThroughput,
    Projection,
    ProvisionedThroughput,
    Replica,
    SSESpecification,
    StreamSpecification,
    TableSpec,
    TimeToLive,
)

_ON = ("ENABLED", "ENABLING")  # a feature being switched on counts as on (as ACK does for TTL)

if TYPE_CHECKING:  # ack.ignore compares specs with ack.delta, which reads this module
    from ack.ignore import Ignored


@dataclass(frozen=True)
class Observed:
    """The live table: its settings as a spec, and the statuses that decide what may be done now."""

    spec: TableSpec
    table_status: str
    arn: str
    index_status: dict[str, str] = field(default_factory=dict)  # GSI name -> IndexStatus
    replica_status: dict[str, str] = field(default_factory=dict)  # region -> ReplicaStatus


@dataclass(frozen=True)
class LiveTable:
    """A table as read from AWS: DescribeTable's answer, the same as a spec, and who owns it."""

    describe: dict[str, Any]
    observed: Observed
    owner: str | None  # the ownership tag's value: "namespace/name" of the resource that manages it
    autoscaled: tuple[Ignored, ...] = ()  # the capacity Application Auto Scaling owns (ack/ignore.py)

    @property
    def name(self) -> str:
        return self.describe["TableName"]


def observed_from_aws(
    describe: dict[str, Any],
    tags: list[dict[str, str]] | None = None,
    ttl: dict[str, Any] | None = None,
    backups: dict[str, Any] | None = None,
    *,
    insights_status: str | None = None,
    policy: str | None = None,
) -> Observed:
    """The live table from DescribeTable's `Table`, ListTagsOfResource's `Tags`, DescribeTimeToLive's
    `TimeToLiveDescription`, DescribeContinuousBackups' `ContinuousBackupsDescription`,
    DescribeContributorInsights' `ContributorInsightsStatus` and GetResourcePolicy's `Policy`.
    Each side call left out (None) reads as the feature being off."""
    sse = describe.get("SSEDescription")
    stream = describe.get("StreamSpecification")
    pitr = (backups or {}).get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    spec = {
        "tableName": describe["TableName"],
        "attributeDefinitions": [
            {"attributeName": a["AttributeName"], "attributeType": a["AttributeType"]}
            for a in describe.get("AttributeDefinitions", [])
        ],
        "keySchema": _aws_keys(describe.get("KeySchema")),
        "billingMode": describe.get("BillingModeSummary", {}).get("BillingMode"),
        "provisionedThroughput": _aws_throughput(describe.get("ProvisionedThroughput")),
        "onDemandThroughput": _aws_on_demand(describe.get("OnDemandThroughput")),
        "globalSecondaryIndexes": [
            {
                **_aws_index(index),
                "provisionedThroughput": _aws_throughput(index.get("ProvisionedThroughput")),
                "onDemandThroughput": _aws_on_demand(index.get("OnDemandThroughput")),
            }
            for index in describe.get("GlobalSecondaryIndexes", [])
        ],
        "localSecondaryIndexes": [_aws_index(index) for index in describe.get("LocalSecondaryIndexes", [])],
        # AWS leaves StreamSpecification out when the stream is disabled.
        "streamSpecification": stream
        and {"streamEnabled": stream["StreamEnabled"], "streamViewType": stream.get("StreamViewType")},
        "sseSpecification": sse
        and {
            "enabled": sse.get("Status") in (*_ON, "UPDATING"),
            "sseType": sse.get("SSEType"),
            "kmsMasterKeyID": sse.get("KMSMasterKeyArn"),
        },
        "tableClass": describe.get("TableClassSummary", {}).get("TableClass"),
        "deletionProtectionEnabled": describe.get("DeletionProtectionEnabled"),
        "timeToLive": ttl
        and {"enabled": ttl.get("TimeToLiveStatus") in _ON, "attributeName": ttl.get("AttributeName")},
        "continuousBackups": {"pointInTimeRecoveryEnabled": pitr in _ON},
        "contributorInsights": "ENABLED" if insights_status in _ON else "DISABLED",
        "resourcePolicy": policy,
        "tags": [{"key": tag["Key"], "value": tag["Value"]} for tag in tags or []],
        "tableReplicas": [_aws_replica(replica) for replica in describe.get("Replicas", [])],
    }
    return Observed(
        spec=TableSpec.model_validate({key: value for key, value in spec.items() if value is not None}),
        table_status=describe.get("TableStatus", "ACTIVE"),
        arn=describe.get("TableArn", ""),
        index_status={
            i["IndexName"]: i.get("IndexStatus", "ACTIVE") for i in describe.get("GlobalSecondaryIndexes", [])
        },
        replica_status={r["RegionName"]: r.get("ReplicaStatus", "ACTIVE") for r in describe.get("Replicas", [])},
    )


def with_tags(live: LiveTable, tags: list[dict[str, str]]) -> LiveTable:
    """The same table with the tags ListTagsOfResource gave (the bulk read's may lag): a difference found in tags alone
    is confirmed with that one read, not the table's four."""
    spec = TableSpec.model_validate({**live.observed.spec.dump(),
                                     "tags": [{"key": tag["Key"], "value": tag["Value"]} for tag in tags]})
    return replace(live, observed=replace(live.observed, spec=spec), owner=owner_of({t["Key"]: t["Value"] for t in tags}))


def _aws_keys(elements: list[dict[str, str]] | None) -> list[dict[str, str]]:
    return [{"attributeName": e["AttributeName"], "keyType": e["KeyType"]} for e in elements or []]


def _aws_index(index: dict[str, Any]) -> dict[str, Any]:
    projection = index.get("Projection", {})
    return {
        "indexName": index["IndexName"],
        "keySchema": _aws_keys(index.get("KeySchema")),
        "projection": {
            "projectionType": projection.get("ProjectionType", "ALL"),
            "nonKeyAttributes": projection.get("NonKeyAttributes"),
        },
    }


def _aws_throughput(throughput: dict[str, Any] | None) -> dict[str, int] | None:
    return throughput and {
        "readCapacityUnits": throughput.get("ReadCapacityUnits", 0),
        "writeCapacityUnits": throughput.get("WriteCapacityUnits", 0),
    }


def _aws_on_demand(throughput: dict[str, Any] | None) -> dict[str, int] | None:
    return throughput and {
        "maxReadRequestUnits": throughput.get("MaxReadRequestUnits"),
        "maxWriteRequestUnits": throughput.get("MaxWriteRequestUnits"),
    }


def _aws_replica(replica: dict[str, Any]) -> dict[str, Any]:
    def read_override(item: dict[str, Any]) -> dict[str, int] | None:
        override = item.get("ProvisionedThroughputOverride")
        return override and {"readCapacityUnits": override.get("ReadCapacityUnits")}

    return {
        "regionName": replica["RegionName"],
        "kmsMasterKeyID": replica.get("KMSMasterKeyId"),
        "provisionedThroughputOverride": read_override(replica),
        "globalSecondaryIndexes": [
            {"indexName": index["IndexName"], "provisionedThroughputOverride": read_override(index)}
            for index in replica.get("GlobalSecondaryIndexes", [])
        ],
        "tableClassOverride": replica.get("ReplicaTableClassSummary", {}).get("TableClass"),
    }


# ----------------------------------------------------------------------------- canonical form


class Keyed(dict):
    """A collection compared by key, not by position: indexes by name, tags by key, replicas by region."""

    def __init__(self, by: str, items: dict[str, Any]) -> None:
        super().__init__(items)
        self.by = by


class KmsKey(str):
    """A KMS key named by id, key ARN, alias name or alias ARN.

    AWS reports the key's ARN whatever the spec named, so two names are equal when their last part
    (key/ID or alias/NAME) is. An alias and a key id can only be matched by asking KMS, which a pure
    comparison cannot do: they count as equal. A key left out (None) is AWS's choice: anything matches.
    """

    def __eq__(self, other: object) -> bool:
        if other is None:
            return True
        if not isinstance(other, str):
            return NotImplemented
        mine, theirs = _kms_resource(self), _kms_resource(other)
        return mine == theirs or mine.split("/")[0] != theirs.split("/")[0]

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__


def _kms_resource(name: str) -> str:
    name = str(name)  # a plain str: KmsKey's own equality must not recurse
    resource = name.split(":", 5)[-1] if name.startswith("arn:") else name
    return resource if "/" in resource else f"key/{resource}"


def canonical(spec: TableSpec, billing_mode: str) -> dict[str, Any]:
    """The spec with ACK's normalisation rules applied, as plain comparable values.

    `billing_mode` is the desired one: throughput is compared under it on both sides (under
    PAY_PER_REQUEST provisioned throughput means nothing and AWS reports 0/0).
    """
    provisioned = billing_mode == "PROVISIONED"
    table_class = spec.table_class or "STANDARD"
    return _clean(
        {
            "tableName": spec.table_name,
            "keySchema": _keys(spec.key_schema),
            "attributeDefinitions": Keyed(
                "byName", {a.attribute_name: {"attributeType": a.attribute_type} for a in spec.attribute_definitions}
            ),
            "billingMode": spec.billing_mode or "PROVISIONED",
            "provisionedThroughput": _throughput(spec.provisioned_throughput) if provisioned else None,
            "onDemandThroughput": None if provisioned else _on_demand(spec.on_demand_throughput),
            "globalSecondaryIndexes": Keyed(
                "byName", {g.index_name: _gsi(g, provisioned) for g in spec.global_secondary_indexes or []}
            ),
            "localSecondaryIndexes": Keyed(
                "byName",
                {
                    i.index_name: {"keySchema": _keys(i.key_schema), "projection": _projection(i.projection)}
                    for i in spec.local_secondary_indexes or []
                },
            ),
            "streamSpecification": _stream(spec.stream_specification),
            "sseSpecification": _sse(spec.sse_specification),
            "tableClass": table_class,
            "deletionProtectionEnabled": bool(spec.deletion_protection_enabled),
            "timeToLive": _ttl(spec.time_to_live),
            "continuousBackups": {
                "pointInTimeRecoveryEnabled": bool(
                    spec.continuous_backups and spec.continuous_backups.point_in_time_recovery_enabled
                )
            },
            "contributorInsights": "ENABLED" if spec.contributor_insights in ("ENABLE", "ENABLED") else "DISABLED",
            "resourcePolicy": _policy(spec.resource_policy),
            # aws:* tags are AWS's own and ackflow.dev/* the project's: never drift.
            "tags": Keyed("byKey", {t.key: t.value for t in spec.tags or [] if is_user_tag(t.key)}),
            "tableReplicas": Keyed(
                "byRegion", {r.region_name: _replica(r, table_class) for r in spec.table_replicas or []}
            ),
        }
    )


def _keys(elements: list[KeySchemaElement]) -> list[dict[str, str]]:
    return [{"attributeName": e.attribute_name, "keyType": e.key_type} for e in elements]


def _throughput(throughput: ProvisionedThroughput | None) -> dict[str, int] | None:
    # AWS reports 0/0 for "no provisioned throughput" (a PAY_PER_REQUEST table or index).
    if throughput is None or (throughput.read_capacity_units, throughput.write_capacity_units) == (0, 0):
        return None
    return {"readCapacityUnits": throughput.read_capacity_units, "writeCapacityUnits": throughput.write_capacity_units}


def _on_demand(throughput: OnDemandThroughput | None) -> dict[str, int | None] | None:
    # -1 (no limit) and 0 (unset) both mean no limit.
    def limit(value: int | None) -> int | None:
        return value if value is not None and value > 0 else None

    if throughput is None:
        return None
    limits = {
        "maxReadRequestUnits": limit(throughput.max_read_request_units),
        "maxWriteRequestUnits": limit(throughput.max_write_request_units),
    }
    return limits if any(limits.values()) else None


def _projection(projection: Projection) -> dict[str, Any]:
    return {
        "projectionType": projection.projection_type,
        "nonKeyAttributes": sorted(projection.non_key_attributes or []),
    }


def _gsi(index: GlobalSecondaryIndex, provisioned: bool) -> dict[str, Any]:
    return {
        "keySchema": _keys(index.key_schema),
        "projection": _projection(index.projection),
        "provisionedThroughput": _throughput(index.provisioned_throughput) if provisioned else None,
        "onDemandThroughput": None if provisioned else _on_demand(index.on_demand_throughput),
    }


def _stream(stream: StreamSpecification | None) -> dict[str, Any]:
    enabled = bool(stream and stream.stream_enabled)
    return {"streamEnabled": enabled, "streamViewType": stream.stream_view_type if enabled else None}


def _sse(sse: SSESpecification | None) -> dict[str, Any]:
    # Disabled and absent are the same: an AWS owned key.
    if not (sse and sse.enabled):
        return {"enabled": False}
    return {
        "enabled": True,
        "sseType": sse.sse_type or "KMS",
        "kmsMasterKeyID": KmsKey(sse.kms_master_key_id) if sse.kms_master_key_id else None,
    }


def _ttl(ttl: TimeToLive | None) -> dict[str, Any]:
    enabled = bool(ttl and ttl.enabled)
    return {"enabled": enabled, "attributeName": ttl.attribute_name if enabled else None}


def _policy(text: str | None) -> str | None:
    # Compared as parsed JSON, kept as one canonical text so that a change is one difference.
    if not text:
        return None
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except ValueError:
        return text


def _replica(replica: Replica, table_class: str) -> dict[str, Any]:
    override = replica.provisioned_throughput_override
    return {
        "kmsMasterKeyID": KmsKey(replica.kms_master_key_id) if replica.kms_master_key_id else None,
        "readCapacityUnits": override and override.read_capacity_units,
        # AWS lists every index of a replica; only the overrides are the spec's to compare.
        "globalSecondaryIndexes": Keyed(
            "byName",
            {
                index.index_name: index.provisioned_throughput_override.read_capacity_units
                for index in replica.global_secondary_indexes or []
                if index.index_name and index.provisioned_throughput_override
            },
        ),
        "tableClass": replica.table_class_override or table_class,
    }


def _clean(value: Any) -> Any:
    """Empty strings and empty lists mean the same as absent; absent fields are left out."""
    if isinstance(value, dict):
        cleaned = {key: item for key, item in ((key, _clean(item)) for key, item in value.items()) if item is not None}
        return Keyed(value.by, cleaned) if isinstance(value, Keyed) else cleaned
    if isinstance(value, (str, list)) and not value:
        return None
    return value
