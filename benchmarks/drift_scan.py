"""drift_scan: a drift run over N Table resources (100 and 1000), all in sync and then with 10% drifted.

Each case prints one JSON line: the drift flow's wall seconds (in a child process, Prefect's API already
up), a baseline making the same AWS reads with plain boto3 at the same concurrency (no Prefect, no
Kubernetes), their ratio, AWS calls per table (reads and writes, from the endpoint's call log), the
Kubernetes API calls the flow made, and the flow process's peak RSS.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config
from kubernetes import client

from ack import conditions
from ack.model import API_VERSION, FINALIZER, GROUP, PLURAL, VERSION
from ack.tags import OWNER_TAG
from benchmarks import run_flow
from controller.table import status_after
from sandbox.aws import calls, reset_calls
from sandbox.stack import Sandbox

SIZES = tuple(int(n) for n in os.environ.get("BENCH_DRIFT_SIZES", "100,1000").split(","))
CONCURRENCY = 16
REPEATS = int(os.environ.get("BENCH_DRIFT_REPEATS", "5"))
TARGET_DRIFTED = 1.3  # a scan with 10% drifted (and remediated) against the same scan in sync
NAMESPACE = "bench"
READS = ("Describe", "List", "Get")
ACCOUNT_READS = ("ListTables", "GetCallerIdentity")


def _spec(name: str) -> dict:
    return {"tableName": name, "billingMode": "PAY_PER_REQUEST",
            "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"}],
            "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
            "tags": [{"key": "team", "value": "bench"}]}


def populate(sandbox: Sandbox, start: int, stop: int, namespace_of=lambda i: NAMESPACE) -> None:
    """Tables and their resources, as a reconcile would have left them (tagged with their owner; the resource
    with its finalizer and a Synced status); table i's resource in `namespace_of(i)`."""
    ddb = _boto(sandbox)
    custom = client.CustomObjectsApi(sandbox.control_plane.api_client())

    def one(i: int) -> None:
        name, namespace = f"bench-{i:04d}", namespace_of(i)
        created = ddb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            Tags=[{"Key": "team", "Value": "bench"}, {"Key": OWNER_TAG, "Value": f"{namespace}/{name}"}])
        resource = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, {
            "apiVersion": API_VERSION, "kind": "Table", "metadata": {"name": name, "finalizers": [FINALIZER]},
            "spec": _spec(name)})
        described = {**created["TableDescription"], "TableStatus": "ACTIVE"}
        status = status_after({}, described, conditions.synced([]), resource["metadata"]["generation"],
                              {"managedIndexes": []})
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, {"status": status})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(start, stop)))


def _boto(sandbox: Sandbox):
    return boto3.client("dynamodb", endpoint_url=sandbox.aws.url, region_name=sandbox.aws.region,
                        aws_access_key_id=sandbox.aws.access_key_id,
                        aws_secret_access_key=sandbox.aws.secret_access_key,
                        config=Config(max_pool_connections=CONCURRENCY, retries={"mode": "standard"}))


def baseline(sandbox: Sandbox, tables: int) -> float:
    """The same reads the drift flow makes, with plain boto3 and the same concurrency."""
    ddb = _boto(sandbox)

    def read(i: int) -> None:
        name = f"bench-{i:04d}"
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
        ddb.list_tags_of_resource(ResourceArn=arn)
        ddb.describe_time_to_live(TableName=name)
        ddb.describe_continuous_backups(TableName=name)

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(read, range(tables)))
    return time.perf_counter() - started


def measure(sandbox: Sandbox, tables: int, drifted: int, prefect_home: Path) -> dict:
    reset_calls(sandbox.aws.url, sandbox.aws.access_key_id)
    figures = run_flow(sandbox, prefect_home, ["drift", NAMESPACE, str(CONCURRENCY)], f"drift_scan-{tables}-{drifted}")
    made = [c for c in calls(sandbox.aws.url, sandbox.aws.access_key_id) if c["app"] == "ackflow"]
    # Account-level reads (ListTables pages, the caller's identity) grow with pages, not tables.
    account = sum(1 for c in made if c["operation"] in ACCOUNT_READS)
    reads = sum(1 for c in made if c["operation"].startswith(READS)) - account
    base = baseline(sandbox, tables)
    return {"benchmark": "drift_scan", "tables": tables, "drifted": drifted, "flow_s": round(figures["flow_s"], 2),
            "baseline_s": round(base, 2), "ratio": round(figures["flow_s"] / base, 2),
            "aws_reads_per_table": round(reads / tables, 2), "aws_account_reads": account,
            "aws_writes_per_table": round((len(made) - reads - account) / tables, 3),
            "k8s_calls": figures["k8s_calls"], "peak_rss_mb": figures["peak_rss_mb"]}


def drift_some(sandbox: Sandbox, tables: int, share: float = 0.1) -> int:
    """Out of band, as a console user would: the tag `team` removed from every tenth table."""
    ddb = _boto(sandbox)
    chosen = range(0, tables, round(1 / share))
    for i in chosen:
        arn = ddb.describe_table(TableName=f"bench-{i:04d}")["Table"]["TableArn"]
        ddb.untag_resource(ResourceArn=arn, TagKeys=["team"])
    return len(chosen)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox(Path(folder) / "sandbox") as sandbox:
        client.CoreV1Api(sandbox.control_plane.api_client()).create_namespace({"metadata": {"name": NAMESPACE}})
        from tasks.connections import resolve_target
        from tasks.kube_tables import ensure_crd

        os.environ.update(sandbox.environ())
        ensure_crd.fn(resolve_target("sandbox"))
        made = 0
        for tables in SIZES:
            populate(sandbox, made, tables)
            made = tables
            time.sleep(1)  # the new tables leave CREATING
            # In turns, so that both see the machine alike (its timings wander by a fifth over minutes); each
            # drifted run puts the drift right, so the next one drifts anew.
            runs = [(measure(sandbox, tables, 0, Path(folder) / "prefect"),
                     measure(sandbox, tables, drift_some(sandbox, tables), Path(folder) / "prefect"))
                    for _ in range(REPEATS)]
            in_sync, drifted = median_case([run[0] for run in runs]), median_case([run[1] for run in runs])
            print(json.dumps(in_sync), flush=True)
            vs_in_sync = drifted["flow_s"] / in_sync["flow_s"]
            print(json.dumps({**drifted, "vs_in_sync": round(vs_in_sync, 2), "target_vs_in_sync": TARGET_DRIFTED,
                              "met": vs_in_sync <= TARGET_DRIFTED}), flush=True)


def median_case(runs: list[dict]) -> dict:
    """The run with the median flow time."""
    return {**sorted(runs, key=lambda run: run["flow_s"])[len(runs) // 2], "runs": len(runs)}
