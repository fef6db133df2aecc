"""Workers that take keys from a work queue and reconcile them through the one entrance, and `drive`: the same
workers run until a set of resources is synced or terminal (apply, reconcile, drift's remediation, bootstrap).

A worker turns each result into the key's next visit: synced or terminal forget the key's failures (and, in the
controller, schedule its resync); a requeue with a time comes back then; a failure comes back after the key's
backoff, doubling with each failure in a row.
"""

from __future__ import annotations

import contextvars
import threading
import time
import zlib
from collections.abc import Callable, Iterable

from ack.kinds import Key
from ack.outcome import Outcome
from ack.result import Requeue, Result, Synced, Terminal, backoff
from controller.metrics import (
    ACTIVE_WORKERS,
    CONTROLLER,
    MAX_WORKERS,
    RECONCILE_ERRORS,
    RECONCILE_TIME,
    RECONCILES,
    REQUEUE_DELAY,
    QueueMetrics,
)
from controller.queue import ShutDown, WorkQueue
from controller.reconciler import reconcile
from controller.round import Options
from tasks.connections import Target

DEFAULT_WORKERS = 4  # --max-concurrent-reconciles (ACK's default is 1: one GSI backfill would hold up every table)
DEFAULT_TIMEOUT_SECONDS = 600.0  # how long a command keeps reconciling before it reports what is not synced yet
OnResult = Callable[[Key, Result, float | None], None]  # (key, result, seconds until it comes back, or None)


def resync_delay(key: Key, period: float, now: float) -> float:
    """Seconds until `key`'s next periodic resync: each key keeps its own phase in the period (from a hash of
    its name), so a thousand resources resync one by one across the period, never all at once."""
    phase = zlib.crc32(str(key).encode()) / 2**32 * period
    return (phase - now) % period or period


class Workers:
    """`count` threads reconciling keys from `queue`. Started from a Prefect flow run, each reconcile is a task
    run of it (the threads carry a copy of the starting thread's context)."""

    def __init__(self, target: Target, queue: WorkQueue, count: int, on_result: OnResult | None = None,
                 resync_seconds: float = 0.0, deadline: float | None = None, options: Options | None = None):
        self.target = target
        self.options = options or Options.from_environment()  # read here: a bad environment is the caller's error
        self.queue = queue
        self.count = count
        self.on_result = on_result
        self.resync_seconds = resync_seconds
        self.deadline = deadline  # a requeue due later than this is not made: the result is final
        self._threads: list[threading.Thread] = []

    def start(self) -> Workers:
        MAX_WORKERS.labels(CONTROLLER).set(self.count)
        for number in range(self.count):
            context = contextvars.copy_context()  # one per thread: a context cannot be entered twice at once
            thread = threading.Thread(target=context.run, args=(self._work,), name=f"reconcile-{number}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """No new keys are taken; the reconciles in flight finish."""
        self.queue.shut_down()
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while True:
            try:
                key = self.queue.get()
            except ShutDown:
                return
            assert key is not None
            try:
                self._handle(key)
            finally:
                self.queue.done(key)

    def _handle(self, key: Key) -> None:
        ACTIVE_WORKERS.labels(CONTROLLER).inc()
        started = time.monotonic()
        try:
            result = reconcile(self.target, key, self.options)
        except Exception as exc:  # noqa: BLE001 (one resource's failure never stops a worker)
            result = Requeue("Error", f"{type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            RECONCILE_TIME.labels(CONTROLLER).observe(time.monotonic() - started)
            ACTIVE_WORKERS.labels(CONTROLLER).dec()
        delay = self._next_visit(key, result)
        if self.on_result:
            self.on_result(key, result, delay)

    def _next_visit(self, key: Key, result: Result) -> float | None:
        """Schedule the key's next reconcile after `result`; the delay, or None when none is scheduled."""
        match result:
            case Requeue(after=None):
                RECONCILES.labels(CONTROLLER, "error").inc()
                RECONCILE_ERRORS.labels(CONTROLLER).inc()
                delay = backoff(self.queue.failures(key) + 1)
            case Requeue(after=after):
                RECONCILES.labels(CONTROLLER, "requeue_after").inc()
                self.queue.forget(key)
                delay = after
            case Synced(state=("Gone" | "Deleted" | "Retained" | "Skipped")):  # gone, or not ours: no next visit
                RECONCILES.labels(CONTROLLER, "success").inc()
                self.queue.forget(key)
                return None
            case Synced() | Terminal():
                RECONCILES.labels(CONTROLLER, "success" if isinstance(result, Synced) else "terminal").inc()
                self.queue.forget(key)
                if not self.resync_seconds:
                    return None
                delay = resync_delay(key, self.resync_seconds, time.monotonic())
        if self.deadline is not None and time.monotonic() + delay > self.deadline:
            return None
        if isinstance(result, Requeue):
            REQUEUE_DELAY.labels(result.reason).observe(delay)
        if isinstance(result, Requeue) and result.failed:
            self.queue.add_rate_limited(key)
        else:
            self.queue.add_after(key, delay)
        return delay


def drive(target: Target, keys: Iterable[Key], workers: int, timeout_seconds: float,
          on_result: OnResult | None = None, options: Options | None = None) -> dict[Key, Result]:
    """Reconcile `keys` with `workers` workers until each is synced or terminal, or its next visit would come
    after `timeout_seconds`; the last result of each key. `options`: the controller's (default: the environment's)."""
    keys = list(dict.fromkeys(keys))
    results: dict[Key, Result] = {}
    final: set[Key] = set()  # keys whose last result schedules no further visit
    changed = threading.Condition()

    def record(key: Key, result: Result, delay: float | None) -> None:
        with changed:
            results[key] = result
            (final.add if delay is None else final.discard)(key)
            changed.notify_all()
        if on_result:
            on_result(key, result, delay)

    queue = WorkQueue(QueueMetrics("drive"))
    pool = Workers(target, queue, max(1, min(workers, len(keys) or 1)), record,
                   deadline=time.monotonic() + timeout_seconds, options=options)
    for key in keys:
        queue.add(key)
    pool.start()
    try:
        with changed:
            changed.wait_for(lambda: len(final) == len(keys))
    finally:
        pool.stop()
    return {key: results[key] for key in keys}


def settle(target: Target, tables: dict[Key, str], workers: int, timeout_seconds: float,
           options: Options | None = None) -> list[Outcome]:
    """`drive` the resources `tables` names (key -> the table each concerns) and say where each ended, in order."""
    results = drive(target, tables, workers, timeout_seconds, options=options)
    return [Outcome.of(key, tables[key], result) for key, result in results.items()]
