"""reconcile_latency: with `python -m flows.watch` running, the time from a Table applied to its resource
Synced (ACK.ResourceSynced True at its generation), over 50 tables applied one after another.

Prints one JSON line: the sandbox's configured table-creation delay, the median, 90th percentile and
maximum latency, and the target (median under 2 s plus that delay).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import client, watch

from ack.conditions import is_synced
from ack.model import API_VERSION, GROUP, PLURAL, VERSION
from benchmarks import flow_env
from controller.controller import WATCHING
from sandbox.aws.server import Settings
from sandbox.processes import ManagedProcess
from sandbox.stack import Sandbox

TABLES = int(os.environ.get("BENCH_RECONCILE_TABLES", "50"))
NAMESPACE = "bench"
TIMEOUT_SECONDS = 120


def _table(name: str) -> dict:
    return {"apiVersion": API_VERSION, "kind": "Table", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"tableName": name, "billingMode": "PAY_PER_REQUEST",
                     "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"}],
                     "keySchema": [{"attributeName": "id", "keyType": "HASH"}]}}


def _synced(resource: dict) -> bool:
    status = resource.get("status") or {}
    at_generation = status.get("observedGeneration") == resource["metadata"]["generation"]
    return at_generation and is_synced(status.get("conditions"))


def applied_to_synced(api: client.CustomObjectsApi, name: str) -> float:
    """Seconds from the create call to the watch's status write that says Synced."""
    started = time.perf_counter()
    created = api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, _table(name))
    for event in watch.Watch().stream(api.list_namespaced_custom_object, GROUP, VERSION, NAMESPACE, PLURAL,
                                      field_selector=f"metadata.name={name}",
                                      resource_version=created["metadata"]["resourceVersion"],
                                      timeout_seconds=TIMEOUT_SECONDS):
        if _synced(event["object"]):
            return time.perf_counter() - started
    raise RuntimeError(f"{name} was not Synced within {TIMEOUT_SECONDS} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox(Path(folder) / "sandbox") as sandbox:
        api = client.CustomObjectsApi(sandbox.control_plane.api_client())
        client.CoreV1Api(sandbox.control_plane.api_client()).create_namespace({"metadata": {"name": NAMESPACE}})
        delay = Settings.from_env({**os.environ, **sandbox.aws.env}).table_delay
        watcher = ManagedProcess("the watch", [sys.executable, "-m", "flows.watch", "-n", NAMESPACE],
                                 Path(folder) / "watch.log", flow_env(sandbox, Path(folder) / "prefect"))
        watcher.start()
        try:
            watcher.wait_until(lambda: WATCHING in watcher.log_path.read_text(errors="replace"), 180,
                               "watching")
            latencies = [applied_to_synced(api, f"latency-{i:03d}") for i in range(TABLES)]
        finally:
            watcher.stop(60)  # SIGTERM: the watch stops its Prefect API too
        median = statistics.median(latencies)
        p90 = statistics.quantiles(latencies, n=10, method="inclusive")[-1]
        print(json.dumps({
            "benchmark": "reconcile_latency", "tables": TABLES, "table_delay_s": delay,
            "median_s": round(median, 2), "p90_s": round(p90, 2),
            "max_s": round(max(latencies), 2), "target_median_s": 2 + delay, "met": median < 2 + delay}), flush=True)


if __name__ == "__main__":
    main()
