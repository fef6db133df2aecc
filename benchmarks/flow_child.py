"""A flow run measured in a process of its own: `python -m benchmarks.flow_child drift NAMESPACE CONCURRENCY`
or `... bootstrap CONFIG`. Prefect's API is started first (a no-op flow), as a deployed run would find it,
so the figure is the flow run itself; prints {flow_s, k8s_calls, peak_rss_mb} as JSON."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable

import flows  # noqa: F401, I001  (first: it sets Prefect's environment before Prefect reads it)
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
    """Starts Prefect's temporary API, which a deployed run would find already running."""


def _run(args: list[str]) -> Callable[[], object]:
    if args[0] == "drift":
        from flows.drift import drift

        return lambda: drift(namespace=args[1], concurrency=int(args[2]))
    if args[0] == "bootstrap":
        from flows.bootstrap import bootstrap

        return lambda: bootstrap(config_path=args[1])
    raise SystemExit(f"flow_child: no flow {args[0]!r}")


def main(args: list[str]) -> None:
    run = _run(args)
    warm_up()
    rest.RESTClientObject.request = _counted
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"flow_s": elapsed, "k8s_calls": K8S_CALLS, "peak_rss_mb": round(peak_mb, 1)}))


if __name__ == "__main__":
    main(sys.argv[1:])
