"""A coordination.k8s.io Lease as a lock, as client-go's leader election uses one: taken when free or expired,
kept by renewing it, released on the way out. Every write carries the resourceVersion it was computed from,
so two candidates can never both take it.

Two users: `held()`, so that two drift runs never remediate the same tables at once, whatever started them;
and the controller's leader election (controller/leader.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from kubernetes import client

from tasks.connections import Target

DRIFT_LEASE_SECONDS = 30


class LeaseTimeout(RuntimeError):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


def _micro(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the API's MicroTime: always six digits


def identity(prefix: str = "ackflow") -> str:
    """A holder name that tells people which process holds a lease: host, pid and a random part."""
    return f"{prefix}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class LeaseLock:
    """The Lease `namespace/name`, held by `holder` while renewed at least every `duration_seconds`."""

    def __init__(self, api: client.CoordinationV1Api, name: str, namespace: str, holder: str,
                 duration_seconds: int):
        self.api, self.name, self.namespace = api, name, namespace
        self.holder, self.duration_seconds = holder, duration_seconds

    def _spec(self, acquired: datetime | None) -> dict:
        now = _micro(_now())
        return {"holderIdentity": self.holder, "leaseDurationSeconds": self.duration_seconds,
                "acquireTime": _micro(acquired) if acquired else now, "renewTime": now}

    def try_acquire_or_renew(self) -> str | None:
        """Take the lease, or renew it if ours: None on success, else who holds it. Raises ApiException on
        anything but a lost race (409)."""
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            try:
                self.api.create_namespaced_lease(self.namespace, {"metadata": {"name": self.name},
                                                                  "spec": self._spec(None)})
                return None
            except client.ApiException as exc:
                if exc.status != 409:
                    raise
                return ""  # made by another candidate meanwhile
        spec = lease.spec
        ours = spec.holder_identity == self.holder
        renewed = spec.renew_time or spec.acquire_time
        expired = renewed is None or renewed + timedelta(seconds=spec.lease_duration_seconds or 0) < _now()
        if spec.holder_identity and not ours and not expired:
            return spec.holder_identity
        try:  # ours to renew, or free or expired: take it, unless someone else did first (409)
            self.api.replace_namespaced_lease(self.name, self.namespace, {
                "metadata": {"name": self.name, "resourceVersion": lease.metadata.resource_version},
                "spec": self._spec(spec.acquire_time if ours else None)})
            return None
        except client.ApiException as exc:
            if exc.status == 409:
                return spec.holder_identity or ""
            raise

    def release(self) -> None:
        """Give the lease up if ours, so the next holder need not wait for it to expire."""
        with contextlib.suppress(client.ApiException):
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity == self.holder:
                self.api.replace_namespaced_lease(self.name, self.namespace, {
                    "metadata": {"name": self.name, "resourceVersion": lease.metadata.resource_version},
                    "spec": {"holderIdentity": None, "leaseDurationSeconds": self.duration_seconds}})


@contextlib.contextmanager
def held(target: Target, name: str, namespace: str = "default", wait_seconds: float = 600,
         on_wait: Callable[[str], None] | None = None) -> Iterator[str]:
    """Hold the lease `name` for the duration of the block; wait (bounded) while another run holds it."""
    lock = LeaseLock(client.CoordinationV1Api(target.kube_api()), name, namespace, identity(), DRIFT_LEASE_SECONDS)
    deadline = time.monotonic() + wait_seconds
    while (holder := lock.try_acquire_or_renew()) is not None:
        if time.monotonic() > deadline:
            raise LeaseTimeout(f"lease {namespace}/{name} is still held by another run after {wait_seconds:.0f} s")
        if on_wait:
            on_wait(holder)
        time.sleep(1)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lock, stop), daemon=True)
    renewer.start()
    try:
        yield lock.holder
    finally:
        stop.set()
        renewer.join()
        lock.release()


def _renew(lock: LeaseLock, stop: threading.Event) -> None:
    while not stop.wait(lock.duration_seconds / 3):
        with contextlib.suppress(client.ApiException):
            lock.try_acquire_or_renew()
