"""controller_idle: the controller with 1000 Tables synced, left alone for a minute.

The controller starts, syncs the 1000 resources (as it would after an install over existing tables), and then
idles with the default resync period (36000 s, each resource at its own phase of it). Prints one JSON line: the
start-up sync time, the controller's resident memory after the idle minute (its temporary Prefect API, a child
process it would not have in a cluster, apart), and the AWS calls made while idle against those the resyncs
that fell in that minute account for (4 reads each): any other call is a call between resyncs.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from ack.model import GROUP, PLURAL, VERSION
from benchmarks.controller import children, rss_mb, scrape, start_controller, table, wait_synced
from sandbox.aws import calls, reset_calls
from sandbox.processes import free_port
from sandbox.stack import Sandbox

TABLES = int(os.environ.get("BENCH_IDLE_TABLES", "1000"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
NAMESPACE = "idle"
TARGET_RSS_MB = 250
READS_PER_RESYNC = 4  # DescribeTable, ListTagsOfResource, DescribeTimeToLive, DescribeContinuousBackups


def reconciles(address: str) -> float:
    families = text_string_to_metric_families(scrape(address))
    return sum(s.value for f in families for s in f.samples if s.name == "controller_runtime_reconcile_total")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox(Path(folder) / "sandbox") as sandbox:
        api = client.CustomObjectsApi(sandbox.control_plane.api_client())
        client.CoreV1Api(sandbox.control_plane.api_client()).create_namespace({"metadata": {"name": NAMESPACE}})
        names = [f"t{i:04d}" for i in range(TABLES)]
        address = f"127.0.0.1:{free_port()}"
        controller = start_controller(sandbox, Path(folder) / "controller", NAMESPACE, "--metrics-addr", address)
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda name: api.create_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, PLURAL, table(name, NAMESPACE)), names))
            wait_synced(sandbox, NAMESPACE, names)
            synced_s = time.perf_counter() - started

            time.sleep(5)  # the last status writes' events pass by
            reset_calls(sandbox.aws.url, sandbox.aws.access_key_id)
            before = reconciles(address)
            time.sleep(IDLE_SECONDS)
            made = [c for c in calls(sandbox.aws.url, sandbox.aws.access_key_id) if c["app"] == "ackflow"]
            resyncs = reconciles(address) - before
            controller_mb = rss_mb(controller.pid)
            prefect_mb = sum(rss_mb(pid) for pid in children(controller.pid))
        finally:
            controller.stop(60)
        outside = len(made) - READS_PER_RESYNC * resyncs
        print(json.dumps({
            "benchmark": "controller_idle", "tables": TABLES, "startup_sync_s": round(synced_s, 2),
            "idle_s": IDLE_SECONDS, "rss_mb": controller_mb, "prefect_api_child_rss_mb": prefect_mb,
            "resyncs_idle": int(resyncs), "aws_calls_idle": len(made), "aws_calls_between_resyncs": int(outside),
            "target_rss_mb": TARGET_RSS_MB, "met": controller_mb < TARGET_RSS_MB and outside == 0}), flush=True)


if __name__ == "__main__":
    main()
