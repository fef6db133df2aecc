"""Drift found in seconds: DynamoDB's out-of-band changes, as CloudTrail delivers them through EventBridge to an SQS
queue (`flows.events setup`), read by the controller (`flows.watch --drift-events`) in its own process.

Each event is mapped to the Table resource whose table it names (account, region, name, from the resources' status
ARNs) and that resource is checked at once, as a drift run checks it (controller/drift.py), under its drift policy:
detect-only records and reports it (`ackflow.table.drifted`); remediate queues the resource in the controller's own
work queue, so the one reconcile entrance fixes it with every guard, and `ackflow.table.remediated` follows. The
project's own calls are ignored (they were the change); events for tables no resource owns are counted and said,
never acted on. A message is deleted only once handled (after the remediating reconcile, for remediate); one that
cannot be read goes to the dead-letter queue; the others of a controller that stops are handed back at once, and
those of one that died come back when their visibility times out.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter

from ack.drift import DRIFT_FOUND, DriftClass, ResourceCheck, remediation_actions, reported_only
from ack.kinds import TABLE, Key
from ack.resource import DriftPolicy, TableResource
from ack.result import Requeue, Result, Synced
from ack.trail import MalformedEvent, TableEvent, parse_event, table_place
from controller.drift import check_table, record_check
from controller.events import announce_drift, announce_fixed
from controller.placement import placement
from controller.queue import WorkQueue
from controller.round import Options, requeue_times
from tasks.connections import Target
from tasks.drift_queue import EventQueue, Message
from tasks.kube_tables import namespace_annotations, read_resource

DEFAULT_WAIT_SECONDS = 20  # SQS's longest poll: an idle controller makes three calls a minute
HANDLERS = 4  # messages handled at once (each a few reads)

EVENTS = Counter("ackflow_drift_events", "Drift events read from the queue, by what came of them: own (the project's "
                 "own call), unmanaged (no resource owns the table), in_sync, drifted, not_ready (busy: checked again "
                 "later), gone (the resource was deleted), malformed (to the dead-letter queue) or error (left for another try).", ["outcome"])


class TableIndex:
    """Which Table resource owns which table: (account, region, table name) from each resource's status ARN, kept up
    to date from the controller's watch of Tables."""

    def __init__(self) -> None:
        self._owner: dict[tuple[str, str, str], Key] = {}
        self._place: dict[Key, tuple[str, str, str]] = {}
        self._lock = threading.Lock()  # noted from the Tables' watch thread, read from the handlers

    def note(self, change: str, resource: dict[str, Any]) -> None:
        key = Key.of(resource, TABLE)
        arn = ((resource.get("status") or {}).get("ackResourceMetadata") or {}).get("arn") or ""
        place = table_place(arn) if change != "DELETED" else None
        with self._lock:
            if (old := self._place.pop(key, None)) is not None and self._owner.get(old) == key:
                del self._owner[old]
            if place is not None:
                self._place[key], self._owner[place] = place, key

    def owner(self, place: tuple[str, str, str]) -> Key | None:
        with self._lock:
            return self._owner.get(place)


@dataclass
class Remediation:
    """A drift found from an event, waiting for the reconcile that fixes it; its messages are deleted then."""

    check: ResourceCheck
    event: TableEvent
    messages: dict[str, Message] = field(default_factory=dict)  # by message id: a redelivery replaces its receipt


