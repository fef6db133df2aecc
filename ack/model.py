"""The Table resource of ACK's DynamoDB controller (dynamodb.services.k8s.aws/v1alpha1), as pydantic models.

Field names on the wire are ACK's exactly (camelCase); Python code uses snake_case attributes. These
models are the one source of truth: the CRD (ack.crd) is generated from them, and the field
descriptions become the CRD's descriptions and the forms of the Prefect UI.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints
from pydantic.alias_generators import to_camel

GROUP = "dynamodb.services.k8s.aws"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Table"
LIST_KIND = "TableList"
PLURAL = "tables"
SINGULAR = "table"
CRD_NAME = f"{PLURAL}.{GROUP}"
FINALIZER = f"finalizers.{GROUP}/{KIND}"

# Annotations, as ACK names them. A namespace annotation sets the default deletion policy.
DELETION_POLICY = "services.k8s.aws/deletion-policy"  # delete | retain
NAMESPACE_DELETION_POLICY = f"{GROUP}/deletion-policy"
ADOPTION_POLICY = "services.k8s.aws/adoption-policy"  # adopt | adopt-or-create
ADOPTION_FIELDS = "services.k8s.aws/adoption-fields"  # JSON, e.g. {"tableName": "..."}
ADOPTED_ANNOTATION = "services.k8s.aws/adopted"  # "true" once the resource took over an existing table
READ_ONLY = "services.k8s.aws/read-only"

# Opt-ins and policies of this project (ACK has none): destroying what the spec does not name,
# recreating a table deleted outside the cluster, and what drift checks may do (remediate | detect-only).
ALLOW_DESTRUCTIVE = "ackflow.dev/allow-destructive"
RECREATE_MISSING = "ackflow.dev/recreate-missing"
DRIFT_POLICY = "ackflow.dev/drift-policy"


# Condition types.
SYNCED = "ACK.ResourceSynced"
TERMINAL = "ACK.Terminal"
RECOVERABLE = "ACK.Recoverable"
ADOPTED = "ACK.Adopted"
ADVISORY = "ACK.Advisory"
# ACK's summary condition, True exactly when ACK.ResourceSynced is: `kubectl wait --for=condition=Ready` works.
READY = "Ready"

# Table statuses in which the resource counts as synced (as in ACK).
SYNCED_TABLE_STATUSES = frozenset({"ACTIVE", "ARCHIVED"})

AttributeType = Literal["S", "N", "B"]
KeyType = Literal["HASH", "RANGE"]
BillingMode = Literal["PROVISIONED", "PAY_PER_REQUEST"]
ProjectionType = Literal["ALL", "KEYS_ONLY", "INCLUDE"]
StreamViewType = Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"]
SSEType = Literal["AES256", "KMS"]
TableClass = Literal["STANDARD", "STANDARD_INFREQUENT_ACCESS"]
# AWS's action is ENABLE|DISABLE; ACK's own samples write ENABLED, so all four are accepted.
ContributorInsights = Literal["ENABLE", "ENABLED", "DISABLE", "DISABLED"]
ConditionStatus = Literal["True", "False", "Unknown"]

# AWS's limits on names, enforced by the API server through the CRD (AWS would refuse them later).
TableOrIndexName = Annotated[str, StringConstraints(min_length=3, max_length=255, pattern=r"^[a-zA-Z0-9_.-]+$")]
AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def rfc3339(value: datetime) -> str:
    """Kubernetes' timestamp form: UTC, whole seconds, a Z (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]


class WireModel(BaseModel):
    """A resource part as it is on the wire: ACK's camelCase names, unknown keys refused."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="forbid")

    def dump(self) -> dict[str, Any]:
        """The wire form: ACK's field names, unset fields left out, timestamps as RFC 3339."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ReportedModel(WireModel):
    # Status is written by controllers (ours, or ACK's with its extra fields): tolerate unknown keys.
    model_config = ConfigDict(extra="ignore")


# ---------------------------------------------------------------------------------------- spec


class AttributeDefinition(WireModel):
    """An attribute used by the key schema of the table or of an index."""

    attribute_name: AttributeName = Field(description="Name of the attribute.")
    attribute_type: AttributeType = Field(description="S (string), N (number) or B (binary).")


class KeySchemaElement(WireModel):
    """One attribute of a primary key: the partition (HASH) key or the sort (RANGE) key."""

    attribute_name: AttributeName = Field(description="Name of the key attribute; it must be in attributeDefinitions.")
    key_type: KeyType = Field(description="HASH for the partition key, RANGE for the sort key.")


