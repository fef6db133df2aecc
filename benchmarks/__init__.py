"""Benchmarks, run by `make bench` (`python -m benchmarks [NAME ...]`): each prints one JSON line per case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sandbox.stack import Sandbox


def flow_env(sandbox: Sandbox, prefect_home: Path) -> dict[str, str]:
    """A flow process's environment: the sandbox's, and a Prefect home of its own (its temporary API)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "AWS_"))}
    return {**env, **sandbox.environ(), "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PYTHONUNBUFFERED": "1"}


def run_flow(sandbox: Sandbox, prefect_home: Path, args: list[str], case: str) -> dict:
    """`benchmarks.flow_child ARGS` measured: {flow_s, k8s_calls, peak_rss_mb}. With BENCH_PROFILE_DIR set,
    every thread of the process is sampled by py-spy into DIR/CASE.txt (collapsed stacks, as flamegraph.pl
    and speedscope read them)."""
    env = {**flow_env(sandbox, prefect_home), "PREFECT_LOGGING_LEVEL": "WARNING"}  # its JSON line alone
    command = [sys.executable, "-m", "benchmarks.flow_child", *args]
    if profile_dir := os.environ.get("BENCH_PROFILE_DIR"):
        Path(profile_dir).mkdir(parents=True, exist_ok=True)
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--threads", "--idle",
                   "--output", str(Path(profile_dir) / f"{case}.txt"), "--", *command]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{case}: the flow run failed: {result.stderr[-2000:]}")
    return json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])  # not py-spy's
