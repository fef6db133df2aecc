"""Checks the CRD's schema cannot express, made before any AWS call. Each problem names its field."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from ack.delta import Difference, delta
from ack.model import (
    GlobalSecondaryIndex,
    KeySchemaElement,
    LocalSecondaryIndex,
    OnDemandThroughput,
    ProvisionedThroughput,
    TableSpec,
)

ProblemKind = Literal["invalid", "requires_replacement", "unsupported", "ignored"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """Why a spec cannot be reconciled as it is: `field` is the path of the field to change."""

    field: str
    message: str
    kind: ProblemKind = "invalid"

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def typed(model: type[M], raw: dict[str, Any], where: str = "spec") -> tuple[M | None, tuple[Problem, ...]]:
    """`raw` as a `model`, or None and the first field the model refuses (`spec.backupName: ...`)."""
    try:
        return model.model_validate(raw), ()
    except ValidationError as exc:
        first = exc.errors()[0]
        return None, (Problem(".".join([where, *map(str, first["loc"])]), first["msg"]),)


def validate(spec: TableSpec) -> list[Problem]:
    """Everything AWS would refuse that the schema cannot say, grouped by check."""
    return [
        *_keys_and_attributes(spec),
        *_capacity(spec),
        *_index_names(spec),
        *_projections(spec),
        *_switches(spec),
        *_tags(spec),
        *_replicas(spec),
    ]


def effective(spec: TableSpec) -> tuple[TableSpec, list[Problem]]:
    """The spec less what AWS would not use, and each field left out: a stream's view type while the stream is off,
    encryption settings while encryption is off, provisioned throughput under PAY_PER_REQUEST (what a merge patch
    that switches these off leaves behind). ACK ignores them rather than refusing; ACK.Advisory names them."""
    update: dict[str, Any] = {}
    left_out: list[Problem] = []

    def leave_out(path: str, why: str) -> None:
        left_out.append(Problem(path, f"ignored: {why}", "ignored"))

    stream = spec.stream_specification
    if stream and not stream.stream_enabled and stream.stream_view_type:
        leave_out("spec.streamSpecification.streamViewType", "streamEnabled is false")
        update["stream_specification"] = stream.model_copy(update={"stream_view_type": None})
    sse = spec.sse_specification
    if sse and not sse.enabled:
        names = {"sseType": "sse_type", "kmsMasterKeyID": "kms_master_key_id", "kmsMasterKeyRef": "kms_master_key_ref"}
        present = [name for name, attribute in names.items() if getattr(sse, attribute)]
        for name in present:
            leave_out(f"spec.sseSpecification.{name}", "sseSpecification.enabled is false")
        if present:
            update["sse_specification"] = sse.model_copy(update=dict.fromkeys(names.values()))
    if spec.billing_mode == "PAY_PER_REQUEST":
        indexes = spec.global_secondary_indexes or []
        present = (["spec"] if spec.provisioned_throughput is not None else []) + [
            f"spec.globalSecondaryIndexes[{i}]" for i, g in enumerate(indexes) if g.provisioned_throughput is not None]
        for path in present:
            leave_out(f"{path}.provisionedThroughput", "billingMode is PAY_PER_REQUEST")
        if present:
            update["provisioned_throughput"] = None
            update["global_secondary_indexes"] = spec.global_secondary_indexes and [
                g.model_copy(update={"provisioned_throughput": None}) for g in indexes]
    return (spec.model_copy(update=update) if update else spec), left_out


def unsupported(
    spec: TableSpec, features: Iterable[str], reason: str = "is not served by this AWS endpoint"
) -> list[Problem]:
    """The features the spec uses among `features` (spec field paths such as `tableReplicas` or
    `sseSpecification.kmsMasterKeyRef`), each reported as unsupported, for where they cannot be served."""
    wire = spec.dump()
    return [Problem(f"spec.{feature}", reason, "unsupported") for feature in sorted(features) if _lookup(wire, feature)]


def check_immutable(desired: TableSpec, created_with: TableSpec) -> list[Problem]:
    """The changes since creation that no API call can make (key schema, local indexes, table name,
    the type of a key attribute): each "requires replacement"."""
    return replacements(delta(desired, created_with), created_with)


def replacements(differences: Iterable[Difference], actual: TableSpec) -> list[Problem]:
    """The differences that need a new table, as problems; `actual` is the table as it exists."""
    key_attributes = {e.attribute_name for e in actual.key_schema} | {
        e.attribute_name for index in actual.local_secondary_indexes or [] for e in index.key_schema
    }
    problems = []
    for difference in differences:
        match difference.parts:
            case ("tableName",):
                message = (
                    f'renaming needs a new resource: the table "{difference.actual}" stays; '
                    f'create a new Table resource for "{difference.desired}"'
                )
            case ("keySchema",):
                message = "requires replacement: a table's key schema cannot change; create a new table, copy the data"
            case ("localSecondaryIndexes", *_):
                message = "requires replacement: local secondary indexes are fixed when the table is created"
            case ("attributeDefinitions", name, *_) if name in key_attributes:
                message = f'requires replacement: "{name}" is a key attribute of the table; its type cannot change'
            case _:
                continue
        problems.append(Problem(difference.path, message, "requires_replacement"))
    return problems


# ------------------------------------------------------------------------------------- checks


def _keys_and_attributes(spec: TableSpec) -> list[Problem]:
    table_hash = spec.key_schema[0].attribute_name if spec.key_schema else None
    schemas = [("spec.keySchema", spec.key_schema, False)]
    schemas += [
        (f"spec.globalSecondaryIndexes[{i}].keySchema", g.key_schema, False)
        for i, g in enumerate(spec.global_secondary_indexes or [])
    ]
    schemas += [
        (f"spec.localSecondaryIndexes[{i}].keySchema", x.key_schema, True)
        for i, x in enumerate(spec.local_secondary_indexes or [])
    ]
    defined = {a.attribute_name for a in spec.attribute_definitions}
    problems = []
    for path, keys, local in schemas:
        problems += _key_shape(path, keys)
        if local and len(keys) != 2:
            problems.append(Problem(path, "a local secondary index needs the table's HASH key and a RANGE key"))
        if local and keys and keys[0].attribute_name != table_hash:
            problems.append(Problem(f"{path}[0].attributeName", f'must be the table\'s HASH key "{table_hash}"'))
        problems += [
            Problem(f"{path}[{j}].attributeName", f'"{e.attribute_name}" is not in spec.attributeDefinitions')
            for j, e in enumerate(keys)
            if e.attribute_name not in defined
        ]
    used = {e.attribute_name for _, keys, _ in schemas for e in keys}
    seen: set[str] = set()
    for i, attribute in enumerate(spec.attribute_definitions):
        name, path = attribute.attribute_name, f"spec.attributeDefinitions[{i}].attributeName"
        if name in seen:
            problems.append(Problem(path, f'"{name}" is defined twice'))
        elif name not in used:
            problems.append(Problem(path, f'"{name}" is used by no key or index (AWS refuses unused definitions)'))
        seen.add(name)
    return problems


def _key_shape(path: str, keys: list[KeySchemaElement]) -> list[Problem]:
    if len(keys) not in (1, 2):
        return [Problem(path, f"needs one HASH element, then at most one RANGE element; found {len(keys)} elements")]
    problems = []
    if keys[0].key_type != "HASH":
        problems.append(Problem(f"{path}[0].keyType", "the first element must be HASH"))
    if len(keys) == 2 and keys[1].key_type != "RANGE":
        problems.append(Problem(f"{path}[1].keyType", "the second element must be RANGE"))
    if len(keys) == 2 and keys[0].attribute_name == keys[1].attribute_name:
        problems.append(Problem(f"{path}[1].attributeName", "the RANGE key must differ from the HASH key"))
    return problems


def _capacity(spec: TableSpec) -> list[Problem]:
    billing = spec.billing_mode or "PROVISIONED"
    problems = _throughput_for(billing, "spec", spec.provisioned_throughput, spec.on_demand_throughput)
    for i, index in enumerate(spec.global_secondary_indexes or []):
        problems += _throughput_for(
            billing, f"spec.globalSecondaryIndexes[{i}]", index.provisioned_throughput, index.on_demand_throughput
        )
    return problems


def _throughput_for(
    billing: str, path: str, provisioned: ProvisionedThroughput | None, on_demand: OnDemandThroughput | None
) -> list[Problem]:
    if billing == "PAY_PER_REQUEST":
        return []  # provisioned throughput left in is ignored (effective())
    problems = []
    if provisioned is None:
        problems.append(
            Problem(f"{path}.provisionedThroughput", "required when billingMode is PROVISIONED (the default)")
        )
    else:
        problems += [
            Problem(f"{path}.provisionedThroughput.{name}", "must be at least 1 when billingMode is PROVISIONED")
            for name, units in (
                ("readCapacityUnits", provisioned.read_capacity_units),
                ("writeCapacityUnits", provisioned.write_capacity_units),
            )
            if units < 1
        ]
    if on_demand is not None:
        problems.append(Problem(f"{path}.onDemandThroughput", "only allowed when billingMode is PAY_PER_REQUEST"))
    return problems


def _index_names(spec: TableSpec) -> list[Problem]:
    indexes = [("globalSecondaryIndexes", i, g.index_name) for i, g in enumerate(spec.global_secondary_indexes or [])]
    indexes += [("localSecondaryIndexes", i, x.index_name) for i, x in enumerate(spec.local_secondary_indexes or [])]
    seen: set[str] = set()
    problems = []
    for kind, i, name in indexes:
        if name in seen:
            problems.append(Problem(f"spec.{kind}[{i}].indexName", f'"{name}" is already the name of another index'))
        seen.add(name)
    return problems


def _projections(spec: TableSpec) -> list[Problem]:
    indexes: list[tuple[str, GlobalSecondaryIndex | LocalSecondaryIndex]] = [
        (f"spec.globalSecondaryIndexes[{i}]", g) for i, g in enumerate(spec.global_secondary_indexes or [])
    ]
    indexes += [(f"spec.localSecondaryIndexes[{i}]", x) for i, x in enumerate(spec.local_secondary_indexes or [])]
    problems = []
    for path, index in indexes:
        projection = index.projection
        if projection.projection_type == "INCLUDE" and not projection.non_key_attributes:
            problems.append(Problem(f"{path}.projection.nonKeyAttributes", "required when projectionType is INCLUDE"))
        if projection.projection_type != "INCLUDE" and projection.non_key_attributes:
            problems.append(
                Problem(f"{path}.projection.nonKeyAttributes", "only allowed when projectionType is INCLUDE")
            )
    return problems


def _switches(spec: TableSpec) -> list[Problem]:
    """Stream, encryption, Time to Live and policy settings AWS would refuse."""
    problems = []
    stream = spec.stream_specification
    if stream and stream.stream_enabled and not stream.stream_view_type:
        problems.append(Problem("spec.streamSpecification.streamViewType", "required when streamEnabled is true"))
    sse = spec.sse_specification
    if sse and sse.enabled and sse.kms_master_key_id and sse.sse_type == "AES256":
        problems.append(Problem("spec.sseSpecification.kmsMasterKeyID", "needs sseType KMS"))
    if sse and sse.kms_master_key_ref:
        problems.append(
            Problem(
                "spec.sseSpecification.kmsMasterKeyRef",
                "references to KMS Key resources are not resolved; set kmsMasterKeyID",
                "unsupported",
            )
        )
    ttl = spec.time_to_live
    if ttl and ttl.enabled and not ttl.attribute_name:
        problems.append(Problem("spec.timeToLive.attributeName", "required when timeToLive.enabled is true"))
    if spec.resource_policy:
        try:
            json.loads(spec.resource_policy)
        except ValueError as error:
            problems.append(Problem("spec.resourcePolicy", f"is not a JSON document ({error})"))
    return problems


def _tags(spec: TableSpec) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for i, tag in enumerate(spec.tags or []):
        if tag.key.startswith("aws:"):
            problems.append(Problem(f"spec.tags[{i}].key", 'the "aws:" prefix is reserved for AWS'))
        elif tag.key in seen:
            problems.append(Problem(f"spec.tags[{i}].key", f'"{tag.key}" is given twice'))
        seen.add(tag.key)
    return problems


def _replicas(spec: TableSpec) -> list[Problem]:
    if not spec.table_replicas:
        return []
    # A replica needs a NEW_AND_OLD_IMAGES stream: AWS says so when the replica is added, after the table is made.
    problems = []
    indexes = {g.index_name for g in spec.global_secondary_indexes or []}
    regions: set[str] = set()
    for i, replica in enumerate(spec.table_replicas):
        if replica.region_name in regions:
            problems.append(Problem(f"spec.tableReplicas[{i}].regionName", f'"{replica.region_name}" is given twice'))
        regions.add(replica.region_name)
        problems += [
            Problem(
                f"spec.tableReplicas[{i}].globalSecondaryIndexes[{j}].indexName",
                f'"{g.index_name}" is not in spec.globalSecondaryIndexes',
            )
            for j, g in enumerate(replica.global_secondary_indexes or [])
            if g.index_name not in indexes
        ]
    return problems


def _lookup(wire: dict[str, Any], path: str) -> Any:
    value: Any = wire
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value
