"""The drift flow as the benchmark's child process: Prefect's API is started first (a no-op flow), so
that the figure is the drift run itself; prints {flow_s, k8s_calls, peak_rss_mb} as JSON."""

from __future__ import annotations

import json
import resource
import sys
import time

import flows  # noqa: F401, I001  (first: it sets Prefect's environment before Prefect reads it)
from flows.drift import drift
from kubernetes.client import rest
from prefect import flow

K8S_CALLS = 0
_request = rest.RESTClientObject.request


def _counted(self, *args, **kwargs):
    global K8S_CALLS
    K8S_CALLS += 1
    return _request(self, *args, **kwargs)


@flow
def warm_up() -> None:
    """Starts Prefect's temporary API, which a deployed drift run would find already running."""


def main(namespace: str, concurrency: int) -> None:
    warm_up()
    rest.RESTClientObject.request = _counted
    started = time.perf_counter()
    drift(namespace=namespace, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"flow_s": elapsed, "k8s_calls": K8S_CALLS, "peak_rss_mb": round(peak_mb, 1)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
