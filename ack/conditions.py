"""ACK-style conditions and the `status` block of a Table, as plain dicts ready for a /status patch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ack.model import ADOPTED, ADVISORY, READY, RECOVERABLE, SYNCED, TERMINAL, TableStatus, rfc3339

Conditions = list[dict[str, Any]]


def set_condition(
    conditions: Conditions,
    type_: str,
    status: str,
    reason: str | None = None,
    message: str | None = None,
    now: datetime | None = None,
) -> Conditions:
    """`conditions` with the one of type `type_` set; its lastTransitionTime moves only when its
    status changes, so a round that changes nothing writes nothing."""
    old = next((c for c in conditions if c.get("type") == type_), None)
    new: dict[str, Any] = {"type": type_, "status": status}
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    if old is None or old.get("status") != status:
        new["lastTransitionTime"] = rfc3339(now or datetime.now(UTC))
    elif "lastTransitionTime" in old:
        new["lastTransitionTime"] = old["lastTransitionTime"]
    if old is None:
        return [*conditions, new]
    return [new if c is old else c for c in conditions]


def without(conditions: Conditions, *types: str) -> Conditions:
    return [c for c in conditions if c.get("type") not in types]


def is_synced(conditions: Conditions | None) -> bool:
    """Whether ACK.ResourceSynced is True."""
    return any(c.get("type") == SYNCED and c.get("status") == "True" for c in conditions or [])


def _sync(conditions: Conditions, status: str, reason: str, message: str, now: datetime | None) -> Conditions:
    """ACK.ResourceSynced and Ready, which say the same (Ready is what `kubectl wait` and kstatus read)."""
    conditions = set_condition(conditions, SYNCED, status, reason, message, now)
    return set_condition(conditions, READY, status, reason, message, now)


def synced(
    conditions: Conditions, message: str = "the table matches the spec", now: datetime | None = None
) -> Conditions:
    """The round ended with nothing left to do."""
    return _sync(without(conditions, TERMINAL, RECOVERABLE), "True", "Synced", message, now)


def pending(conditions: Conditions, message: str, now: datetime | None = None, reason: str = "Pending") -> Conditions:
    """Work remains that needs time (AWS busy, more rounds to come), or differences left as they are: not an error."""
    return _sync(without(conditions, TERMINAL, RECOVERABLE), "False", reason, message, now)


def terminal(conditions: Conditions, reason: str, message: str, now: datetime | None = None) -> Conditions:
    """Nothing more happens until the spec changes (invalid spec, requires replacement, AWS validation)."""
    conditions = set_condition(without(conditions, RECOVERABLE), TERMINAL, "True", reason, message, now)
    return _sync(conditions, "False", reason, message, now)


def recoverable(conditions: Conditions, reason: str, message: str, now: datetime | None = None) -> Conditions:
    """An error worth retrying (throttling, a 5xx, a rate window of AWS's)."""
    conditions = set_condition(without(conditions, TERMINAL), RECOVERABLE, "True", reason, message, now)
    return _sync(conditions, "False", reason, message, now)


def adopted(conditions: Conditions, message: str, now: datetime | None = None) -> Conditions:
    """The resource took over a table that existed before it."""
    return set_condition(conditions, ADOPTED, "True", "Adopted", message, now)


def advise(conditions: Conditions, advice: list[str], now: datetime | None = None) -> Conditions:
    """ACK.Advisory: what the resource should know but nothing stops on (fields ignored); gone when there is none."""
    if not advice:
        return without(conditions, ADVISORY)
    return set_condition(conditions, ADVISORY, "True", "IgnoredFields", "; ".join(advice), now)


# Names of AWS response keys whose camelCase form in ACK's status is not the plain one.
_STATUS_NAMES = {"IndexArn": "indexARN", "KMSMasterKeyId": "kmsMasterKeyID"}


def status_from_describe(table: dict[str, Any]) -> dict[str, Any]:
    """The status fields ACK derives from DescribeTable's `Table` (conditions and observedGeneration
    are the reconciler's to add)."""
    arn = table.get("TableArn", "")
    arn_parts = arn.split(":")  # arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME
    status = {
        "ackResourceMetadata": {"arn": arn, "ownerAccountID": arn_parts[4], "region": arn_parts[3]}
        if len(arn_parts) >= 6
        else None,
        "tableStatus": table.get("TableStatus"),
        "tableID": table.get("TableId"),
        "creationDateTime": table.get("CreationDateTime"),
        "itemCount": table.get("ItemCount"),
        "tableSizeBytes": table.get("TableSizeBytes"),
        "latestStreamARN": table.get("LatestStreamArn"),
        "latestStreamLabel": table.get("LatestStreamLabel"),
        "globalSecondaryIndexesDescriptions": _camel(table.get("GlobalSecondaryIndexes")),
        "replicas": _camel(table.get("Replicas")),
    }
    # Through the model: AWS keys the status has no field for are dropped, timestamps become RFC 3339.
    return TableStatus.model_validate({k: v for k, v in status.items() if v is not None}).dump()


def _camel(value: Any) -> Any:
    if isinstance(value, list):
        return [_camel(item) for item in value]
    if isinstance(value, dict):
        return {_STATUS_NAMES.get(key, key[:1].lower() + key[1:]): _camel(item) for key, item in value.items()}
    return value


def status_changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether `new` says anything `old` did not, lastTransitionTime and condition order aside."""
    return _comparable(old or {}) != _comparable(new)


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []]
    return {**status, "conditions": sorted(conditions, key=lambda c: c.get("type", ""))}
