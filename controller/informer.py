"""The informer's part of the controller: the resources of one kind listed, then watched from the list's
resourceVersion (resuming after a broken connection, listing afresh after 410 Gone), and which of those changes need
a reconcile.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import urllib3
from kubernetes import client, watch

from ack.conditions import is_synced
from ack.kinds import TABLE, Key, Kind

# The server ends each watch request after this long and we resume from the last resourceVersion; the
# client gives up on a silent connection a little later (bookmarks arrive about once a minute).
WATCH_SECONDS = 300
READ_TIMEOUT_SECONDS = WATCH_SECONDS + 60
RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0


class WorkFilter:
    """Which changes need work. Our own writes (the finalizer, the status) change neither metadata.generation
    nor the annotations, so a change needs work when the spec (generation), the deletion or the annotations
    (the ACK policies) differ from what this watch saw last. A resource seen for the first time in a list (at
    the start, or after a 410) needs work only if it was not reconciled at its generation or is not synced:
    the scheduled drift run re-checks the others, and a restart does not re-reconcile every table."""

    def __init__(self) -> None:
        self.seen: dict[Key, tuple[Any, ...]] = {}

    def __call__(self, change: str, resource: dict[str, Any]) -> bool:
        meta = resource["metadata"]
        key = Key.of(resource)
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


class ResourceWatch:
    """(change, resource) pairs of one kind: a list (LISTED), then the watch's ADDED, MODIFIED and DELETED from the
    list's resourceVersion on; after a 410 Gone, a fresh list."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str | None, kind: Kind = TABLE):
        self.api, self.namespace, self.kind = api, namespace, kind
        self.watch = watch.Watch()
        self.stopped = threading.Event()
        self.listed = threading.Event()  # set once the first list has been handed out: the cache is warm
        self.failures = 0  # in a row, for the backoff

    def stop(self) -> None:
        self.stopped.set()
        self.watch.stop()  # unblocks a pending read by shutting the socket down

    def _call(self, **kwargs: Any) -> Any:
        kind = self.kind
        if self.namespace:
            return self.api.list_namespaced_custom_object(kind.group, kind.version, self.namespace, kind.plural,
                                                          **kwargs)
        return self.api.list_cluster_custom_object(kind.group, kind.version, kind.plural, **kwargs)

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
                    self.listed.set()
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
        print(f"watch of {self.kind.plural} interrupted: {why}; resuming in {delay:.0f} s", flush=True)
        self.stopped.wait(delay)
