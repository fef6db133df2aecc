"""The Backup's and FieldExport's decisions, the export path and value, and their drift classes: pure logic."""

from __future__ import annotations

from typing import Any

import pytest

from ack.backup import (
    AwaitBackup,
    BackupReady,
    BackupResource,
    CreateBackup,
    DeleteBackup,
    ReleaseBackup,
    decide_backup,
    status_from_backup,
)
from ack.drift import DriftClass, backup_check, export_check
from ack.field_export import (
    AwaitExport,
    ExportInputs,
    FieldExportResource,
    Refuse,
    SkipExport,
    WriteExport,
    decide_export,
    export_refusal,
    export_value,
    parse_path,
)
from ack.kinds import BACKUP, FIELD_EXPORT, KINDS, TABLE, Key, kind_named
from ack.lifecycle import Refuse
from ack.manifests import ManifestError, parse_manifests
from controller.controller import ExportIndex

BACKUP_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/backup/01700000000000-abcdef12"


def backup(spec: dict[str, Any] | None = None, annotations: dict[str, str] | None = None, *, made: bool = True,
           deleting: bool = False) -> BackupResource:
    meta: dict[str, Any] = {"name": "nightly", "namespace": "shop", "generation": 1,
                            "annotations": annotations or {}, "finalizers": [BACKUP.finalizer]}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    status = {"ackResourceMetadata": {"arn": BACKUP_ARN, "ownerAccountID": "123456789012", "region": "us-east-1"}} \
        if made else {}
    return BackupResource.parse({"metadata": meta, "spec": spec or {"backupName": "nightly", "tableName": "orders"},
                                 "status": status}, BACKUP.finalizer)


def described(status: str = "AVAILABLE", name: str = "nightly", table: str = "orders") -> dict[str, Any]:
    return {"BackupDetails": {"BackupArn": BACKUP_ARN, "BackupName": name, "BackupStatus": status,
                              "BackupType": "USER", "BackupSizeBytes": 123,
                              "BackupCreationDateTime": "2026-12-01T10:00:00Z"},
            "SourceTableDetails": {"TableName": table, "TableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/"
                                                                   + table}}


# -------------------------------------------------------------------------------------------- Backup


def test_a_backup_is_made_once_awaited_while_creating_then_ready() -> None:
    assert decide_backup(backup(made=False), None) == CreateBackup({"TableName": "orders", "BackupName": "nightly"})
    assert isinstance(decide_backup(backup(), described("CREATING")), AwaitBackup)
    assert decide_backup(backup(), described()) == BackupReady()


def test_a_backup_deleted_outside_the_cluster_is_made_again_as_ack_does() -> None:
    assert isinstance(decide_backup(backup(), None), CreateBackup)
    assert isinstance(decide_backup(backup(annotations={"services.k8s.aws/read-only": "true"}), None), Refuse)


@pytest.mark.parametrize("spec, field", [
    ({"backupName": "weekly", "tableName": "orders"}, "spec.backupName"),
    ({"backupName": "nightly", "tableName": "customers"}, "spec.tableName"),
])
def test_a_backup_cannot_change_terminal_naming_the_field(spec: dict[str, str], field: str) -> None:
    decision = decide_backup(backup(spec), described())
    assert isinstance(decision, Refuse) and decision.reason == "Immutable" and field in decision.message


def test_a_backups_table_may_be_named_by_arn() -> None:
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    assert decide_backup(backup({"backupName": "nightly", "tableName": arn}), described()) == BackupReady()


def test_deleting_a_backup_respects_the_deletion_policy_and_waits_while_creating() -> None:
    assert decide_backup(backup(deleting=True), described()) == DeleteBackup(BACKUP_ARN)
    assert isinstance(decide_backup(backup(deleting=True), described("CREATING")), AwaitBackup)
    assert decide_backup(backup(deleting=True), None) == ReleaseBackup("Deleted", "")
    kept = decide_backup(backup({"backupName": "nightly", "tableName": "orders"},
                                {"services.k8s.aws/deletion-policy": "retain"}, deleting=True), described())
    assert isinstance(kept, ReleaseBackup) and kept.state == "Retained"
    assert decide_backup(backup(deleting=True), described(), namespace_policy="retain").state == "Retained"
    assert decide_backup(backup(deleting=True), described(), default_policy="retain").state == "Retained"
    refused = decide_backup(backup(deleting=True), described(), namespace_policy="sometimes")
    assert isinstance(refused, Refuse) and "sometimes" in refused.message