class ProvisionedThroughput(WireModel):
    """Provisioned read and write capacity (billing mode PROVISIONED only)."""

    read_capacity_units: int = Field(description="Strongly consistent reads per second (at least 1).")
    write_capacity_units: int = Field(description="Writes per second (at least 1).")


class OnDemandThroughput(WireModel):
    """Maximum request units of an on-demand (PAY_PER_REQUEST) table or index; -1 removes a limit."""

    max_read_request_units: int | None = Field(None, description="Maximum read request units.")
    max_write_request_units: int | None = Field(None, description="Maximum write request units.")


class Projection(WireModel):
    """The attributes copied from the table into an index, beyond its key attributes."""

    projection_type: ProjectionType = Field(
        description="ALL attributes, KEYS_ONLY, or INCLUDE the attributes named in nonKeyAttributes."
    )
    non_key_attributes: list[str] | None = Field(
        None, description="Non-key attributes projected into the index (projectionType INCLUDE only)."
    )


class GlobalSecondaryIndex(WireModel):
    """An index with its own partition key; it can be added and removed after the table exists."""

    index_name: TableOrIndexName = Field(description="Name of the index, unique within the table.")
    key_schema: list[KeySchemaElement] = Field(description="The index key: one HASH element, then an optional RANGE.")
    projection: Projection = Field(description="Attributes copied into the index.")
    provisioned_throughput: ProvisionedThroughput | None = Field(
        None, description="The index's capacity; required when the table's billing mode is PROVISIONED."
    )
    on_demand_throughput: OnDemandThroughput | None = Field(
        None, description="Maximum request units of the index (PAY_PER_REQUEST only)."
    )


class LocalSecondaryIndex(WireModel):
    """An index sharing the table's partition key with another sort key; fixed at table creation."""

    index_name: TableOrIndexName = Field(description="Name of the index, unique within the table.")
    key_schema: list[KeySchemaElement] = Field(description="The table's HASH key, then the index's RANGE key.")
    projection: Projection = Field(description="Attributes copied into the index.")


class StreamSpecification(WireModel):
    """DynamoDB Streams settings."""

    stream_enabled: bool = Field(description="Whether the table has a stream.")
    stream_view_type: StreamViewType | None = Field(
        None,
        description="What a stream record holds: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES "
        "(required when the stream is enabled; it cannot change in place).",
    )


class AWSResourceReference(WireModel):
    """A Kubernetes resource to take the value from."""

    name: str | None = Field(None, description="Name of the referenced resource.")
    namespace: str | None = Field(None, description="Namespace of the referenced resource.")


class AWSResourceReferenceWrapper(WireModel):
    """A reference to another Kubernetes resource (ACK's reference form)."""

    from_: AWSResourceReference | None = Field(None, alias="from", description="The referenced resource.")


class SSESpecification(WireModel):
    """Server-side encryption settings."""

    enabled: bool | None = Field(
        None,
        description="true: a KMS key (AWS managed unless kmsMasterKeyID names one); false or unset: an AWS owned key.",
    )
    sse_type: SSEType | None = Field(None, description="KMS (the default when enabled).")
    kms_master_key_id: str | None = Field(
        None, alias="kmsMasterKeyID", description="KMS key id, ARN, alias name or alias ARN (only when enabled)."
    )
    kms_master_key_ref: AWSResourceReferenceWrapper | None = Field(
        None, description="A KMS Key resource to take kmsMasterKeyID from (ACK's reference form)."
    )


class TimeToLive(WireModel):
    """Time to Live: items expire at the epoch time stored in an attribute."""

    attribute_name: str | None = Field(None, description="Attribute holding the expiry time (required when enabled).")
    enabled: bool | None = Field(None, description="Whether expired items are deleted.")


class ContinuousBackups(WireModel):
    """Continuous backups."""

    point_in_time_recovery_enabled: bool | None = Field(None, description="Whether point-in-time recovery is on.")


class Tag(WireModel):
    """A label on the table; keys starting with aws: are AWS's own."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(description="Tag key.")
    value: Annotated[str, StringConstraints(max_length=256)] = Field(description="Tag value (may be empty).")


class ReplicaThroughputOverride(WireModel):
    """A replica's own read capacity."""

    read_capacity_units: int | None = Field(None, description="Read capacity units of the replica.")


class ReplicaGlobalSecondaryIndex(WireModel):
    """A replica's settings for one global secondary index."""

    index_name: str | None = Field(None, description="Name of the global secondary index.")
    provisioned_throughput_override: ReplicaThroughputOverride | None = Field(
        None, description="Read capacity of the index in this replica, if not the table's."
    )


