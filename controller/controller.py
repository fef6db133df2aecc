"""The controller: what ACK's runtime runs for a kind, here for DynamoDB Tables.

An informer (list, then watch) feeds a work queue with the keys of resources that changed; N workers take
keys and reconcile them through the one entrance; each result says when the key comes back (a requeue, a
backoff, or the periodic resync, spread over the period). With leader election, of several processes only the
one holding the Lease does this; the others wait to take over. `/metrics`, `/healthz` and `/readyz` are served
on the metrics address.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from prefect.events import emit_event

from ack.resource import DeletionPolicy
from ack.tags import ResourceTags
from ack.result import Result, describe
from controller.events import TABLE_CHANGED, table_resource
from controller.informer import TableWatch, WorkFilter
from controller.leader import LEASE_SECONDS, LeaderElector
from controller.metrics import MetricsServer, QueueMetrics
from controller.queue import WorkQueue
from controller.workers import DEFAULT_WORKERS, Workers, resync_delay
from tasks.connections import Target
from tasks.kube_lease import LeaseLock, identity

DEFAULT_RESYNC_SECONDS = 36000  # ACK's --reconcile-default-resync-seconds: 10 hours
LEASE_NAME = "ackflow-controller"


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
    deletion_policy: DeletionPolicy = "delete"  # when neither a resource nor its namespace names one
    resource_tags: ResourceTags | None = None  # None: default_resource_tags()


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
        self.tables = TableWatch(client.CustomObjectsApi(target.kube_api()), settings.namespace)
        self.needs_work = WorkFilter()
        self.stopping = threading.Event()
        self.elector: LeaderElector | None = None
        self.changes = 0

    @property
    def lost_leadership(self) -> bool:
        return bool(self.elector and self.elector.lost.is_set())

    def ready(self) -> bool:
        """/readyz: the first list is done (or, waiting to lead, the Lease was read)."""
        return self.tables.listed.is_set() or bool(self.elector and self.elector.standing_by.is_set())

    def stop(self) -> None:
        """Stop taking changes; the reconciles in flight finish (SIGTERM, SIGINT, or the lease lost)."""
        self.stopping.set()
        self.tables.stop()

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
                              resync_seconds=self.settings.resync_seconds,
                              deletion_policy=self.settings.deletion_policy,
                              resource_tags=self.settings.resource_tags).start()
        where = self.settings.namespace or "every namespace"
        self.say(f"watching Table resources in {where} with {self.settings.max_concurrent_reconciles} workers")
        try:
            for change, resource in self.tables.changes():
                self._changed(change, resource)
        finally:
            if workers:
                workers.stop()

    def _changed(self, change: str, resource: dict[str, Any]) -> None:
        meta = resource["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        if not self.needs_work(change, resource):
            if change == "LISTED" and self.settings.resync_seconds and not self.settings.emit_only:
                self.queue.add_after(key, resync_delay(key, self.settings.resync_seconds, time.monotonic()))
            return
        self.changes += 1
        emit_event(TABLE_CHANGED, resource=table_resource(meta["namespace"], meta["name"]),
                   payload={"change": change, "generation": meta.get("generation"),
                            "deleting": bool(meta.get("deletionTimestamp"))})
        if self.settings.emit_only:
            self.tell(f"{change} {key} (generation {meta.get('generation')}): event emitted")
            return
        self.queue.add(key)
        self.tell(f"{change} {key} (generation {meta.get('generation')}): queued")

    def _said(self, key: str, result: Result, delay: float | None) -> None:
        self.tell(f"{key}: {describe(result, delay)}")
