"""The Backup resource of ACK's DynamoDB controller (dynamodb.services.k8s.aws/v1alpha1): its model, and what to
do with it given the backup AWS describes, as one pure function.

ACK's Backup is CreateBackup once, DescribeBackup until AVAILABLE, DeleteBackup when the resource is deleted.
Where ACK falls short this one does not: a spec change (AWS cannot change a backup) is Terminal, not retried
forever as "not implemented"; CreateBackup refused while the table is not ACTIVE comes back after the
resource's backoff (ACK.Recoverable), as in ACK; and the deletion policy is respected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ack.model import (
    ADOPTION_POLICY,
    GROUP,
    Condition,
    ObjectMeta,
    ResourceMetadata,
    TableOrIndexName,
    Timestamp,
    WireModel,
    ReportedModel,
)
from ack.lifecycle import Refuse, keeps
from ack.resource import DeletionPolicy, Identity, Policies, annotations_of, raw_identity
from ack.validate import Problem, typed

BACKUP_API_VERSION = f"{GROUP}/v1alpha1"
BackupStatusName = Literal["CREATING", "AVAILABLE", "DELETED"]


class BackupSpec(WireModel):
    """BackupSpec defines the desired state of a DynamoDB backup. AWS cannot change a backup: both fields are fixed
    once it exists."""

    backup_name: TableOrIndexName = Field(description="Name of the backup.")
    table_name: Annotated[str, StringConstraints(min_length=3, max_length=1024)] = Field(
        description="The table to back up: its name or ARN.")


class BackupStatus(ReportedModel):
    """BackupStatus defines the observed state of the backup."""

    ack_resource_metadata: ResourceMetadata | None = Field(None, description="ARN, account and region of the backup.")
    conditions: list[Condition] | None = Field(None, description="ACK.ResourceSynced, ACK.Terminal and the like.")
    backup_creation_date_time: Timestamp | None = Field(None, description="When the backup was requested.")
    backup_expiry_date_time: Timestamp | None = Field(
        None, description="When a SYSTEM backup expires (AWS Backup's own retention).")
    backup_size_bytes: int | None = Field(None, description="Size of the backup in bytes.")
    backup_status: BackupStatusName | None = Field(None, description="CREATING, AVAILABLE or DELETED.")
    backup_type: Literal["USER", "SYSTEM", "AWS_BACKUP"] | None = Field(None, description="USER, SYSTEM or AWS_BACKUP.")
    observed_generation: int | None = Field(None, description="The metadata.generation last reconciled.")


class Backup(WireModel):
    """Backup is the Schema for the Backups API: an on-demand backup of a DynamoDB table, managed the ACK way."""

    api_version: Literal["dynamodb.services.k8s.aws/v1alpha1"] = BACKUP_API_VERSION
    kind: Literal["Backup"] = "Backup"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: BackupSpec
    status: BackupStatus | None = None


@dataclass(frozen=True)
class BackupResource(Identity):
    """One Backup resource, typed (as ack.resource.TableResource is for a Table)."""

    policies: Policies
    spec: BackupSpec | None
    spec_problems: tuple[Problem, ...]
    status: BackupStatus
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def arn(self) -> str:
        """The backup this resource made ("" before CreateBackup answered)."""
        metadata = self.status.ack_resource_metadata
        return metadata.arn or "" if metadata else ""

    @property
    def raw_status(self) -> dict[str, Any]:
        return self.raw.get("status") or {}

    @classmethod
    def parse(cls, raw: dict[str, Any], finalizer: str) -> BackupResource:
        spec, problems = typed(BackupSpec, raw.get("spec") or {})
        status = typed(BackupStatus, raw.get("status") or {})[0] or BackupStatus()  # another's we cannot read: afresh
        return cls(**raw_identity(raw, finalizer), policies=Policies.from_annotations(annotations_of(raw)), spec=spec,
                   spec_problems=problems, status=status, raw=raw)


# ------------------------------------------------------------------------------------------ decisions


@dataclass(frozen=True)
class CreateBackup:
    params: dict[str, str]


@dataclass(frozen=True)
class AwaitBackup:
    """AWS is still making the backup (CREATING): look again soon."""

    message: str


@dataclass(frozen=True)
class BackupReady:
    """The backup is AVAILABLE, as the spec says."""


@dataclass(frozen=True)
class DeleteBackup:
    arn: str


@dataclass(frozen=True)
class ReleaseBackup:
    """The resource is being deleted and nothing (more) is done to the backup: `state` Deleted or Retained."""

    state: Literal["Deleted", "Retained"]
    message: str


BackupDecision = Refuse | CreateBackup | AwaitBackup | BackupReady | DeleteBackup | ReleaseBackup


def source_table(live: dict[str, Any]) -> tuple[str, str]:
    """(name, ARN) of the table a DescribeBackup answer's backup was made from."""
    source = live.get("SourceTableDetails") or {}
    return str(source.get("TableName", "")), str(source.get("TableArn", ""))


