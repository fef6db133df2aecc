"""The controller's metrics, named as controller-runtime and client-go name theirs (and ACK its AWS calls, in
tasks/connections.py), so existing dashboards and alerts work; and the `/metrics`, `/healthz`, `/readyz`
server behind `--metrics-addr`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

from prometheus_client import Counter, Gauge, Histogram, make_wsgi_app

CONTROLLER = "table"

RECONCILES = Counter("controller_runtime_reconcile", "Reconciles by result: success (synced), terminal, "
                     "requeue_after (come back later) or error (failed: backoff).", ["controller", "result"])
RECONCILE_ERRORS = Counter("controller_runtime_reconcile_errors", "Reconciles that failed.", ["controller"])
RECONCILE_TIME = Histogram("controller_runtime_reconcile_time_seconds", "How long each reconcile took.",
                           ["controller"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
ACTIVE_WORKERS = Gauge("controller_runtime_active_workers", "Workers reconciling now.", ["controller"])
MAX_WORKERS = Gauge("controller_runtime_max_concurrent_reconciles", "--max-concurrent-reconciles.", ["controller"])
DEPTH = Gauge("workqueue_depth", "Keys ready in the queue.", ["name"])
ADDS = Counter("workqueue_adds", "Keys added to the queue.", ["name"])
RETRIES = Counter("workqueue_retries", "Keys requeued after a failure (with backoff).", ["name"])
QUEUE_DURATION = Histogram("workqueue_queue_duration_seconds", "How long a key waited, ready, for a worker.",
                           ["name"], buckets=(0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60))
REQUEUE_DELAY = Histogram("ackflow_requeue_delay_seconds", "The delay of each requeue, by reason.", ["reason"],
                          buckets=(0.5, 1, 2, 4, 8, 16, 32, 64, 128, 300, 3600, 86400))
LEADER = Gauge("leader_election_master_status", "1 while this process leads (holds the Lease).", ["name"])


class QueueMetrics:
    """client-go's workqueue metrics for one named queue."""

    def __init__(self, name: str = CONTROLLER):
        self.name = name

    def depth(self, ready: int) -> None:
        DEPTH.labels(self.name).set(ready)

    def added(self) -> None:
        ADDS.labels(self.name).inc()

    def taken(self, waited: float) -> None:
        QUEUE_DURATION.labels(self.name).observe(waited)

    def retried(self) -> None:
        RETRIES.labels(self.name).inc()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # probes every few seconds would flood the log
        pass


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT (or :PORT, all interfaces: in a pod the kubelet probes the pod's IP); ValueError saying what
    is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--metrics-addr: {text!r} is not HOST:PORT (e.g. 127.0.0.1:8080 or :8080)")
    return host or "0.0.0.0", int(port)


class MetricsServer:
    """`/metrics` (Prometheus), `/healthz` (the process answers) and `/readyz` (`ready()` is true) in a thread."""

    def __init__(self, address: str, ready: Callable[[], bool]):
        host, port = parse_address(address)
        self._metrics = make_wsgi_app()
        self._ready = ready
        self._server = make_server(host, port, self._app, _ThreadingServer, handler_class=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def _app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _text(start_response, 200, "ok")
        if path == "/readyz":
            return _text(start_response, 200, "ok") if self._ready() else _text(start_response, 503, "not ready")
        if path == "/metrics":
            return self._metrics(environ, start_response)
        return _text(start_response, 404, "not found: /metrics, /healthz, /readyz")

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _text(start_response: Callable, status: int, body: str) -> list[bytes]:
    data = (body + "\n").encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