class Replica(WireModel):
    """A replica of the table in another region (global tables version 2019.11.21)."""

    region_name: str = Field(description="Region of the replica.")
    kms_master_key_id: str | None = Field(
        None, alias="kmsMasterKeyID", description="KMS key of the replica, if not AWS's default."
    )
    provisioned_throughput_override: ReplicaThroughputOverride | None = Field(
        None, description="Read capacity of the replica, if not the table's."
    )
    global_secondary_indexes: list[ReplicaGlobalSecondaryIndex] | None = Field(
        None, description="Per-index overrides of the replica."
    )
    table_class_override: TableClass | None = Field(None, description="Table class of the replica, if not the table's.")


class TableSpec(WireModel):
    """TableSpec defines the desired state of a DynamoDB table."""

    table_name: TableOrIndexName = Field(description="Name of the table. Renaming needs a new resource.")
    attribute_definitions: list[AttributeDefinition] = Field(
        description="Every attribute used by the key schema of the table or an index, and no other."
    )
    key_schema: list[KeySchemaElement] = Field(
        description="The primary key: one HASH element, then an optional RANGE element. Immutable."
    )
    billing_mode: BillingMode | None = Field(
        None, description="PROVISIONED (the default) or PAY_PER_REQUEST (on-demand)."
    )
    provisioned_throughput: ProvisionedThroughput | None = Field(
        None, description="Table capacity: required with PROVISIONED, refused with PAY_PER_REQUEST."
    )
    on_demand_throughput: OnDemandThroughput | None = Field(
        None, description="Maximum request units of an on-demand table."
    )
    global_secondary_indexes: list[GlobalSecondaryIndex] | None = Field(
        None,
        description="Global secondary indexes; changed one per update, key or projection changes recreate the index.",
    )
    local_secondary_indexes: list[LocalSecondaryIndex] | None = Field(
        None, description="Local secondary indexes; defined at creation only. Immutable."
    )
    stream_specification: StreamSpecification | None = Field(None, description="DynamoDB Streams settings.")
    sse_specification: SSESpecification | None = Field(None, description="Server-side encryption settings.")
    table_class: TableClass | None = Field(None, description="STANDARD (the default) or STANDARD_INFREQUENT_ACCESS.")
    deletion_protection_enabled: bool | None = Field(
        None, description="When true, the table cannot be deleted (default false)."
    )
    time_to_live: TimeToLive | None = Field(None, description="Time to Live settings (default disabled).")
    continuous_backups: ContinuousBackups | None = Field(
        None, description="Point-in-time recovery settings (default disabled)."
    )
    contributor_insights: ContributorInsights | None = Field(
        None, description="CloudWatch Contributor Insights: ENABLE(D) or DISABLE(D)."
    )
    resource_policy: str | None = Field(None, description="A resource-based policy document, as JSON text.")
    tags: list[Tag] | None = Field(None, description="Tags of the table.")
    table_replicas: list[Replica] | None = Field(
        None, description="Replicas in other regions; needs a stream with NEW_AND_OLD_IMAGES."
    )


# -------------------------------------------------------------------------------------- status


class ResourceMetadata(ReportedModel):
    """The AWS identity of the table."""

    arn: str | None = Field(None, description="ARN of the table.")
    owner_account_id: str = Field(alias="ownerAccountID", description="AWS account that owns the table.")
    region: str = Field(description="AWS region of the table.")


