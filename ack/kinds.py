"""The kinds this project serves, as ACK ships them: DynamoDB's Table and Backup, and the runtime's FieldExport; and
the key by which the controller's work queue names one resource of any of them.

Each kind's models (ack/model.py, ack/backup.py, ack/field_export.py) are the one source of its CRD (ack/crd.py);
what is said here is what the API server needs to serve it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import BaseModel

from ack.backup import Backup, BackupSpec, BackupStatus
from ack.field_export import FIELD_EXPORT_GROUP, FieldExport, FieldExportSpec, FieldExportStatus
from ack.model import GROUP, KIND, PLURAL, VERSION, Table, TableSpec, TableStatus

# The columns of `kubectl get`, as ACK's CRDs have them: the ARN (with -o wide), the kind's own, Synced, Age.
_ARN = {"name": "ARN", "type": "string", "priority": 1, "jsonPath": ".status.ackResourceMetadata.arn"}
_SYNCED_AGE = (
    {"name": "Synced", "type": "string", "jsonPath": '.status.conditions[?(@.type=="ACK.ResourceSynced")].status'},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)


def _columns(*own: tuple[str, str, str]) -> tuple[dict[str, Any], ...]:
    return (_ARN, *({"name": name, "type": kind, "jsonPath": path} for name, kind, path in own), *_SYNCED_AGE)


TABLE_PRINTER_COLUMNS = _columns(("CLASS", "string", ".spec.tableClass"), ("STATUS", "string", ".status.tableStatus"))
# SIZE reads the field that exists (ACK's reads .status.backupSize, always empty).
BACKUP_PRINTER_COLUMNS = _columns(("SIZE", "integer", ".status.backupSizeBytes"),
                                  ("STATUS", "string", ".status.backupStatus"),
                                  ("TABLENAME", "string", ".spec.tableName"), ("TYPE", "string", ".status.backupType"))


@dataclass(frozen=True, eq=False)  # each kind is one object: compared and hashed by identity
class Kind:
    """One kind of custom resource: its names on the API server, and the models its schema is generated from."""

    group: str
    kind: str
    plural: str
    model: type[BaseModel]  # the whole resource; its docstring describes the CRD
    spec: type[BaseModel]
    status: type[BaseModel]
    printer_columns: tuple[dict[str, Any], ...] = ()
    version: str = VERSION

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def finalizer(self) -> str:
        """ACK's finalizer for the kind: finalizers.GROUP/KIND."""
        return f"finalizers.{self.group}/{self.kind}"


TABLE = Kind(GROUP, KIND, PLURAL, Table, TableSpec, TableStatus, TABLE_PRINTER_COLUMNS)
BACKUP = Kind(GROUP, "Backup", "backups", Backup, BackupSpec, BackupStatus, BACKUP_PRINTER_COLUMNS)
FIELD_EXPORT = Kind(FIELD_EXPORT_GROUP, "FieldExport", "fieldexports", FieldExport, FieldExportSpec,
                    FieldExportStatus)
KINDS: dict[str, Kind] = {kind.kind: kind for kind in (TABLE, BACKUP, FIELD_EXPORT)}


def kind_named(api_version: Any, kind: Any) -> Kind | None:
    """The kind a manifest's apiVersion and kind name, if this project serves it."""
    found = KINDS.get(kind) if isinstance(kind, str) else None
    return found if found is not None and found.api_version == api_version else None


def kind_of(resource: dict[str, Any]) -> Kind:
    """The kind of a resource the API server returned (or a manifest already checked)."""
    found = kind_named(resource.get("apiVersion"), resource.get("kind"))
    if found is None:
        raise ValueError(f"{resource.get('apiVersion')}/{resource.get('kind')} is not a kind this project serves")
    return found


class Key(NamedTuple):
    """One resource in the work queue: its kind's name, namespace and name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @classmethod
    def of(cls, resource: dict[str, Any], kind: Kind | None = None) -> Key:
        meta = resource["metadata"]
        return cls((kind or kind_of(resource)).kind, meta.get("namespace") or "default", meta["name"])
