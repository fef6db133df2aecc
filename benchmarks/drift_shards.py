"""drift_shards: a drift scan of 1000 Table resources in 4 namespaces, as one run and as `--shard-by namespace` (4
child runs of the `drift` deployment, taken by 2 workers of a process work pool), measured in one run.

One JSON line: both wall times (each `python -m flows.drift --detect-only` as a person starts it, against a `prefect
server` of the benchmark's own), their ratio, and whether the two reports hold the same rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from kubernetes import client

from benchmarks import flow_env
from benchmarks.drift_scan import populate
from sandbox.processes import ManagedProcess, free_port
from sandbox.stack import Sandbox

TABLES, SHARDS, WORKERS = 1000, 4, 2
REPO = Path(__file__).resolve().parents[1]
PREFECT = Path(sys.executable).with_name("prefect")


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
        return answer.status == 200


def _started(name: str, argv: list[str], env: dict[str, str], log: Path) -> ManagedProcess:
    process = ManagedProcess(name, argv, log, env)
    process.start()
    return process


def _timed(env: dict[str, str], report: Path, *flags: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.drift", "--detect-only", "--report", str(report), *flags],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"drift {' '.join(flags)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - started


def _rows(report: Path) -> set[tuple[str, ...]]:
    return {tuple(str(row[key]) for key in sorted(row)) for row in json.loads(report.read_text())}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox(Path(folder) / "sandbox") as sandbox:
        base = Path(folder)
        namespaces = [f"shard-{n}" for n in range(SHARDS)]
        core = client.CoreV1Api(sandbox.control_plane.api_client())
        for namespace in namespaces:
            core.create_namespace({"metadata": {"name": namespace}})
        os.environ.update(sandbox.environ())
        from tasks.connections import resolve_target
        from tasks.kube_tables import ensure_crd

        ensure_crd.fn(resolve_target("sandbox"))
        populate(sandbox, 0, TABLES, lambda i: namespaces[i % SHARDS])
        url = f"http://127.0.0.1:{free_port()}/api"
        env = {**flow_env(sandbox, base / "prefect"), "PREFECT_API_URL": url, "PREFECT_UI_API_URL": url,
               "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
        server = _started("prefect server", [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port",
                                              url.rsplit(":", 1)[1].split("/")[0]], env, base / "server.log")
        workers: list[ManagedProcess] = []
        try:
            server.wait_until(lambda: _healthy(url), 240, "healthy")
            for command in (["work-pool", "create", "ackflow", "--type", "process"],
                            ["--no-prompt", "deploy", "--all"]):
                subprocess.run([str(PREFECT), *command], cwd=REPO, env=env, capture_output=True, check=True)
            workers = [_started(f"worker {n}", [str(PREFECT), "worker", "start", "--pool", "ackflow"], env,
                                base / f"worker-{n}.log") for n in range(WORKERS)]
            single = _timed(env, base / "single.json")
            sharded = _timed(env, base / "sharded.json", "--shard-by", "namespace")
        finally:
            for process in [*workers, server]:
                process.stop()
        print(json.dumps({"benchmark": "drift_shards", "tables": TABLES, "shards": SHARDS, "workers": WORKERS,
                          "single_s": round(single, 2), "sharded_s": round(sharded, 2),
                          "ratio": round(sharded / single, 2),
                          "same_report": _rows(base / "single.json") == _rows(base / "sharded.json")}), flush=True)


if __name__ == "__main__":
    main()
