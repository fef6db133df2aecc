"""A Kubernetes Lease as a lock between runs that must not overlap (two drift runs remediating the same
tables), whatever started them: deployments, the command line, or both. Held while renewed; a holder that
died loses it when its lease expires."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from kubernetes import client

from tasks.connections import Target

LEASE_SECONDS = 30


class LeaseTimeout(RuntimeError):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


def _micro(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the API's MicroTime: always six digits


@contextlib.contextmanager
def held(target: Target, name: str, namespace: str = "default", wait_seconds: float = 600,
         on_wait=None) -> Iterator[str]:
    """Hold the lease `name` for the duration of the block; wait (bounded) while another run holds it."""
    api = client.CoordinationV1Api(target.kube_api())
    me = f"ackflow-{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + wait_seconds
    while (holder := _take(api, name, namespace, me)) is not None:
        if time.monotonic() > deadline:
            raise LeaseTimeout(f"lease {namespace}/{name} is still held by another run after {wait_seconds:.0f} s")
        if on_wait:
            on_wait(holder)
        time.sleep(1)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(api, name, namespace, me, stop), daemon=True)
    renewer.start()
    try:
        yield me
    finally:
        stop.set()
        renewer.join()
        _release(api, name, namespace, me)


def _take(api: client.CoordinationV1Api, name: str, namespace: str, me: str) -> str | None:
    """Take the lease: None once taken, else who holds it."""
    spec = {"holderIdentity": me, "leaseDurationSeconds": LEASE_SECONDS, "acquireTime": _micro(_now()),
            "renewTime": _micro(_now())}
    try:
        api.create_namespaced_lease(namespace, {"metadata": {"name": name}, "spec": spec})
        return None
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    lease = api.read_namespaced_lease(name, namespace)
    renewed = lease.spec.renew_time or lease.spec.acquire_time
    expired = renewed is None or renewed + timedelta(seconds=lease.spec.lease_duration_seconds or 0) < _now()
    if lease.spec.holder_identity and not expired:
        return lease.spec.holder_identity
    try:  # free or expired: take it, unless someone else did first (409 on the stale resourceVersion)
        api.replace_namespaced_lease(name, namespace, {
            "metadata": {"name": name, "resourceVersion": lease.metadata.resource_version}, "spec": spec})
        return None
    except client.ApiException as exc:
        if exc.status == 409:
            return lease.spec.holder_identity or ""
        raise


def _renew(api: client.CoordinationV1Api, name: str, namespace: str, me: str, stop: threading.Event) -> None:
    while not stop.wait(LEASE_SECONDS / 3):
        with contextlib.suppress(client.ApiException):
            lease = api.read_namespaced_lease(name, namespace)
            if lease.spec.holder_identity == me:  # with its resourceVersion: never renew a lease taken meanwhile
                api.patch_namespaced_lease(name, namespace, {
                    "metadata": {"resourceVersion": lease.metadata.resource_version},
                    "spec": {"renewTime": _micro(_now())}})


def _release(api: client.CoordinationV1Api, name: str, namespace: str, me: str) -> None:
    with contextlib.suppress(client.ApiException):
        lease = api.read_namespaced_lease(name, namespace)
        if lease.spec.holder_identity == me:
            api.replace_namespaced_lease(name, namespace, {
                "metadata": {"name": name, "resourceVersion": lease.metadata.resource_version},
                "spec": {"holderIdentity": None, "leaseDurationSeconds": LEASE_SECONDS}})