def decide_backup(resource: BackupResource, live: dict[str, Any] | None, namespace_policy: str | None = None,
                  default_policy: DeletionPolicy = "delete") -> BackupDecision:
    """What to do with `resource` given its backup as DescribeBackup describes it (`BackupDescription`; None when
    there is none, or the resource has made none yet)."""
    if resource.deleting:
        return _deletion(resource, live, namespace_policy, default_policy)
    if resource.policies.problems:
        return Refuse("InvalidAnnotation", "; ".join(map(str, resource.policies.problems)))
    if resource.spec is None:
        return Refuse("InvalidSpec", "; ".join(map(str, resource.spec_problems)))
    if resource.policies.adoption:
        return Refuse("Unsupported", f"metadata.annotations[{ADOPTION_POLICY}]: adopting an existing backup is "
                                           "not supported; leave the annotation out to make a new backup")
    spec = resource.spec
    if live is None:
        if resource.policies.read_only:
            return Refuse("BackupMissing", f"read-only: the backup {spec.backup_name} does not exist")
        # Never made, or deleted outside the cluster: ACK makes it (again); a new backup of the table as it is now.
        return CreateBackup({"TableName": spec.table_name, "BackupName": spec.backup_name})
    details = live.get("BackupDetails") or {}
    changed = []
    if details.get("BackupName") != spec.backup_name:
        changed.append(f"spec.backupName: the backup is named {details.get('BackupName')!r}")
    if spec.table_name not in source_table(live):
        changed.append(f"spec.tableName: the backup is of the table {source_table(live)[0]!r}")
    if changed:
        return Refuse("Immutable", "; ".join(changed) + ": AWS cannot change a backup; create a new Backup "
                                                             "resource for another")
    if details.get("BackupStatus") == "CREATING":
        return AwaitBackup(f"the backup {spec.backup_name} is CREATING")
    return BackupReady()


def _deletion(resource: BackupResource, live: dict[str, Any] | None, namespace_policy: str | None,
              default_policy: DeletionPolicy) -> BackupDecision:
    if not resource.has_finalizer:
        return ReleaseBackup("Deleted", "")
    kept = keeps(resource.policies, namespace_policy, default_policy)
    if isinstance(kept, Refuse):
        return kept
    name = resource.spec.backup_name if resource.spec else resource.name
    if kept:
        return ReleaseBackup("Retained", f"the backup {name} was kept")
    if live is None or (live.get("BackupDetails") or {}).get("BackupStatus") == "DELETED":
        return ReleaseBackup("Deleted", "")
    if (live.get("BackupDetails") or {}).get("BackupStatus") == "CREATING":  # AWS refuses DeleteBackup meanwhile
        return AwaitBackup(f"the backup {name} is CREATING: deleted once AVAILABLE")
    return DeleteBackup(resource.arn)


def status_from_backup(details: dict[str, Any]) -> dict[str, Any]:
    """The status fields of a backup's `BackupDetails` (conditions and observedGeneration are the reconciler's)."""
    arn = str(details.get("BackupArn", ""))
    parts = arn.split(":")  # arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME/backup/ID
    status = {
        "ackResourceMetadata": {"arn": arn, "ownerAccountID": parts[4], "region": parts[3]} if len(parts) >= 6
        else None,
        "backupCreationDateTime": details.get("BackupCreationDateTime"),
        "backupExpiryDateTime": details.get("BackupExpiryDateTime"),
        "backupSizeBytes": details.get("BackupSizeBytes"),
        "backupStatus": details.get("BackupStatus"),
        "backupType": details.get("BackupType"),
    }
    return BackupStatus.model_validate({k: v for k, v in status.items() if v is not None}).dump()
