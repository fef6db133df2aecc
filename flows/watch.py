"""`python -m flows.watch [-n NS | --all-namespaces] [--emit-only]`: reconcile Table resources as they change.

The ACK controller's loop as a long-running Prefect flow: list the Table resources, then watch them from
that resourceVersion (resuming where the last event left off, listing afresh on 410 Gone). Each change that
needs work emits the Prefect event `ackflow.table.changed` and, unless --emit-only (when the
`reconcile-on-change` deployment reacts to the events instead), is reconciled here. One line per change;
SIGINT or SIGTERM stops it (exit 0).
"""

from __future__ import annotations

import argparse
import contextvars
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import urllib3
from kubernetes import client, watch
from prefect import flow
from prefect.events import emit_event

from ack.conditions import is_synced
from ack.model import GROUP, PLURAL, VERSION
from flows.cli import add_scope, guarded, scope_of
from flows.reconcile import DEFAULT_TIMEOUT_SECONDS, reconcile_subflow
from tasks.connections import Connection, resolve_target
from tasks.kube_tables import ensure_crd

# The server ends each watch request after this long and we resume from the last resourceVersion; the
# client gives up on a silent connection a little later (bookmarks arrive about once a minute).
WATCH_SECONDS = 300
READ_TIMEOUT_SECONDS = WATCH_SECONDS + 60
RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0
TABLE_CHANGED = "ackflow.table.changed"


def table_resource(namespace: str, name: str) -> dict[str, str]:
    """The Prefect event resource for one Table resource, in the watch's and drift's events; the
    reconcile-on-change trigger reads the namespace and name from its labels."""
    return {"prefect.resource.id": f"ackflow.table.{namespace}.{name}", "prefect.resource.name": f"{namespace}/{name}",
            "ackflow.namespace": namespace, "ackflow.name": name}


