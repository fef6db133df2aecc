"""Leader election over a Lease, with controller-runtime's timings: of several controller processes one
reconciles; another takes over within the lease duration when it dies (even by kill -9).

The leader renews every `retry_period`; a renewal that has not succeeded for `renew_deadline` (shorter than the
lease) means it may have lost the lease: it stops at once, before another can have taken over. On a clean stop
it releases the lease, so the next leader need not wait for it to expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import urllib3
from kubernetes import client

from controller.metrics import LEADER
from tasks.kube_lease import LeaseLock

LEASE_SECONDS = 15
RENEW_DEADLINE_SECONDS = 10.0
RETRY_PERIOD_SECONDS = 2.0


class LeaderElector:
    def __init__(self, lock: LeaseLock, renew_deadline: float = RENEW_DEADLINE_SECONDS,
                 retry_period: float = RETRY_PERIOD_SECONDS, say: Callable[[str], None] = print):
        self.lock = lock
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.say = say
        self.lost = threading.Event()
        self.standing_by = threading.Event()  # the Lease was read: this process is a working candidate

    def _attempt(self) -> str | None:
        """None when the lease is ours now; else who holds it ("?" when the API server did not answer)."""
        try:
            return self.lock.try_acquire_or_renew()
        except (client.ApiException, urllib3.exceptions.HTTPError, OSError):
            return "?"

    def acquire(self, stopping: threading.Event) -> bool:
        """Wait until this process leads (True), or until `stopping` is set (False)."""
        last_holder = None
        while not stopping.is_set():
            holder = self._attempt()
            if holder is None:
                LEADER.labels(self.lock.name).set(1)
                self.say(f"leader election: {self.lock.holder} leads (lease {self.lock.namespace}/{self.lock.name})")
                return True
            if holder != "?":
                self.standing_by.set()
            if holder != last_holder:
                self.say(f"leader election: waiting; {holder or 'another candidate'} leads")
                last_holder = holder
            stopping.wait(self.retry_period)
        return False

    def keep(self, stopping: threading.Event, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew in the background until `stopping`; if renewal fails for the renew deadline, set `lost` and call
        `on_lost` (the controller stops)."""
        def renew() -> None:
            renewed = time.monotonic()
            while not stopping.wait(self.retry_period):
                if self._attempt() is None:
                    renewed = time.monotonic()
                elif time.monotonic() - renewed > self.renew_deadline:
                    LEADER.labels(self.lock.name).set(0)
                    self.lost.set()
                    self.say(f"leader election: lost the lease {self.lock.namespace}/{self.lock.name}; stopping")
                    on_lost()
                    return

        thread = threading.Thread(target=renew, name="leader-renew", daemon=True)
        thread.start()
        return thread

    def release(self) -> None:
        LEADER.labels(self.lock.name).set(0)
        if not self.lost.is_set():
            self.lock.release()
