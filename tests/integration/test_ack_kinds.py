"""The Backup and FieldExport kinds, as ACK ships them, through the real API server and the one reconcile entrance:
applied together with their Table, changed with `kubectl patch --type merge`, deleted with kubectl, drifted out of
band, and refused with the field named."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from kubernetes import client

from ack.kinds import BACKUP, FIELD_EXPORT, KINDS, Kind
from ack.model import RECOVERABLE, SYNCED, TERMINAL
from flows.apply import apply
from flows.drift import drift
from flows.reconcile import reconcile
from tests.integration.tables import CallCounter, dynamodb, kubectl, manifest, simple_spec, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(target) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(target.kube_api())


@pytest.fixture(scope="module")
def core(target) -> client.CoreV1Api:
    return client.CoreV1Api(target.kube_api())


@pytest.fixture()
def namespace(core) -> str:
    name = unique("kinds")
    core.create_namespace({"metadata": {"name": name}})
    return name


def backup_manifest(name: str, table: str, namespace: str, backup_name: str | None = None,
                    annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": BACKUP.api_version, "kind": "Backup", "metadata": meta,
            "spec": {"backupName": backup_name or name, "tableName": table}}


def export_manifest(name: str, source: str, namespace: str, path: str, to: dict[str, Any],
                    kind: str = "Table") -> dict[str, Any]:
    return {"apiVersion": FIELD_EXPORT.api_version, "kind": "FieldExport", "metadata": {"name": name,
                                                                                        "namespace": namespace},
            "spec": {"from": {"path": path, "resource": {"group": "dynamodb.services.k8s.aws", "kind": kind,
                                                         "name": source}}, "to": to}}


def get(api: client.CustomObjectsApi, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
    return api.get_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural, name)


def condition(resource: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in (resource.get("status") or {}).get("conditions", []) if c["type"] == type_), None)


def merge_patch(sandbox, kind: Kind, namespace: str, name: str, patch: dict[str, Any]) -> None:
    done = kubectl(sandbox, "patch", f"{kind.plural}.{kind.group}", name, "-n", namespace, "--type", "merge",
                   "-p", json.dumps(patch))
    assert done.returncode == 0, done.stderr


def one(kind: str, namespace: str, name: str):
    [outcome] = reconcile(namespace=namespace, name=name, kind=kind)
    return outcome


# ------------------------------------------------------------------------------------------------ Backup


def test_a_backup_applied_with_its_table_waits_for_it_then_is_available(target, sandbox, api, namespace):
    table = unique("backed")
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    outcomes = apply([manifest("orders", simple_spec(table), namespace),
                      backup_manifest("nightly", table, namespace)])
    assert [(o.kind, o.state) for o in outcomes] == [("Table", "Synced"), ("Backup", "Synced")], outcomes
    # Made once, whether or not its first CreateBackup came before the table was ACTIVE (refused, then tried again).
    creates = [c["status"] for c in calls.entries() if c["operation"] == "CreateBackup"]
    assert creates[-1] == 200 and creates.count(200) == 1, creates
    resource = get(api, BACKUP, namespace, "nightly")
    status = resource["status"]
    assert status["backupStatus"] == "AVAILABLE" and status["backupType"] == "USER"
    assert status["backupSizeBytes"] >= 0 and status["backupCreationDateTime"].endswith("Z")
    arn = status["ackResourceMetadata"]["arn"]
    assert f":table/{table}/backup/" in arn
    assert condition(resource, SYNCED)["status"] == "True" and condition(resource, TERMINAL) is None
    assert BACKUP.finalizer in resource["metadata"]["finalizers"]
    described = dynamodb(target).describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
    assert described["BackupName"] == "nightly" and described["BackupStatus"] == "AVAILABLE"
    # Reconciled again: nothing more is made.
    calls.reset()
    assert one("Backup", namespace, "nightly").state == "Synced"
    assert [c["operation"] for c in calls.entries() if c.get("app") == "ackflow"] == ["DescribeBackup"]


def test_a_backup_of_a_table_not_there_yet_is_recoverable_not_terminal_and_made_once_it_is(target, api, namespace):
    table = unique("later")
    [outcome] = apply([backup_manifest("early", table, namespace)], timeout_seconds=3)
    assert outcome.state == "Recoverable" and "TableNotFoundException" in outcome.message
    resource = get(api, BACKUP, namespace, "early")
    assert condition(resource, RECOVERABLE)["status"] == "True" and condition(resource, TERMINAL) is None
    apply([manifest("orders", simple_spec(table), namespace)])
    assert one("Backup", namespace, "early").state == "Synced"
    assert condition(get(api, BACKUP, namespace, "early"), RECOVERABLE) is None
    assert [b["BackupName"] for b in dynamodb(target).list_backups(TableName=table)["BackupSummaries"]] == ["early"]


def test_a_backup_cannot_be_changed_terminal_until_changed_back(target, sandbox, api, namespace):
    table = unique("fixed")
    apply([manifest("orders", simple_spec(table), namespace), backup_manifest("weekly", table, namespace)])
    merge_patch(sandbox, BACKUP, namespace, "weekly", {"spec": {"backupName": "renamed"}})
    outcome = one("Backup", namespace, "weekly")
    assert outcome.state == "Terminal" and outcome.message.startswith("spec.backupName")
    assert condition(get(api, BACKUP, namespace, "weekly"), TERMINAL)["reason"] == "Immutable"
    assert len(dynamodb(target).list_backups(TableName=table)["BackupSummaries"]) == 1  # nothing new made
    merge_patch(sandbox, BACKUP, namespace, "weekly", {"spec": {"backupName": "weekly"}})
    assert one("Backup", namespace, "weekly").state == "Synced"
    assert condition(get(api, BACKUP, namespace, "weekly"), TERMINAL) is None


def test_a_deleted_backup_resource_deletes_its_backup_unless_retained(target, sandbox, api, namespace):
    table = unique("deleting")
    apply([manifest("orders", simple_spec(table), namespace), backup_manifest("gone", table, namespace),
           backup_manifest("kept", table, namespace, annotations={"services.k8s.aws/deletion-policy": "retain"})])
    for name in ("gone", "kept"):
        deleted = kubectl(sandbox, "delete", "backups.dynamodb.services.k8s.aws", name, "-n", namespace,
                          "--wait=false")
        assert deleted.returncode == 0, deleted.stderr
    assert {o.name: o.state for o in reconcile(namespace=namespace, kind="Backup")} == {"gone": "Deleted",
                                                                                       "kept": "Retained"}
    left = dynamodb(target).list_backups(TableName=table)["BackupSummaries"]
    assert [b["BackupName"] for b in left] == ["kept"]
    assert api.list_namespaced_custom_object(BACKUP.group, BACKUP.version, namespace, BACKUP.plural)["items"] == []


def test_a_bad_backup_is_refused_by_the_api_server_naming_the_field(namespace):
    [outcome] = apply([backup_manifest("bad", "orders", namespace, backup_name="x")])
    assert outcome.state == "Refused" and "spec.backupName" in outcome.message


# ------------------------------------------------------------------------------------------- FieldExport


def test_field_exports_copy_a_tables_fields_into_a_configmap_and_a_secret(target, api, core, namespace):
    table = unique("exported")
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "app"}, "data": {"other": "kept"}})
    core.create_namespaced_secret(namespace, {"metadata": {"name": "app-secret"}})
    outcomes = apply([
        manifest("orders", simple_spec(table), namespace),
        export_manifest("arn", "orders", namespace, ".status.ackResourceMetadata.arn", {"kind": "configmap",
                                                                                       "name": "app"}),
        export_manifest("name", "orders", namespace, ".spec.tableName", {"kind": "secret", "name": "app-secret",
                                                                         "key": "TABLE"}),
    ])
    assert [(o.kind, o.state) for o in outcomes] == [("Table", "Synced"), ("FieldExport", "Synced"),
                                                     ("FieldExport", "Synced")], outcomes
    arn = describe_arn(target, table)
    # ACK's default key: NAMESPACE.NAME of the FieldExport; the ConfigMap's other keys are left as they were.
    assert core.read_namespaced_config_map("app", namespace).data == {f"{namespace}.arn": arn, "other": "kept"}
    assert base64.b64decode(core.read_namespaced_secret("app-secret", namespace).data["TABLE"]).decode() == table
    exported = get(api, FIELD_EXPORT, namespace, "arn")
    assert condition(exported, SYNCED)["status"] == "True"
    assert FIELD_EXPORT.finalizer in exported["metadata"]["finalizers"]


def describe_arn(target, table: str) -> str:
    return dynamodb(target).describe_table(TableName=table)["Table"]["TableArn"]


def test_a_field_export_waits_for_its_target_then_writes_it(target, api, core, namespace):
    table = unique("waiting")
    apply([manifest("orders", simple_spec(table), namespace)])
    [outcome] = apply([export_manifest("arn", "orders", namespace, ".status.ackResourceMetadata.arn",
                                       {"kind": "configmap", "name": "later"})], timeout_seconds=3)
    assert outcome.state == "Recoverable" and "spec.to: the configmap" in outcome.message
    assert condition(get(api, FIELD_EXPORT, namespace, "arn"), RECOVERABLE)["reason"] == "TargetNotFound"
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "later"}})
    assert one("FieldExport", namespace, "arn").state == "Synced"
    assert core.read_namespaced_config_map("later", namespace).data == {f"{namespace}.arn": describe_arn(target, table)}


@pytest.mark.parametrize("path, to, reason, field", [
    (".status..arn", {"kind": "configmap", "name": "c"}, "InvalidSpec", "spec.from.path"),
    (".status.latestStreamARN", {"kind": "configmap", "name": "c"}, "PathNotFound", "spec.from.path"),
    (".spec.tableName", {"kind": "configmap", "name": "c", "namespace": "kube-system"}, "CrossNamespace",
     "spec.to.namespace"),
])
def test_a_field_export_that_cannot_export_is_terminal_naming_the_field(api, core, namespace, path, to, reason, field):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "c"}})
    apply([manifest("orders", simple_spec(unique("refusing")), namespace)])
    [outcome] = apply([export_manifest("x", "orders", namespace, path, to)])
    assert outcome.state == "Terminal" and outcome.message.startswith(field), outcome
    assert condition(get(api, FIELD_EXPORT, namespace, "x"), TERMINAL)["reason"] == reason
    assert core.read_namespaced_config_map("c", namespace).data is None  # nothing written


def test_a_field_export_of_another_controllers_kind_is_left_to_it(api, core, namespace):
    export = export_manifest("db", "orders", namespace, ".status.endpoint.address", {"kind": "configmap",
                                                                                      "name": "c"})
    export["spec"]["from"]["resource"] = {"group": "rds.services.k8s.aws", "kind": "DBInstance", "name": "db"}
    [outcome] = apply([export])
    assert outcome.state == "Skipped"
    resource = get(api, FIELD_EXPORT, namespace, "db")
    assert "status" not in resource and not resource["metadata"].get("finalizers")  # untouched


def test_drift_finds_a_backup_deleted_and_an_export_edited_out_of_band_and_fixes_both(target, core, namespace):
    table = unique("drifting")
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "app"}})
    apply([manifest("orders", simple_spec(table), namespace), backup_manifest("nightly", table, namespace),
           export_manifest("name", "orders", namespace, ".spec.tableName", {"kind": "configmap", "name": "app",
                                                                             "key": "TABLE"})])
    [made] = dynamodb(target).list_backups(TableName=table)["BackupSummaries"]
    dynamodb(target).delete_backup(BackupArn=made["BackupArn"])
    core.patch_namespaced_config_map("app", namespace, {"data": {"TABLE": "edited"}})

    found = drift(namespace=namespace, detect_only=True)
    classes = {(row["kind"], row["resource"]): (row["class"], row["action"]) for row in found.findings}
    assert classes == {("Backup", "nightly"): ("MISSING", "reported"), ("FieldExport", "name"): ("DRIFTED", "reported")}
    assert dynamodb(target).list_backups(TableName=table)["BackupSummaries"] == []  # detect-only changed nothing

    fixed = drift(namespace=namespace)
    assert {(row["kind"], row["action"]) for row in fixed.findings} == {("Backup", "remediated"),
                                                                        ("FieldExport", "remediated")}
    assert core.read_namespaced_config_map("app", namespace).data == {"TABLE": table}
    [remade] = dynamodb(target).list_backups(TableName=table)["BackupSummaries"]
    assert remade["BackupArn"] != made["BackupArn"]
    assert drift(namespace=namespace).counts["IN_SYNC"] == 3


def test_every_kinds_crd_is_installed_and_served(target):
    extensions = client.ApiextensionsV1Api(target.kube_api())
    for kind in KINDS.values():
        crd = extensions.read_custom_resource_definition(kind.crd_name)
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions), kind
