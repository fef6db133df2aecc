"""What the account-level service tasks share: their result, the ownership tag, find-or-create, waiting.

Every task in this package is one resource step: find the resource by name and ownership tag, create it
only if missing (or, with dry_run, only say so), wait until it is usable, and return a `ServiceResult`.
`ensure` and `remove` hold that logic once; each module supplies how to find, create and delete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jmespath
from botocore.exceptions import ClientError, WaiterError
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from pydantic import BaseModel

from tasks.connections import Target

OWNER_TAG = "ackflow.dev/bootstrap"  # value: the configuration's prefix

Action = Literal["created", "found", "updated", "would create", "would update",
                 "deleted", "absent", "kept", "would delete"]


class ServiceResult(BaseModel):
    """One row of the bootstrap's summary."""

    service: str
    name: str
    id: str  # ID or ARN; "" when there is none (yet)
    status: str
    action: Action


class PermanentError(RuntimeError):
    """Retrying the task cannot help; the message is for a person."""


class NotOwnedError(PermanentError):
    """A resource with the bootstrap's name exists without its ownership tag: never adopted, never deleted."""


class WaitTimeout(PermanentError):
    """The resource did not become usable (or gone) within the bound."""


def _retry_unless_permanent(_task: Any, _run: Any, state: Any) -> bool:
    return not isinstance(state.data, PermanentError)


# Every resource step: no result caching (the state lives in AWS), retries for what botocore's own retries
# do not cover (eventual consistency, e.g. a role EKS cannot assume yet).
aws_task = task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2, retry_condition_fn=_retry_unless_permanent)


def log() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except MissingContextError:  # called as a plain function (tests of .fn, scripts)
        return logging.getLogger("tasks.aws")


# --- tags ------------------------------------------------------------------------------------------


def owner_tags(prefix: str, name: str | None = None) -> dict[str, str]:
    """The ownership tag, and a Name tag for services that show one (EC2, EFS)."""
    return {OWNER_TAG: prefix} | ({"Name": name} if name else {})


def tag_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """Tags as most AWS APIs take them; some spell the fields "key"/"value"."""
    return [{key: k, value: v} for k, v in tags.items()]