class WorkFilter:
    """Which changes need work. Our own writes (the finalizer, the status) change neither metadata.generation
    nor the annotations, so a change needs work when the spec (generation), the deletion or the annotations
    (the ACK policies) differ from what this watch saw last. A resource seen for the first time in a list (at
    the start, or after a 410) needs work only if it was not reconciled at its generation or is not synced:
    the scheduled drift run re-checks the others, and a restart does not re-reconcile every table."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], tuple[Any, ...]] = {}

    def __call__(self, change: str, resource: dict[str, Any]) -> bool:
        meta = resource["metadata"]
        key = (meta["namespace"], meta["name"])
        if change == "DELETED":
            self.seen.pop(key, None)
            return False
        state = (meta.get("generation"), bool(meta.get("deletionTimestamp")),
                 json.dumps(meta.get("annotations") or {}, sort_keys=True))
        previous, self.seen[key] = self.seen.get(key), state
        if previous is not None:
            return state != previous
        if change == "ADDED":
            return True
        status = resource.get("status") or {}
        return state[1] or state[0] != status.get("observedGeneration") or not is_synced(status.get("conditions"))


class TableWatch:
    """(change, resource) pairs: a list (LISTED), then the watch's ADDED, MODIFIED and DELETED from the list's
    resourceVersion on; after a 410 Gone, a fresh list."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str | None):
        self.api, self.namespace = api, namespace
        self.watch = watch.Watch()
        self.stopped = threading.Event()
        self.failures = 0  # in a row, for the backoff

    def stop(self) -> None:
        self.stopped.set()
        self.watch.stop()  # unblocks a pending read by shutting the socket down

    def _call(self, **kwargs: Any) -> Any:
        if self.namespace:
            return self.api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, **kwargs)
        return self.api.list_cluster_custom_object(GROUP, VERSION, PLURAL, **kwargs)

    def changes(self, version: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """From `version` (a resume), else from a first list."""
        started = version is not None
        while not self.stopped.is_set():
            try:
                if version is None:
                    listing = self._call()  # one page: the controller holds every resource in memory anyway
                    version, started, self.failures = listing["metadata"]["resourceVersion"], True, 0
                    for item in listing["items"]:
                        if self.stopped.is_set():
                            return
                        yield "LISTED", item
                if self.stopped.is_set():  # stream() would clear the Watch's own stop flag
                    return
                for event in self.watch.stream(self._call, resource_version=version, allow_watch_bookmarks=True,
                                               timeout_seconds=WATCH_SECONDS, _request_timeout=READ_TIMEOUT_SECONDS):
                    version, self.failures = event["raw_object"]["metadata"]["resourceVersion"], 0
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        yield event["type"], event["raw_object"]
            except client.ApiException as exc:
                if exc.status == 410:
                    version = None  # our resourceVersion is too old (etcd compacted it): list again
                elif exc.status >= 500 or exc.status == 429 or started:
                    # Once running, 401/403/404 are what a restarting API server answers until its RBAC and
                    # CRD caches fill: wait and resume, as client-go's reflector does, saying why.
                    self._pause(f"the API server answered {exc.status} {exc.reason}")
                else:  # at the start, 401, 403, 404 are a misconfiguration that no retry fixes
                    raise
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if self.stopped.is_set():
                    return
                self._pause(f"the connection broke ({type(exc).__name__})")

    def _pause(self, why: str) -> None:
        """Wait before resuming, longer after each failure in a row (2 s doubling, at most a minute)."""
        delay = min(RETRY_SECONDS * 2 ** self.failures, MAX_RETRY_SECONDS)
        self.failures += 1
        print(f"watch interrupted: {why}; resuming in {delay:.0f} s", flush=True)
        self.stopped.wait(delay)


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM stop the watch between changes: a running reconcile finishes first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, lambda *_: stop()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@flow(name="watch", log_prints=True)
def watch_tables(namespace: str | None = None, emit_only: bool = False, connection: Connection = Connection(),
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> int:
    """Watch Table resources and reconcile each change, until stopped; returns the changes handled.

    Args:
        namespace: Only this namespace; empty for every namespace.
        emit_only: Only emit `ackflow.table.changed` events (for the reconcile-on-change deployment).
        connection: Where the flow acts: the target and, optionally, credentials blocks.
        timeout_seconds: How long to wait for each table to converge.
    """
    where = resolve_target(connection)
    ensure_crd(where)  # with the in-cluster role's read-only access, this checks that it is installed
    tables = TableWatch(client.CustomObjectsApi(where.kube_api()), namespace)
    needs_work = WorkFilter()
    handled = 0
    print(f"watching Table resources in {namespace or 'every namespace'}", flush=True)
    # Each reconcile runs as a subflow in a worker thread: Prefect installs its SIGTERM handler only for
    # subflows in the main thread, so ours stays in place and a signal lets the running reconcile finish.
    with stop_on_signals(tables.stop), ThreadPoolExecutor(1, thread_name_prefix="reconcile") as worker:
        for change, resource in tables.changes():
            if not needs_work(change, resource):
                continue
            meta = resource["metadata"]
            ns, name = meta["namespace"], meta["name"]
            emit_event(TABLE_CHANGED, resource=table_resource(ns, name),
                       payload={"change": change, "generation": meta.get("generation"),
                                "deleting": bool(meta.get("deletionTimestamp"))})
            if emit_only:
                outcome = "event emitted"
            else:
                try:
                    result = worker.submit(contextvars.copy_context().run, reconcile_subflow, ns, name, where,
                                           timeout_seconds).result()
                    outcome = result.state + (f": {result.message}" if result.message else "")
                except Exception as exc:  # one resource's failure never stops the watch
                    outcome = f"failed: {exc}".splitlines()[0]
            handled += 1
            print(f"{change} {ns}/{name} (generation {meta.get('generation')}): {outcome}", flush=True)
    print(f"watch stopped after {handled} changes", flush=True)
    return handled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.watch", description=__doc__.splitlines()[0])
    add_scope(parser)
    parser.add_argument("--emit-only", action="store_true",
                        help="only emit ackflow.table.changed events; the reconcile-on-change deployment reconciles")
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                        help="seconds to wait for each table to converge")
    args = parser.parse_args(argv)
    namespace = scope_of(args)
    handled = guarded("watch", lambda: watch_tables(namespace, args.emit_only, Connection(target=args.target),
                                                     args.timeout))
    return 1 if handled is None else 0


if __name__ == "__main__":
    sys.exit(main())
