"""`python -m benchmarks [NAME ...]`: run the benchmarks (all by default), one JSON line per case."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ["drift_scan", "drift_shards", "reconcile_latency", "burst", "controller_idle", "bootstrap", "drift_latency"]


def main(argv: list[str]) -> int:
    for name in argv or BENCHMARKS:
        if name not in BENCHMARKS:
            print(f"benchmarks: no benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 1
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