def tag_map(tags: Mapping[str, str] | Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """Tags as a dict, from a dict or from a list of {Key, Value} (or {key, value}) items."""
    if not tags:
        return {}
    if isinstance(tags, Mapping):
        return dict(tags)
    return {item.get("Key", item.get("key", "")): item.get("Value", item.get("value", "")) for item in tags}


def is_owned(tags: Any, prefix: str) -> bool:
    return tag_map(tags).get(OWNER_TAG) == prefix


def ec2_filters(prefix: str, name: str, **more: str) -> list[dict[str, Any]]:
    """EC2 names are tags and need not be unique: find by Name tag and ownership tag together."""
    filters = {"tag:Name": name, f"tag:{OWNER_TAG}": prefix, **more}
    return [{"Name": key, "Values": [value]} for key, value in filters.items()]


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def is_missing(exc: ClientError, *codes: str) -> bool:
    """A "no such resource" answer: one of `codes`, or HTTP 404."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error_code(exc) in codes or status == 404


def unless_missing(call: Callable[..., Any], *codes: str, **params: Any) -> Any:
    """`call(**params)`'s answer, or None when AWS answers that the resource does not exist (`is_missing`)."""
    try:
        return call(**params)
    except ClientError as exc:
        if is_missing(exc, *codes):
            return None
        raise


# --- find, create, delete --------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A live resource with the bootstrap's name: its ID or ARN, status, and whether it carries our tag."""

    id: str
    status: str
    owned: bool = True


Finder = Callable[[], "Found | None"]
Configure = Callable[[bool], bool]  # (apply) -> whether a change is (apply=False) or was (apply=True) needed


def ensure(
    service: str,
    name: str,
    prefix: str,
    *,
    find: Finder,
    create: Callable[[], Any],
    wait: Callable[[], Any] | None = None,
    configure: Configure | None = None,
    dry_run: bool = False,
) -> ServiceResult:
    """Find; create only if missing; wait until usable; bring settings made after creation in line.

    With dry_run only `find` and `configure(False)` run, which read and never change anything.
    A resource found but still being created (an interrupted run) is waited for, not created again.
    """
    found = find()
    if found is not None and not found.owned:
        raise NotOwnedError(f"{service} {name!r} exists but lacks the tag {OWNER_TAG}={prefix}: it is not "
                            f"this bootstrap's, so it is neither adopted nor changed (rename it or change the prefix)")
    if dry_run:
        if found is None:
            return ServiceResult(service=service, name=name, id="", status="absent", action="would create")
        pending = configure is not None and configure(False)
        return ServiceResult(service=service, name=name, id=found.id, status=found.status,
                             action="would update" if pending else "found")
    action: Action = "found"
    if found is None:
        log().info("creating %s %s", service, name)
        create()
        action = "created"
    if wait is not None:
        wait()
    if configure is not None and configure(True):
        action = "updated" if action == "found" else action
        if wait is not None:
            wait()  # some changes (EKS logging, node group size) make the resource UPDATING for a while
    final = find()
    if final is None:  # deleted by someone else meanwhile: let the task's retry start over
        raise RuntimeError(f"{service} {name!r} vanished while it was being made")
    return ServiceResult(service=service, name=name, id=final.id, status=final.status, action=action)


def remove(
    target: Target,
    service: str,
    name: str,
    *,
    find: Finder,
    delete: Callable[[Found], Any],
    wait: Callable[[Found], Any] | None = None,
    timeout: float = 600,
    delay: float = 15,
    dry_run: bool = False,
) -> ServiceResult:
    """Delete the resource if it carries our tag, then wait until it is gone (by `wait`, a boto3 waiter, or
    else until `find` no longer finds it); anything else is kept."""
    found = find()
    if found is None:
        return ServiceResult(service=service, name=name, id="", status="absent", action="absent")
    if not found.owned:
        return ServiceResult(service=service, name=name, id=found.id, status=f"{found.status}, not ours",
                             action="kept")
    if dry_run:
        return ServiceResult(service=service, name=name, id=found.id, status=found.status, action="would delete")
    log().info("deleting %s %s (%s)", service, name, found.id)
    delete(found)
    if wait is not None:
        wait(found)
    else:
        wait_gone(target, f"{service} {name} to be deleted", find, timeout, delay)
    return ServiceResult(service=service, name=name, id=found.id, status="deleted", action="deleted")


# --- waiting ---------------------------------------------------------------------------------------


def poll_delay(target: Target, aws_seconds: float) -> float:
    """Seconds between polls: 1 on the sandbox, where things are quick, else what suits the service."""
    return 1.0 if target.kind == "sandbox" else aws_seconds


def wait_for(target: Target, what: str, probe: Callable[[], str | None], timeout: float, delay: float = 15) -> None:
    """Call `probe` until it returns None (done), logging the status it returns meanwhile; bounded by `timeout`."""
    start = time.monotonic()
    while (status := probe()) is not None:
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            raise WaitTimeout(f"{what}: still {status} after {elapsed:.0f} s (the bound is {timeout:.0f} s)")
        log().info("waiting for %s: %s (%.0f s so far, at most %.0f s)", what, status, elapsed, timeout)
        time.sleep(poll_delay(target, delay))


def wait_waiter(target: Target, what: str, aws: Any, waiter_name: str, timeout: float, delay: float = 15,
                **params: Any) -> None:
    """A boto3 waiter's acceptors (what counts as done or failed), one attempt per poll of `wait_for`, so that
    progress is logged: the status shown is what the waiter's first acceptor looks at."""
    waiter = aws.get_waiter(waiter_name)
    path = next((a.argument for a in waiter.config.acceptors if a.matcher.startswith("path")), None)

    def probe() -> str | None:
        try:
            waiter.wait(**params, WaiterConfig={"Delay": 1, "MaxAttempts": 1})
        except WaiterError as exc:
            if not str(exc.kwargs.get("reason", "")).startswith("Max attempts exceeded"):
                raise  # a failure state (e.g. "failed") or an unexpected error: waiting longer cannot help
            status = jmespath.search(path, exc.last_response or {}) if path else None
            if isinstance(status, list):
                status = ", ".join(map(str, status))
            return str(status or "not ready")
        return None

    wait_for(target, what, probe, timeout, delay)


def wait_status(target: Target, what: str, find: Finder, ready: Collection[str], timeout: float,
                delay: float = 15, failed: Collection[str] = ()) -> None:
    """For services without a boto3 waiter: poll `find` until its status is one of `ready`."""

    def probe() -> str | None:
        found = find()
        status = found.status if found else "not found"
        if status in failed:
            raise PermanentError(f"{what}: {status}")
        return None if status in ready else status

    wait_for(target, what, probe, timeout, delay)


def wait_gone(target: Target, what: str, find: Finder, timeout: float, delay: float = 15) -> None:
    wait_for(target, what, lambda: None if (found := find()) is None else found.status, timeout, delay)
