"""A work queue of resource keys (ack.kinds.Key), as client-go's: the controller's memory of what to do.

- A key queued twice is handled once: `add` of a key already waiting does nothing.
- A key is never handed to two workers at once: `get` marks it processing, and an `add` meanwhile only marks
  it dirty; `done` queues it again then, so a change made during a reconcile is never lost.
- `add_after` brings a key back at a time (the earliest wins); `add_rate_limited` after the key's backoff,
  which doubles with each failure in a row until `forget` resets it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from ack.result import backoff
from controller.metrics import QueueMetrics

Clock = Callable[[], float]
K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """The queue was shut down: the worker stops."""


class WorkQueue(Generic[K]):
    def __init__(self, metrics: QueueMetrics | None = None, clock: Clock = time.monotonic):
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Condition()
        self._ready: deque[K] = deque()
        self._dirty: set[K] = set()  # waiting in _ready, or to be queued again when done
        self._processing: set[K] = set()
        self._due: dict[K, float] = {}  # key -> when it comes back (one entry per key: the earliest)
        self._timers: list[tuple[float, int, K]] = []  # heap of (due, sequence, key); stale entries skipped
        self._sequence = itertools.count()
        self._failures: dict[K, int] = {}
        self._added_at: dict[K, float] = {}
        self._shut_down = False

    # -- adding -----------------------------------------------------------------------------------------
    def add(self, key: K) -> None:
        with self._lock:
            self._add(key)

    def _add(self, key: K) -> None:
        self._due.pop(key, None)  # it is due now
        if self._shut_down or key in self._dirty:
            return
        self._dirty.add(key)
        self._added_at.setdefault(key, self._clock())
        if key not in self._processing:
            self._ready.append(key)
            self._lock.notify()
        if self._metrics:
            self._metrics.added()
            self._metrics.depth(len(self._ready))

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._lock:
            due = self._clock() + delay
            if self._shut_down or key in self._dirty or self._due.get(key, float("inf")) <= due:
                return
            self._due[key] = due
            heapq.heappush(self._timers, (due, next(self._sequence), key))
            self._lock.notify()

    def add_rate_limited(self, key: K) -> float:
        """Queue `key` after its backoff, one step longer than the last; returns the delay."""
        with self._lock:
            failures = self._failures[key] = self._failures.get(key, 0) + 1
        if self._metrics:
            self._metrics.retried()
        delay = backoff(failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """The key succeeded (or ended for good): its next failure backs off from the start."""
        with self._lock:
            self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        with self._lock:
            return self._failures.get(key, 0)

    # -- taking -----------------------------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> K | None:
        """The next key to work on, marked processing; None when `timeout` passed first. Raises ShutDown."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._lock:
            while True:
                if self._shut_down:
                    raise ShutDown
                self._release_due()
                if self._ready:
                    key = self._ready.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    waited = self._clock() - self._added_at.pop(key, self._clock())
                    if self._metrics:
                        self._metrics.taken(waited)
                        self._metrics.depth(len(self._ready))
                    return key
                waits = [t for t in (self._next_due(), deadline) if t is not None]
                if deadline is not None and self._clock() >= deadline:
                    return None
                self._lock.wait(max(0.0, min(waits) - self._clock()) if waits else None)

    def done(self, key: K) -> None:
        """The worker finished `key`; it is queued again if it changed meanwhile."""
        with self._lock:
            self._processing.discard(key)
            if key in self._dirty:
                self._ready.append(key)
                self._lock.notify()

    def _release_due(self) -> None:
        now = self._clock()
        while self._timers and self._timers[0][0] <= now:
            due, _, key = heapq.heappop(self._timers)
            if self._due.get(key) == due:
                self._add(key)

    def _next_due(self) -> float | None:
        while self._timers and self._due.get(self._timers[0][2]) != self._timers[0][0]:
            heapq.heappop(self._timers)  # stale: the key was added meanwhile, or rescheduled sooner
        return self._timers[0][0] if self._timers else None

    # -- state ------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Keys ready to be taken now (workqueue_depth)."""
        with self._lock:
            return len(self._ready)

    def scheduled(self) -> int:
        """Keys waiting for their time to come back."""
        with self._lock:
            return len(self._due)

    def idle(self) -> bool:
        """Nothing ready, nothing being worked on (keys may still be scheduled for later)."""
        with self._lock:
            self._release_due()
            return not self._ready and not self._processing

    def shut_down(self) -> None:
        with self._lock:
            self._shut_down = True
            self._lock.notify_all()