class DriftEvents:
    """The queue's reader, its handlers, and the remediations waiting for their reconcile."""

    def __init__(self, target: Target, queue: EventQueue, work: WorkQueue, options: Options,
                 tell: Callable[[str], None], tables_listed: threading.Event, default_policy: DriftPolicy = "remediate",
                 wait_seconds: int = DEFAULT_WAIT_SECONDS):
        self.target, self.queue, self.work, self.options, self.tell = target, queue, work, options, tell
        self.tables_listed = tables_listed  # no message is read before every Table is in the index
        self.default_policy = default_policy
        self.wait_seconds = wait_seconds
        self.index = TableIndex()
        self.stopping = threading.Event()
        self._pending: dict[Key, Remediation] = {}
        self._checking: dict[Key, threading.Lock] = {}
        self._lock = threading.Lock()
        self._handlers = ThreadPoolExecutor(max_workers=HANDLERS, thread_name_prefix="drift-event")
        self._room = threading.BoundedSemaphore(2 * HANDLERS)  # messages received and not yet handled, at most
        self._reader: threading.Thread | None = None

    def start(self) -> DriftEvents:
        # The handlers run in copies of this context: started from a Prefect flow run, they emit its events.
        self._reader = threading.Thread(target=contextvars.copy_context().run, args=(self._read,),
                                        name="drift-events", daemon=True)
        self._reader.start()
        return self

    def stop(self) -> None:
        """No more reading; the messages being handled finish; those waiting for a reconcile are handed back at once,
        for the next controller (the work queue stops with this one)."""
        self.stopping.set()
        if self._reader:
            self._reader.join(timeout=1.0)  # a long poll in flight is left to end: what it gets is handed back
        self._handlers.shutdown(wait=True)
        with self._lock:
            waiting = [m for remediation in self._pending.values() for m in remediation.messages.values()]
            self._pending.clear()
        for message in waiting:
            self._quietly(self.queue.hand_back, message)

    # -- reading --------------------------------------------------------------------------------------------
    def _read(self) -> None:
        while not self.tables_listed.wait(0.5):  # else an owned table's event would look unmanaged
            if self.stopping.is_set():
                return
        while not self.stopping.is_set():
            try:
                messages = self.queue.receive(self.wait_seconds)
            except Exception as exc:  # noqa: BLE001 (the queue unreachable for a while: the reader goes on)
                self.tell(f"drift events: reading {self.queue.name} failed ({type(exc).__name__}: {exc}); "
                          "trying again")
                self.stopping.wait(5.0)
                continue
            for message in messages:
                self._room.acquire()  # read no faster than handled: a message held unhandled would time out
                try:
                    if self.stopping.is_set():
                        raise RuntimeError("stopping")
                    self._handlers.submit(contextvars.copy_context().run, self._handle, message)
                except RuntimeError:  # stopping (the pool may be shut down already): for the next controller
                    self._room.release()
                    self._quietly(self.queue.hand_back, message)

    def _handle(self, message: Message) -> None:
        try:
            outcome = self._outcome(message)
        except Exception as exc:  # noqa: BLE001 (left on the queue: it comes back, and after five tries is dead-lettered)
            outcome = "error"
            self.tell(f"drift event {message.id}: not handled ({type(exc).__name__}: {exc}); it comes back")
        finally:
            self._room.release()
        EVENTS.labels(outcome).inc()

    def _outcome(self, message: Message) -> str:
        try:
            event = parse_event(message.body)
        except MalformedEvent as exc:
            self.queue.dead_letter(message, str(exc))
            self.tell(f"drift event {message.id}: malformed ({exc}): moved to {self.queue.name}-dlq")
            return "malformed"
        if event.own:
            self.queue.delete(message)
            return "own"
        key = self.index.owner(event.place)
        if key is None:
            self.queue.delete(message)
            self.tell(f"drift event: {event.name} on table {event.table} ({event.account}, {event.region}) by "
                      f"{event.caller or 'unknown'}: no Table resource owns it: UNMANAGED activity, not acted on")
            return "unmanaged"
        return self._check(key, event, message)

    def _check(self, key: Key, event: TableEvent, message: Message) -> str:
        with self._lock:
            checking = self._checking.setdefault(key, threading.Lock())
        with checking:  # one check of a resource at a time: the second event then joins the first's remediation
            return self._check_one(key, event, message)

    def _check_one(self, key: Key, event: TableEvent, message: Message) -> str:
        with self._lock:  # already being fixed: this message waits for the same reconcile
            if (waiting := self._pending.get(key)) is not None:
                waiting.messages[message.id] = message
                return "drifted"
        raw = read_resource.fn(self.target, key.namespace, key.name)
        if raw is None:
            self.queue.delete(message)
            return "gone"
        resource = TableResource.parse(raw)
        place = placement(self.target, raw, namespace_annotations(self.target, key.namespace),
                          self.options.controller_namespace)
        check, live = check_table(self.target, resource, place, self.default_policy)
        cause = f"{event.name} by {event.caller or 'unknown'}"
        if check.drift_class == DriftClass.ERROR:  # AWS not read: the message comes back (five tries, then dead-letter)
            self.tell(f"{key}: the check after {cause} failed ({check.message}); the event comes back")
            return "error"
        if check.drift_class == DriftClass.NOT_READY and live is not None and not resource.deleting and (
                {live.observed.table_status, *live.observed.index_status.values()} != {"ACTIVE"}):
            # Busy (UPDATING, an index backfilling): what it becomes is only known once it is ACTIVE.
            self.queue.later(message, requeue_times(self.target).updating)
            return "not_ready"
        if check.drift_class not in DRIFT_FOUND:
            record_check(self.target, resource, check, live, reconciled=False)
            self.queue.delete(message)
            return "in_sync"
        announce_drift(check)
        what = ", ".join(d.path for d in check.differences) or check.message
        if check.remediable and check.policy == "remediate":
            with self._lock:
                self._pending.setdefault(key, Remediation(check, event)).messages[message.id] = message
            self.work.add(key)
            self.tell(f"{key}: {check.drift_class.value} ({what}) after {cause}: remediating")
            return "drifted"
        check.actions = reported_only(check, check.message or "detect-only: not changed")
        record_check(self.target, resource, check, live, reconciled=False)
        self.tell(f"{key}: {check.drift_class.value} ({what}) after {cause}: reported ({check.policy})")
        self.queue.delete(message)  # last: a controller killed before it reports the change again, never loses it
        return "drifted"

    # -- after the reconcile ---------------------------------------------------------------------------------
    def reconciled(self, key: Key, result: Result) -> None:
        """A reconcile of `key` ended: a remediation waiting for it is done (unless it only waits for AWS)."""
        if isinstance(result, Requeue) and not result.failed and result.reason != "RetryLater":
            return  # the table is UPDATING, say: the remediation goes on (AWS's own rate limit ends it: reported)
        with self._lock:
            remediation = self._pending.pop(key, None)
        if remediation is None:
            return
        check = remediation.check
        check.actions = remediation_actions(check, result, set() if isinstance(result, Synced)
                                            else {d.path for d in check.differences})
        raw = read_resource.fn(self.target, key.namespace, key.name)
        if raw is not None:
            record_check(self.target, TableResource.parse(raw), check, None, reconciled=True)
        fixed = announce_fixed(check, after=remediation.event.name)
        self.tell(f"{key}: {'remediated' if fixed else 'not remediated'} "
                  f"({', '.join(fixed) or type(result).__name__}) after {remediation.event.name}")
        for message in remediation.messages.values():
            self._quietly(self.queue.delete, message)

    def _quietly(self, call: Callable[[Message], None], message: Message) -> None:
        """A deletion or hand-back that fails leaves the message to come back on its own: said, never raised."""
        try:
            call(message)
        except Exception as exc:  # noqa: BLE001
            self.tell(f"drift event {message.id}: {call.__name__} failed ({type(exc).__name__}: {exc})")
