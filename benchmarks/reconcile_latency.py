"""reconcile_latency: with `python -m flows.watch` running, the time from a Table applied to its resource
Synced (ACK.ResourceSynced True at its generation), over 50 tables applied one after another.

Prints one JSON line: the sandbox's configured table-creation delay, the median, 90th percentile and
maximum latency, and the target (median under 2 s plus that delay).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import client, watch

from ack.model import API_VERSION, GROUP, PLURAL, VERSION
from benchmarks import flow_env
from sandbox.aws.server import Settings
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
    return status.get("observedGeneration") == resource["metadata"]["generation"] and any(
        c["type"] == "ACK.ResourceSynced" and c["status"] == "True" for c in status.get("conditions") or [])


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


def start_watch(sandbox: Sandbox, folder: Path) -> subprocess.Popen:
    log = folder / "watch.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "flows.watch", "-n", NAMESPACE],
                                   env=flow_env(sandbox, folder / "prefect"), stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + 180
    while "watching Table resources" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_watch(process)
            raise RuntimeError(f"the watch did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    return process


def stop_watch(process: subprocess.Popen) -> None:
    """SIGTERM (the watch stops between changes), then whatever is left of its session (its Prefect API)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox(Path(folder) / "sandbox") as sandbox:
        api = client.CustomObjectsApi(sandbox.control_plane.api_client())
        client.CoreV1Api(sandbox.control_plane.api_client()).create_namespace({"metadata": {"name": NAMESPACE}})
        delay = Settings.from_env({**os.environ, **sandbox.aws.env}).table_delay
        watcher = start_watch(sandbox, Path(folder))
        try:
            latencies = [applied_to_synced(api, f"latency-{i:03d}") for i in range(TABLES)]
        finally:
            stop_watch(watcher)
        median = statistics.median(latencies)
        p90 = statistics.quantiles(latencies, n=10, method="inclusive")[-1]
        print(json.dumps({
            "benchmark": "reconcile_latency", "tables": TABLES, "table_delay_s": delay,
            "median_s": round(median, 2), "p90_s": round(p90, 2),
            "max_s": round(max(latencies), 2), "target_median_s": 2 + delay, "met": median < 2 + delay}), flush=True)


if __name__ == "__main__":
    main()
