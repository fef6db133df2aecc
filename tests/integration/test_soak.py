"""A soak: for two minutes, random spec edits to 20 Tables while `python -m flows.watch` reconciles them against
an AWS endpoint that throttles 20% of DynamoDB calls and fails 5% with HTTP 500. At the end every table matches
its resource's last spec, none was created twice, and no item was lost."""

from __future__ import annotations

import copy
import os
import random
import sys
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.config import Config
from kubernetes import client

from ack.conditions import is_synced
from ack.delta import delta
from ack.model import GROUP, PLURAL, VERSION, TableSpec
from ack.normalize import observed_from_aws
from controller.controller import WATCHING
from sandbox.stack import Sandbox
from tasks.connections import resolve_target
from tests.conftest import NO_RATE_LIMITS
from tests.integration.prefect_server import Process, child_env, wait_until
from tests.integration.tables import CallCounter, manifest, unique

pytestmark = pytest.mark.integration
SOAK_SECONDS = 120
TABLES = 20
ITEMS = 25
FAULTS = "dynamodb:*=throttle:0.2,dynamodb:*=error:0.05"
THROUGHPUT = {"readCapacityUnits": 2, "writeCapacityUnits": 2}
INDEX = {"indexName": "by-kind", "keySchema": [{"attributeName": "kind", "keyType": "HASH"}],
         "projection": {"projectionType": "KEYS_ONLY"}, "provisionedThroughput": THROUGHPUT}


def base_spec(table: str) -> dict[str, Any]:
    return {"tableName": table, "billingMode": "PROVISIONED", "provisionedThroughput": THROUGHPUT,
            "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"}],
            "keySchema": [{"attributeName": "id", "keyType": "HASH"}], "tags": [{"key": "rev", "value": "0"}]}


def edited(spec: dict[str, Any], rng: random.Random, revision: int) -> dict[str, Any]:
    """The spec with one random change a user would make."""
    spec = copy.deepcopy(spec)
    match rng.choice(["tags", "throughput", "ttl", "pitr", "class", "stream", "index", "protection"]):
        case "tags":
            spec["tags"] = [{"key": "rev", "value": str(revision)}]
        case "throughput":
            spec["provisionedThroughput"] = {"readCapacityUnits": rng.randint(1, 6), "writeCapacityUnits":
                                             rng.randint(1, 6)}
        case "ttl":
            spec["timeToLive"] = {"attributeName": "expires", "enabled": not (spec.get("timeToLive") or {}).get(
                "enabled")}
        case "pitr":
            spec["continuousBackups"] = {"pointInTimeRecoveryEnabled": not (spec.get("continuousBackups") or {}).get(
                "pointInTimeRecoveryEnabled")}
        case "class":
            spec["tableClass"] = rng.choice(["STANDARD", "STANDARD_INFREQUENT_ACCESS"])
        case "stream":
            enabled = not (spec.get("streamSpecification") or {}).get("streamEnabled")
            spec["streamSpecification"] = {"streamEnabled": True, "streamViewType": "NEW_IMAGE"} if enabled \
                else {"streamEnabled": False}
        case "index":
            if spec.get("globalSecondaryIndexes"):
                spec.pop("globalSecondaryIndexes")
                spec["attributeDefinitions"] = spec["attributeDefinitions"][:1]
            else:
                spec["globalSecondaryIndexes"] = [INDEX]
                spec["attributeDefinitions"] = [*spec["attributeDefinitions"][:1],
                                                {"attributeName": "kind", "attributeType": "S"}]
        case "protection":
            spec["deletionProtectionEnabled"] = not spec.get("deletionProtectionEnabled")
    return spec


@pytest.fixture(scope="module")
def soak(tmp_path_factory, prefect_api):
    folder = tmp_path_factory.mktemp("soak")
    saved = dict(os.environ)
    with Sandbox(folder / "sandbox", aws_env={**NO_RATE_LIMITS, "SANDBOX_AWS_FAULTS": FAULTS}) as sandbox:
        os.environ.update(sandbox.environ())
        try:
            yield sandbox, folder
        finally:
            os.environ.clear()
            os.environ.update(saved)