def test_bad_backup_specs_and_annotations_are_refused_naming_the_field() -> None:
    bad = backup({"backupName": "x", "tableName": "orders"}, made=False)  # AWS: 3 to 255 characters
    decision = decide_backup(bad, None)
    assert isinstance(decision, Refuse) and decision.message.startswith("spec.backupName")
    adopting = decide_backup(backup(annotations={"services.k8s.aws/adoption-policy": "adopt"}, made=False), None)
    assert isinstance(adopting, Refuse) and "adoption-policy" in adopting.message


def test_a_backups_status_is_acks() -> None:
    status = status_from_backup(described()["BackupDetails"])
    assert status == {"ackResourceMetadata": {"arn": BACKUP_ARN, "ownerAccountID": "123456789012",
                                              "region": "us-east-1"},
                      "backupCreationDateTime": "2026-12-01T10:00:00Z", "backupSizeBytes": 123,
                      "backupStatus": "AVAILABLE", "backupType": "USER"}


def test_a_backups_drift_class() -> None:
    assert backup_check(backup(), described(), "remediate").drift_class == DriftClass.IN_SYNC
    missing = backup_check(backup(), None, "remediate")
    assert (missing.drift_class, missing.remediable, missing.key) == (DriftClass.MISSING, True,
                                                                       Key("Backup", "shop", "nightly"))
    assert backup_check(backup(made=False), None, "remediate").drift_class == DriftClass.NOT_READY
    assert backup_check(backup(), described("CREATING"), "remediate").drift_class == DriftClass.NOT_READY
    changed = backup_check(backup({"backupName": "weekly", "tableName": "orders"}), described(), "remediate")
    assert (changed.drift_class, changed.reason) == (DriftClass.REFUSED, "Immutable")
    assert backup_check(backup(), None, "remediate", error="DescribeBackup: throttled").drift_class == DriftClass.ERROR


# ---------------------------------------------------------------------------------------- FieldExport


def export(to: dict[str, Any] | None = None, path: str = ".status.ackResourceMetadata.arn",
           source: dict[str, str] | None = None) -> FieldExportResource:
    spec = {"from": {"path": path, "resource": source or {"group": "dynamodb.services.k8s.aws", "kind": "Table",
                                                          "name": "orders"}},
            "to": to or {"kind": "configmap", "name": "app-config"}}
    return FieldExportResource.parse({"metadata": {"name": "orders-arn", "namespace": "shop", "generation": 1},
                                      "spec": spec}, FIELD_EXPORT.finalizer)


def table(synced: bool = True, arn: str = "arn:aws:dynamodb:us-east-1:123456789012:table/orders") -> dict[str, Any]:
    return {"spec": {"tableName": "orders", "deletionProtectionEnabled": True, "provisionedThroughput":
                     {"readCapacityUnits": 5}},
            "status": {"ackResourceMetadata": {"arn": arn}, "itemCount": 0, "replicas": [{"regionName": "eu-west-1"}],
                       "conditions": [{"type": "ACK.ResourceSynced", "status": "True" if synced else "False"}]}}


@pytest.mark.parametrize("path, value", [
    (".status.ackResourceMetadata.arn", "arn:aws:dynamodb:us-east-1:123456789012:table/orders"),
    (".spec.tableName", "orders"),
    (".spec.deletionProtectionEnabled", "true"),  # ACK: booleans as true/false
    (".spec.provisionedThroughput.readCapacityUnits", "5"),  # integers in decimal
    (".status.itemCount", "0"),
    (".status.replicas[0].regionName", "eu-west-1"),
    ('.status["itemCount"]', "0"),
    (".status.latestStreamARN", None),  # not there
    (".status.replicas", None),  # ACK exports no list or mapping
    (".status.replicas[3].regionName", None),
])
def test_export_values_are_what_ack_exports(path: str, value: str | None) -> None:
    assert export_value(table(), path) == value


@pytest.mark.parametrize("path", ["status.arn", ".status..arn", ".status[x]", ".status.", ".a b"])
def test_a_path_not_understood_is_refused_naming_the_field(path: str) -> None:
    with pytest.raises(ValueError):
        parse_path(path)
    refused = export_refusal(export(path=path), served=True)
    assert isinstance(refused, Refuse) and refused.message.startswith("spec.from.path")


def test_an_export_waits_for_its_source_then_writes_only_what_differs() -> None:
    resource = export()
    assert export_refusal(resource, served=True) is None
    assert decide_export(resource, ExportInputs(None)).reason == "SourceNotFound"
    assert decide_export(resource, ExportInputs(table(synced=False))).reason == "SourceNotSynced"
    missing = decide_export(resource, ExportInputs(table(), target_exists=False))
    assert isinstance(missing, AwaitExport) and missing.reason == "TargetNotFound" and "spec.to" in missing.message
    write = decide_export(resource, ExportInputs(table(), True, None))
    assert write == WriteExport("arn:aws:dynamodb:us-east-1:123456789012:table/orders", None) and write.needed
    assert not decide_export(resource, ExportInputs(table(), True, write.value)).needed
    nowhere = decide_export(export(path=".status.latestStreamARN"), ExportInputs(table(), True, None))
    assert isinstance(nowhere, Refuse) and nowhere.reason == "PathNotFound"


