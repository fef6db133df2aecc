"""The controller: what ACK's runtime runs, here for every kind served (Table, Backup, FieldExport).

An informer per kind (list, then watch) feeds one work queue with the keys of resources that changed; N workers take
keys and reconcile them through the one entrance; each result says when the key comes back (a requeue, a
backoff, or the periodic resync, spread over the period). With leader election, of several processes only the
one holding the Lease does this; the others wait to take over. `/metrics`, `/healthz` and `/readyz` are served
on the metrics address.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from prefect.events import emit_event

from ack.result import Result, describe
from ack.field_export import FieldExportResource
from ack.kinds import FIELD_EXPORT, KINDS, TABLE, Key, Kind
from controller.drift_events import DriftEvents
from controller.events import event_name, event_resource
from controller.informer import ResourceWatch, WorkFilter
from controller.leader import LEASE_SECONDS, LeaderElector
from controller.metrics import MetricsServer, QueueMetrics
from controller.queue import WorkQueue
from controller.round import Options
from controller.workers import DEFAULT_WORKERS, Workers, resync_delay
from tasks.connections import Target
from tasks.drift_queue import EventQueue
from tasks.kube_lease import LeaseLock, identity

DEFAULT_RESYNC_SECONDS = 36000  # ACK's --reconcile-default-resync-seconds: 10 hours
LEASE_NAME = "ackflow-controller"
WATCHING = f"watching {', '.join(KINDS)} resources"  # the line that says the controller started


def default_lease_namespace() -> str:
    """In a pod, its own namespace (POD_NAMESPACE, from the downward API); else `default`."""
    return os.environ.get("POD_NAMESPACE") or "default"


@dataclass(frozen=True)
class Settings:
    """The controller's flags, named as ACK's runtime names them where it has one."""

    namespace: str | None = None  # None: every namespace
    max_concurrent_reconciles: int = DEFAULT_WORKERS
    resync_seconds: float = DEFAULT_RESYNC_SECONDS  # 0: no periodic resync
    enable_leader_election: bool = False
    leader_election_namespace: str = "default"
    metrics_addr: str = ""  # HOST:PORT; empty: no metrics server
    emit_only: bool = False  # only emit ackflow.table.changed events (the reconcile-on-change deployment acts)
    options: Options | None = None  # --deletion-policy, --resource-tags, --controller-namespace; None: the defaults
    drift_events: str | None = None  # the SQS queue of DynamoDB's out-of-band changes to check at once; None: none


class Controller:
    """`say` takes what a person follows (starting, leadership); `tell` one line per change and per result, many
    and for the log (in the Prefect UI each reconcile is a task run whose state says its outcome)."""

    def __init__(self, target: Target, settings: Settings, say: Callable[[str], None] = print,
                 tell: Callable[[str], None] = print):
        self.target = target
        self.settings = settings
        self.say = say
        self.tell = tell
        self.queue = WorkQueue(QueueMetrics())
        api = client.CustomObjectsApi(target.kube_api())
        self.watches = [ResourceWatch(api, settings.namespace, kind) for kind in KINDS.values()]
        self.needs_work = WorkFilter()
        self.exports = ExportIndex()
        self.stopping = threading.Event()
        self.elector: LeaderElector | None = None
        self.changes = 0
        # Read here, so that a missing queue is the command's error at once.
        tables = next(watch for watch in self.watches if watch.kind is TABLE)
        self.drift_events = DriftEvents(target, EventQueue(target, settings.drift_events), self.queue,
                                        settings.options or Options.from_environment(), tell, tables.listed) \
            if settings.drift_events else None

    @property
    def lost_leadership(self) -> bool:
        return bool(self.elector and self.elector.lost.is_set())

    def ready(self) -> bool:
        """/readyz: the first list is done (or, waiting to lead, the Lease was read)."""
        return all(watch.listed.is_set() for watch in self.watches) or bool(
            self.elector and self.elector.standing_by.is_set())

    def stop(self) -> None:
        """Stop taking changes; the reconciles in flight finish (SIGTERM, SIGINT, or the lease lost)."""
        self.stopping.set()
        for watch in self.watches:
            watch.stop()

    def run(self) -> int:
        """Until stopped; returns the changes that needed work."""
        server = MetricsServer(self.settings.metrics_addr, self.ready).start() if self.settings.metrics_addr \
            else None
        if server:
            self.say(f"metrics on http://{server.address}/metrics (and /healthz, /readyz)")
        try:
            if self.settings.enable_leader_election:
                api = client.CoordinationV1Api(self.target.kube_api())
                self.elector = LeaderElector(LeaseLock(api, LEASE_NAME, self.settings.leader_election_namespace,
                                                       identity("ackflow-controller"), LEASE_SECONDS), say=self.say)
                if not self.elector.acquire(self.stopping):
                    return self.changes
                self.elector.keep(self.stopping, self.stop)
            self._lead()
        finally:
            self.stopping.set()
            if self.elector:
                self.elector.release()
            if server:
                server.stop()
        return self.changes

    def _lead(self) -> None:
        workers = None
        if not self.settings.emit_only:
            workers = Workers(self.target, self.queue, self.settings.max_concurrent_reconciles, self._said,
                              resync_seconds=self.settings.resync_seconds, options=self.settings.options).start()
        if self.drift_events:
            self.drift_events.start()
            self.say(f"checking the tables named by the drift events in {self.settings.drift_events}")
        where = self.settings.namespace or "every namespace"
        self.say(f"{WATCHING} in {where} with {self.settings.max_concurrent_reconciles} workers")
        failures: list[BaseException] = []
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(self._follow, watch, failures),
                                    name=f"watch-{watch.kind.plural}", daemon=True) for watch in self.watches]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            if self.drift_events:  # first: what waits for a reconcile is handed back before the workers stop
                self.drift_events.stop()
            if workers:
                workers.stop()
        if failures:
            raise failures[0]

    def _follow(self, watch: ResourceWatch, failures: list[BaseException]) -> None:
        """One kind's changes, until stopped; a watch that fails (a misconfiguration at the start) stops them all."""
        try:
            for change, resource in watch.changes():
                self._changed(watch.kind, change, resource)
        except BaseException as exc:  # noqa: BLE001 (raised again by _lead, in the controller's thread)
            failures.append(exc)
            self.stop()

    def _changed(self, kind: Kind, change: str, resource: dict[str, Any]) -> None:
        meta = resource["metadata"]
        key = Key.of(resource, kind)
        if kind is FIELD_EXPORT:
            self.exports.note(change, resource)
        if kind is TABLE and self.drift_events:
            self.drift_events.index.note(change, resource)
        for export in self.exports.reading(key):  # any change of a source (its status too) is news for its exports
            if self.settings.emit_only:
                emit_event(event_name(FIELD_EXPORT, "changed"),
                           resource=event_resource(export.namespace, export.name, FIELD_EXPORT),
                           payload={"change": "SOURCE_CHANGED", "source": str(key)})
            else:
                self.queue.add(export)
        if not self.needs_work(change, resource):
            if change == "LISTED" and self.settings.resync_seconds and not self.settings.emit_only:
                self.queue.add_after(key, resync_delay(key, self.settings.resync_seconds, time.monotonic()))
            return
        self.changes += 1
        emit_event(event_name(kind, "changed"), resource=event_resource(key.namespace, key.name, kind),
                   payload={"change": change, "generation": meta.get("generation"),
                            "deleting": bool(meta.get("deletionTimestamp"))})
        if self.settings.emit_only:
            self.tell(f"{change} {key} (generation {meta.get('generation')}): event emitted")
            return
        self.queue.add(key)
        self.tell(f"{change} {key} (generation {meta.get('generation')}): queued")

    def _said(self, key: Key, result: Result, delay: float | None) -> None:
        self.tell(f"{key}: {describe(result, delay)}")
        if self.drift_events:
            self.drift_events.reconciled(key, result)


class ExportIndex:
    """Which FieldExports read which resource (ACK's second reconciler per kind, which re-syncs the FieldExports of a
    source whenever the source changes), from the FieldExports' own watch."""

    def __init__(self) -> None:
        self._source: dict[Key, Key] = {}  # FieldExport -> the resource it reads
        self._readers: dict[Key, set[Key]] = {}  # resource -> the FieldExports reading it
        self._lock = threading.Lock()  # noted from the FieldExports' watch thread, read from the others

    def note(self, change: str, resource: dict[str, Any]) -> None:
        export = Key.of(resource, FIELD_EXPORT)
        parsed = FieldExportResource.parse(resource, FIELD_EXPORT.finalizer)
        with self._lock:
            if (old := self._source.pop(export, None)) is not None:
                self._readers[old].discard(export)
                if not self._readers[old]:
                    del self._readers[old]
            if change != "DELETED" and parsed.spec is not None:
                ref = parsed.spec.from_.resource
                source = self._source[export] = Key(ref.kind, export.namespace, ref.name)
                self._readers.setdefault(source, set()).add(export)

    def reading(self, source: Key) -> list[Key]:
        with self._lock:
            return sorted(self._readers.get(source, ()))
