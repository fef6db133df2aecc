"""Least privilege and secrets: the flows make no AWS call outside the shipped IAM policy, and no credential,
token or key of the sandbox appears in what they print, write or publish."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client

from ack.model import RECREATE_MISSING
from flows.drift import drift
from tests.integration.iam_policies import TABLES_POLICY, outside
from tests.integration.tables import (
    CallCounter, Cluster, apply, dynamodb, manifest, reconcile_table, simple_spec, unique,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]

def test_the_flows_make_no_aws_call_outside_the_iam_policy(target, sandbox, tmp_path):
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    table = unique("iam")
    spec = simple_spec(
        table, billingMode="PROVISIONED", provisionedThroughput={"readCapacityUnits": 2, "writeCapacityUnits": 2},
        streamSpecification={"streamEnabled": True, "streamViewType": "NEW_IMAGE"},
        sseSpecification={"enabled": True, "sseType": "KMS"}, tableClass="STANDARD_INFREQUENT_ACCESS",
        timeToLive={"attributeName": "exp", "enabled": True}, continuousBackups={"pointInTimeRecoveryEnabled": True},
        tags=[{"key": "team", "value": "a"}])
    assert apply([manifest(table, spec, annotations={RECREATE_MISSING: "true"})])[0].state == "Synced"
    spec["globalSecondaryIndexes"] = [{"indexName": "by-id", "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
                                       "projection": {"projectionType": "ALL"},
                                       "provisionedThroughput": {"readCapacityUnits": 1, "writeCapacityUnits": 1}}]
    spec["tags"] = [{"key": "team", "value": "b"}]
    assert apply([manifest(table, spec, annotations={RECREATE_MISSING: "true"})])[0].state == "Synced"
    dynamodb(target).delete_table(TableName=table)  # out of band: drift recreates it (opted in)
    drift(namespace="default", report_path=str(tmp_path / "r.json"))
    Cluster(target).delete(table)
    assert reconcile_table("default", table).state == "Deleted"

    entries = calls.entries()
    made = {f"{c['service']}:{c['operation']}" for c in entries if c["app"] == "ackflow"}
    assert {"dynamodb:CreateTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:TagResource"} <= made
    assert outside(entries, TABLES_POLICY) == []


def _secrets(sandbox) -> dict[str, str]:
    return {"AWS secret key": sandbox.aws.secret_access_key, "admin token": sandbox.control_plane.admin_token,
            "viewer token": sandbox.control_plane.viewer_token}


def _assert_clean(text: str, secrets: dict[str, str], where: str) -> None:
    leaked = [name for name, value in secrets.items() if value in text]
    assert not leaked, f"{', '.join(leaked)} found in {where}"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)


def test_no_secret_appears_in_output_reports_artifacts_or_errors(sandbox, target, tmp_path):
    secrets = _secrets(sandbox)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    table, namespace = unique("secret"), unique("secret")
    Cluster(target).core.create_namespace({"metadata": {"name": namespace}})
    manifest_file = tmp_path / "table.yaml"
    manifest_file.write_text(yaml.safe_dump(manifest(table, simple_spec(table), namespace)))
    report = tmp_path / "report.csv"

    applied = _run(["flows.apply", "-f", str(manifest_file)], env)
    assert applied.returncode == 0, applied.stderr[-2000:]
    drifted = _run(["flows.drift", "-n", namespace, "--report", str(report)], env)
    assert drifted.returncode == 0, drifted.stderr[-2000:]
    refused = _run(["flows.drift", "-n", namespace], {**env, "AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG0"})
    assert refused.returncode == 1 and "security token" in refused.stderr
    for name, result in (("apply", applied), ("drift", drifted), ("a refused drift", refused)):
        _assert_clean(result.stdout + result.stderr, secrets, f"the output of {name}")
    _assert_clean(report.read_text(), secrets, "the drift report")

    drift(namespace=namespace, report_path=str(tmp_path / "in-process.json"))  # artifacts: the tests' API

    async def artifacts() -> str:
        async with get_client() as client:
            return json.dumps([a.model_dump(mode="json") for a in await client.read_artifacts()])

    published = asyncio.run(artifacts())
    assert "drift-report" in published
    _assert_clean(published, secrets, "the Prefect artifacts")