def test_an_exports_key_defaults_to_acks_and_its_target_stays_in_its_namespace() -> None:
    assert export().target_key == "shop.orders-arn"
    assert export({"kind": "secret", "name": "s", "key": "TABLE_ARN"}).target_key == "TABLE_ARN"
    elsewhere = export_refusal(export({"kind": "configmap", "name": "c", "namespace": "other"}), served=True)
    assert isinstance(elsewhere, Refuse) and elsewhere.message.startswith("spec.to.namespace")
    foreign = export_refusal(export(source={"group": "rds.services.k8s.aws", "kind": "DBInstance", "name": "db"}),
                             served=False)
    assert isinstance(foreign, SkipExport)


def test_an_exports_drift_class() -> None:
    resource = export()
    value = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    assert export_check(resource, WriteExport(value, value), "remediate").drift_class == DriftClass.IN_SYNC
    changed = export_check(resource, WriteExport(value, "edited by hand"), "remediate")
    assert (changed.drift_class, changed.remediable) == (DriftClass.DRIFTED, True)
    assert [(d.desired, d.actual) for d in changed.differences] == [(value, "edited by hand")]
    assert export_check(resource, AwaitExport("SourceNotSynced", "x"), "remediate").drift_class == DriftClass.NOT_READY
    secret = export_check(export({"kind": "secret", "name": "s"}), WriteExport(value, "old"), "remediate")
    assert value not in repr(secret.differences) and "old" not in repr(secret.differences)


# ---------------------------------------------------------------------------------------------- kinds


def test_the_kinds_served_and_their_names() -> None:
    assert [kind.crd_name for kind in KINDS.values()] == [
        "tables.dynamodb.services.k8s.aws", "backups.dynamodb.services.k8s.aws", "fieldexports.services.k8s.aws"]
    assert (TABLE.finalizer, BACKUP.finalizer, FIELD_EXPORT.finalizer) == (
        "finalizers.dynamodb.services.k8s.aws/Table", "finalizers.dynamodb.services.k8s.aws/Backup",
        "finalizers.services.k8s.aws/FieldExport")
    assert kind_named("services.k8s.aws/v1alpha1", "FieldExport") is FIELD_EXPORT
    assert kind_named("dynamodb.services.k8s.aws/v1alpha1", "FieldExport") is None
    assert str(Key("Backup", "shop", "nightly")) == "Backup shop/nightly"


def test_manifests_of_every_kind_served_are_read_others_refused_naming_them() -> None:
    text = """
apiVersion: dynamodb.services.k8s.aws/v1alpha1
kind: Backup
metadata: {name: nightly}
spec: {backupName: nightly, tableName: orders}
---
apiVersion: services.k8s.aws/v1alpha1
kind: FieldExport
metadata: {name: orders-arn}
spec: {from: {path: .spec.tableName, resource: {group: dynamodb.services.k8s.aws, kind: Table, name: orders}},
       to: {kind: configmap, name: app}}
"""
    assert [doc["kind"] for doc in parse_manifests(text, "f.yaml")] == ["Backup", "FieldExport"]
    with pytest.raises(ManifestError, match="'v1'/'ConfigMap'; only .*Table.*Backup.*FieldExport"):
        parse_manifests("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nspec: {}\n", "f.yaml")


def test_the_export_index_follows_each_exports_source() -> None:
    index = ExportIndex()
    raw = {"apiVersion": "services.k8s.aws/v1alpha1", "kind": "FieldExport", **export().raw}
    index.note("ADDED", raw)
    orders = Key("Table", "shop", "orders")
    assert index.reading(orders) == [Key("FieldExport", "shop", "orders-arn")]
    assert index.reading(Key("Table", "other", "orders")) == []  # the source is in the export's own namespace
    moved = {**raw, "spec": {**raw["spec"], "from": {**raw["spec"]["from"],
                                                      "resource": {"group": "dynamodb.services.k8s.aws",
                                                                   "kind": "Backup", "name": "nightly"}}}}
    index.note("MODIFIED", moved)
    assert index.reading(orders) == [] and index.reading(Key("Backup", "shop", "nightly")) != []
    index.note("DELETED", moved)
    assert index.reading(Key("Backup", "shop", "nightly")) == []
