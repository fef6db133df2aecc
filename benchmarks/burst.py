"""burst: 200 Tables applied at once while the controller runs; the time until all are Synced with the default
workers, against the same with --max-concurrent-reconciles 1, in one run.

They are created through the API by 8 threads, as a GitOps tool applies a folder: `kubectl apply -f` sends
them one after another (about 5 s for 200 here), which would time kubectl rather than the controller.

AWS answers the controller in tens of milliseconds; moto in about one. The target case gives the sandbox's AWS
endpoint a round trip of 30 ms (SANDBOX_AWS_LATENCY), so that the workers have AWS's waits to overlap, as
against AWS; the same burst without it shows the bound where everything shares this machine's cores.
One JSON line per case: tables, workers, aws_latency_s, all_synced_s, serial_s, ratio (target at most 0.3).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kubernetes import client

from ack.model import GROUP, PLURAL, VERSION

from benchmarks.controller import start_controller, table, wait_synced
from controller.workers import DEFAULT_WORKERS
from sandbox.stack import Sandbox

TABLES = int(os.environ.get("BENCH_BURST_TABLES", "200"))
LATENCIES = tuple(float(s) for s in os.environ.get("BENCH_BURST_AWS_LATENCIES", "0.03,0").split(","))
TARGET_RATIO = 0.3


def burst(sandbox: Sandbox, folder: Path, workers: int) -> float:
    """Seconds from the first of TABLES Tables created to the last one Synced, with `workers` workers."""
    namespace = f"burst-{workers}"
    client.CoreV1Api(sandbox.control_plane.api_client()).create_namespace({"metadata": {"name": namespace}})
    controller = start_controller(sandbox, folder / namespace, namespace, "--max-concurrent-reconciles", str(workers))
    try:
        names = [f"t{i:03d}" for i in range(TABLES)]
        api = client.CustomObjectsApi(sandbox.control_plane.api_client())
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda name: api.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, table(name, namespace)), names))
        wait_synced(sandbox, namespace, names)
        return time.perf_counter() - started
    finally:
        controller.stop(60)


def main() -> None:
    for latency in LATENCIES:
        with tempfile.TemporaryDirectory() as folder, \
                Sandbox(Path(folder) / "sandbox", aws_env={"SANDBOX_AWS_LATENCY": str(latency)}) as sandbox:
            parallel = burst(sandbox, Path(folder), DEFAULT_WORKERS)
            serial = burst(sandbox, Path(folder), 1)
        ratio = parallel / serial
        print(json.dumps({"benchmark": "burst", "tables": TABLES, "workers": DEFAULT_WORKERS, "aws_latency_s": latency,
                          "all_synced_s": round(parallel, 2), "serial_s": round(serial, 2), "ratio": round(ratio, 2),
                          "target_ratio": TARGET_RATIO, "met": ratio <= TARGET_RATIO}), flush=True)


if __name__ == "__main__":
    main()