def test_random_edits_under_throttling_and_errors_end_as_the_last_spec_says(soak):
    sandbox, folder = soak
    target = resolve_target("sandbox")
    api = client.CustomObjectsApi(target.kube_api())
    ddb = boto3.session.Session().client("dynamodb", region_name=target.region, endpoint_url=target.aws_endpoint_url,
                                         config=Config(retries={"mode": "standard", "total_max_attempts": 25}))
    namespace = unique("soak")
    client.CoreV1Api(target.kube_api()).create_namespace({"metadata": {"name": namespace}})
    (folder / "watch").mkdir()
    watch = Process([sys.executable, "-m", "flows.watch", "-n", namespace],
                    child_env(folder / "watch", None, **sandbox.environ()), folder / "watch.log")
    try:
        wait_until(lambda: WATCHING in watch.output(), "the controller", 180, watch)
        names = [f"t{i}" for i in range(TABLES)]
        tables = {name: unique(f"soak-{name}") for name in names}
        specs = {name: base_spec(tables[name]) for name in names}
        for name in names:
            api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                manifest(name, specs[name], namespace))
        wait_until(lambda: _synced(api, namespace) == set(names), "the tables created", 300, watch, every=2)
        for table in tables.values():
            for i in range(ITEMS):
                ddb.put_item(TableName=table, Item={"id": {"S": f"item-{i}"}, "kind": {"S": "a"}})

        rng, edits, removed_indexes = random.Random(12), 0, 0
        deadline = time.monotonic() + SOAK_SECONDS
        while time.monotonic() < deadline:
            name = rng.choice(names)
            changed = edited(specs[name], rng, edits + 1)
            removed_indexes += bool(specs[name].get("globalSecondaryIndexes")) and not changed.get(
                "globalSecondaryIndexes")
            _replace_spec(api, namespace, name, changed)
            specs[name], edits = changed, edits + 1
            watch.check_alive("the controller")
            time.sleep(rng.uniform(0.2, 1.0))
        assert edits > 100

        wait_until(lambda: _synced(api, namespace) == set(names), "every table synced at its last spec", 600, watch,
                   every=2)
        for name in names:
            table = tables[name]
            described = ddb.describe_table(TableName=table)["Table"]
            observed = observed_from_aws(
                described, ddb.list_tags_of_resource(ResourceArn=described["TableArn"])["Tags"],
                ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"],
                ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"])
            assert delta(TableSpec.model_validate(specs[name]), observed.spec) == [], name
            assert ddb.scan(TableName=table, Select="COUNT")["Count"] == ITEMS, name

        entries = CallCounter(target, sandbox.aws.access_key_id).entries()
        ours = [c for c in entries if c.get("app") == "ackflow"]
        made = Counter(c["table"] for c in ours if c["operation"] == "CreateTable" and c["status"] == 200)
        assert made == {table: 1 for table in tables.values()}
        assert not [c for c in ours if c["operation"] == "DeleteTable"]
        index_deletions = [c for c in ours if c["status"] == 200 and any(
            action == "Delete" for action, _ in c.get("index_changes", []))]
        assert len(index_deletions) <= removed_indexes  # only indexes a spec edit removed
        faulted = Counter(c["status"] for c in entries if c["service"] == "dynamodb")
        assert faulted[400] + faulted[500] > 100, faulted  # the faults were there all along
    finally:
        assert watch.stop() == 0, watch.output()[-3000:]


def _synced(api: client.CustomObjectsApi, namespace: str) -> set[str]:
    items = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    return {t["metadata"]["name"] for t in items if is_synced((t.get("status") or {}).get("conditions"))
            and t["status"].get("observedGeneration") == t["metadata"]["generation"]}


def _replace_spec(api: client.CustomObjectsApi, namespace: str, name: str, spec: dict[str, Any]) -> None:
    """As `kubectl edit` does: read, change the spec, write back with the resourceVersion read (again on 409)."""
    while True:
        resource = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        resource["spec"] = spec
        try:
            api.replace_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, resource)
            return
        except client.ApiException as exc:
            if exc.status != 409:
                raise