class Condition(ReportedModel):
    """A condition of the resource, as ACK reports them."""

    type: str = Field(description="Ready, ACK.ResourceSynced, ACK.Terminal, ACK.Recoverable, ACK.Adopted or "
                                  "ACK.Advisory.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str | None = Field(None, description="Why the condition last changed, in one word.")
    message: str | None = Field(None, description="What happened, for a person.")
    last_transition_time: Timestamp | None = Field(None, description="When the status last changed.")


class IndexThroughputDescription(ReportedModel):
    """An index's provisioned capacity as AWS reports it."""

    read_capacity_units: int | None = Field(None, description="Read capacity units.")
    write_capacity_units: int | None = Field(None, description="Write capacity units.")
    number_of_decreases_today: int | None = Field(None, description="Capacity decreases made today.")
    last_increase_date_time: Timestamp | None = Field(None, description="Last capacity increase.")
    last_decrease_date_time: Timestamp | None = Field(None, description="Last capacity decrease.")


class GlobalSecondaryIndexDescription(ReportedModel):
    """A global secondary index as AWS reports it."""

    index_name: str | None = Field(None, description="Name of the index.")
    index_status: str | None = Field(None, description="CREATING, UPDATING, DELETING or ACTIVE.")
    index_arn: str | None = Field(None, alias="indexARN", description="ARN of the index.")
    backfilling: bool | None = Field(None, description="Whether the index is being filled from the table.")
    index_size_bytes: int | None = Field(None, description="Size of the index (updated about every six hours).")
    item_count: int | None = Field(None, description="Items in the index (updated about every six hours).")
    key_schema: list[KeySchemaElement] | None = Field(None, description="The index key.")
    projection: Projection | None = Field(None, description="Attributes copied into the index.")
    provisioned_throughput: IndexThroughputDescription | None = Field(None, description="The index's capacity.")
    on_demand_throughput: OnDemandThroughput | None = Field(None, description="The index's on-demand limits.")


class ReplicaDescription(ReportedModel):
    """A replica as AWS reports it."""

    region_name: str | None = Field(None, description="Region of the replica.")
    replica_status: str | None = Field(None, description="CREATING, UPDATING, DELETING, ACTIVE, ...")
    replica_status_description: str | None = Field(None, description="Details of the replica status.")
    kms_master_key_id: str | None = Field(None, alias="kmsMasterKeyID", description="KMS key of the replica.")


class DriftDifference(ReportedModel):
    """One field that differed in the last drift check (values as JSON text)."""

    path: str = Field(description="The field, e.g. spec.provisionedThroughput.readCapacityUnits.")
    desired: str | None = Field(None, description="The value the spec asks for.")
    actual: str | None = Field(None, description="The value AWS reported.")


class DriftCheck(ReportedModel):
    """The outcome of the last drift check."""

    time: Timestamp | None = Field(None, description="When the check ran.")
    class_: str | None = Field(
        None, alias="class",
        description="IN_SYNC, DRIFTED (reported), REMEDIATED, MISSING, NOT_READY, REFUSED or ERROR.",
    )
    differences: list[DriftDifference] | None = Field(None, description="What differed.")


class TableStatus(ReportedModel):
    """TableStatus defines the observed state of the table."""

    ack_resource_metadata: ResourceMetadata | None = Field(None, description="ARN, account and region of the table.")
    conditions: list[Condition] | None = Field(None, description="ACK.ResourceSynced, ACK.Terminal and the like.")
    table_status: str | None = Field(
        None,
        description="CREATING, UPDATING, DELETING, ACTIVE, ARCHIVING, ARCHIVED, INACCESSIBLE_ENCRYPTION_CREDENTIALS.",
    )
    table_id: str | None = Field(None, alias="tableID", description="Unique identifier of the table.")
    creation_date_time: Timestamp | None = Field(None, description="When the table was created.")
    item_count: int | None = Field(None, description="Items in the table (updated about every six hours).")
    table_size_bytes: int | None = Field(None, description="Size of the table (updated about every six hours).")
    latest_stream_arn: str | None = Field(None, alias="latestStreamARN", description="ARN of the latest stream.")
    latest_stream_label: str | None = Field(None, description="Timestamp label of the latest stream.")
    global_secondary_indexes_descriptions: list[GlobalSecondaryIndexDescription] | None = Field(
        None, description="The global secondary indexes as AWS reports them."
    )
    replicas: list[ReplicaDescription] | None = Field(None, description="The replicas as AWS reports them.")
    observed_generation: int | None = Field(None, description="The metadata.generation last reconciled.")
    managed_indexes: list[str] | None = Field(
        None, description="The global secondary indexes an applied spec named: removing one from the spec deletes "
                          "it; an index the spec never named is never deleted without ackflow.dev/allow-destructive.")
    managed_replicas: list[str] | None = Field(
        None, description="The regions of replicas an applied spec named: removing one from the spec deletes that "
                          "replica; a replica the spec never named is never deleted without ackflow.dev/allow-destructive.")
    managed_resource_policy: bool | None = Field(
        None, description="Whether an applied spec named a resource policy: removing it from the spec then deletes "
                          "the policy; a policy the spec never named is left as it is.")
    last_drift_check: DriftCheck | None = Field(None, description="The outcome of the last drift check.")


# ------------------------------------------------------------------------------------ resource


class ObjectMeta(WireModel):
    """The Kubernetes object metadata this project reads; other keys are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None
    generation: int | None = None
    resource_version: str | None = None
    uid: str | None = None
    deletion_timestamp: str | None = None


class Table(WireModel):
    """Table is the Schema for the Tables API: a DynamoDB table managed the ACK way."""

    api_version: Literal["dynamodb.services.k8s.aws/v1alpha1"] = API_VERSION
    kind: Literal["Table"] = KIND
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: TableSpec
    status: TableStatus | None = None
