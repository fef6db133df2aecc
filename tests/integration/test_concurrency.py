"""Conflicting writers and interrupted processes: no lost update, no double remediation, no duplicate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from ack.model import GROUP, PLURAL, VERSION
from flows.drift import drift
from tests.integration.tables import (
    CallCounter, Cluster, apply, assert_nothing_lost, describe, dynamodb, fill, manifest, reconcile_table, simple_spec,
    unique, updating,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
GSI = {"indexName": "by-id", "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
       "projection": {"projectionType": "ALL"}}


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_spec_changed_during_a_reconcile_is_not_lost(target):
    cluster, table = Cluster(target), unique("conflict")
    apply([manifest(table, simple_spec(table))])
    resource = cluster.get(table)
    resource["spec"]["globalSecondaryIndexes"] = [GSI]  # takes a while: the index is CREATING
    cluster.api.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, table, resource)

    index_building = updating(target, table)

    def change_tags_meanwhile() -> None:
        _wait_for(index_building, "the index build")
        cluster.api.patch_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, table,
                                                   {"spec": {"tags": [{"key": "late", "value": "change"}]}})

    writer = threading.Thread(target=change_tags_meanwhile)
    writer.start()
    outcome = reconcile_table("default", table)
    writer.join()
    assert outcome.state == "Synced", outcome.message
    latest = cluster.get(table)
    assert latest["status"]["observedGeneration"] == latest["metadata"]["generation"] == 3
    tags = dynamodb(target).list_tags_of_resource(ResourceArn=describe(target, table)["TableArn"])["Tags"]
    assert {"Key": "late", "Value": "change"} in tags
    assert [i["IndexName"] for i in describe(target, table)["GlobalSecondaryIndexes"]] == ["by-id"]


def test_two_drift_runs_at_once_remediate_once(target, sandbox, tmp_path):
    cluster, namespace = Cluster(target), unique("twice")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    table = unique("twice")
    apply([manifest(table, simple_spec(table, tags=[{"key": "team", "value": "a"}]), namespace)])
    ddb = dynamodb(target)
    arn = describe(target, table)["TableArn"]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()

    results = []
    runs = [threading.Thread(target=lambda i=i: results.append(
        drift(namespace=namespace, report_path=str(tmp_path / f"{i}.json")))) for i in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(r.remediated for r in results) == [0, 1]  # the second found it fixed already
    tag_calls = [c for c in calls.entries() if c["app"] == "ackflow" and c["operation"] == "TagResource"]
    assert len(tag_calls) == 1
    assert {"Key": "team", "Value": "a"} in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]


def _command(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_an_apply_killed_midway_converges_on_a_rerun_without_duplicates(sandbox, target, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    table = unique("killed")
    path = tmp_path / "table.yaml"
    path.write_text(yaml.safe_dump(manifest(table, simple_spec(
        table, globalSecondaryIndexes=[GSI], timeToLive={"attributeName": "exp", "enabled": True}))))
    first = _command(["flows.apply", "-f", str(path)], env)
    _wait_for(lambda: "CreateTable" in [c["operation"] for c in calls.entries() if c["app"] == "ackflow"],
              "CreateTable", timeout=300)
    os.killpg(first.pid, signal.SIGKILL)  # right after the table was asked for, before its status was written
    first.wait()

    second = _command(["flows.apply", "-f", str(path)], env)
    output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output[-3000:]
    assert [n for n in dynamodb(target).list_tables()["TableNames"] if n == table] == [table]
    assert [c["operation"] for c in calls.entries() if c["app"] == "ackflow"].count("CreateTable") == 1
    resource = Cluster(target).get(table)
    assert resource["status"]["tableStatus"] == "ACTIVE"
    assert dynamodb(target).describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"] \
        == "ENABLED"


def test_a_drift_run_killed_midway_converges_on_a_rerun(sandbox, target, tmp_path):
    """The rerun waits out the dead run's lease, fixes what is left, and fixes nothing twice."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    cluster, namespace = Cluster(target), unique("killdrift")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    tables = [unique("kd") for _ in range(5)]
    apply([manifest(t, simple_spec(t, tags=[{"key": "team", "value": "a"}]), namespace) for t in tables])
    ddb = dynamodb(target)
    fill(ddb, tables)
    for table in tables:
        ddb.untag_resource(ResourceArn=describe(target, table)["TableArn"], TagKeys=["team"])
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()

    def tagged() -> int:
        return sum(1 for c in calls.entries() if c["app"] == "ackflow" and c["operation"] == "TagResource")

    first = _command(["flows.drift", "-n", namespace], env)
    _wait_for(lambda: tagged() >= 1, "the first remediation", timeout=300)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    second = _command(["flows.drift", "-n", namespace], env)
    output, _ = second.communicate(timeout=600)
    assert second.returncode == 0, output[-3000:]
    assert tagged() == len(tables)  # each table fixed once, by one run or the other
    for table in tables:
        tags = ddb.list_tags_of_resource(ResourceArn=describe(target, table)["TableArn"])["Tags"]
        assert {"Key": "team", "Value": "a"} in tags
    assert_nothing_lost(ddb, tables, calls.entries())
