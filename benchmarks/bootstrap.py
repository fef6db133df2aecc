"""bootstrap: the whole bootstrap (config/default.yaml) on a fresh sandbox, a first run that creates
everything and a second, idempotent run that finds it all. One JSON line: both runs' wall seconds (each in a
process of its own, Prefect's API already up), their ratio and the target (second under half the first)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from benchmarks import run_flow
from bootstrap.config import DEFAULT_CONFIG
from sandbox.stack import Sandbox


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Sandbox(Path(folder) / "sandbox") as sandbox:
        home = Path(folder) / "prefect"
        first = run_flow(sandbox, home, ["bootstrap", str(DEFAULT_CONFIG)], "bootstrap-first")
        second = run_flow(sandbox, home, ["bootstrap", str(DEFAULT_CONFIG)], "bootstrap-second")
        ratio = second["flow_s"] / first["flow_s"]
        print(json.dumps({"benchmark": "bootstrap", "first_s": round(first["flow_s"], 2),
                          "second_s": round(second["flow_s"], 2), "ratio": round(ratio, 2), "target_ratio": 0.5,
                          "met": ratio < 0.5, "k8s_calls_second": second["k8s_calls"],
                          "peak_rss_mb": max(first["peak_rss_mb"], second["peak_rss_mb"])}), flush=True)


if __name__ == "__main__":
    main()
