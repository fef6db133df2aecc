"""What every kind's round has in common (ACK's generic reconciler around a kind's resource manager): the controller's
options, where the resource's AWS calls go, the finalizer, the conditions a round accumulates, the outcomes, and the
one status write at its end."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ack import conditions as cond
from ack.errors import BusyError, RateLimitedError, ReconcileError, RecoverableError, TerminalError
from ack.lifecycle import Refuse
from ack.model import NAMESPACE_DELETION_POLICY
from ack.placement import DEFAULT_CONTROLLER_NAMESPACE
from ack.plan import Step
from ack.resource import DeletionPolicy
from ack.result import Requeue, RequeueTimes, Result, Terminal
from ack.tags import DEFAULT_RESOURCE_TAGS, ResourceTags
from controller.placement import placement
from tasks.connections import Target
from tasks.dynamodb import run_step
from tasks.kube_tables import namespace_annotations, set_finalizer, write_status

Resource = TypeVar("Resource")


def default_resource_tags() -> ResourceTags:
    """The controller's tags for every table: ACK_RESOURCE_TAGS (the variable ACK's chart sets from its
    resourceTags value) when set, else ACK's defaults."""
    return ResourceTags.parse(os.environ.get("ACK_RESOURCE_TAGS", DEFAULT_RESOURCE_TAGS), "ACK_RESOURCE_TAGS")


def default_controller_namespace() -> str:
    """ACK_SYSTEM_NAMESPACE (ACK's variable for it), else where ACK's chart installs the controller."""
    return os.environ.get("ACK_SYSTEM_NAMESPACE") or DEFAULT_CONTROLLER_NAMESPACE


@dataclass(frozen=True)
class Options:
    """What the controller's flags set for every reconcile, under ACK's names."""

    resource_tags: ResourceTags  # --resource-tags: kept on every table
    deletion_policy: DeletionPolicy = "delete"  # --deletion-policy: when neither a resource nor its namespace says
    controller_namespace: str = DEFAULT_CONTROLLER_NAMESPACE  # --controller-namespace: where the role maps are

    @classmethod
    def from_environment(cls, deletion_policy: DeletionPolicy = "delete", resource_tags: ResourceTags | None = None,
                         controller_namespace: str | None = None) -> Options:
        """What is not given, from the environment (ACK_RESOURCE_TAGS, ACK_SYSTEM_NAMESPACE), checked here: in the
        caller's thread, so a bad value is the command's error."""
        return cls(resource_tags if resource_tags is not None else default_resource_tags(), deletion_policy,
                   controller_namespace or default_controller_namespace())


def requeue_times(target: Target) -> RequeueTimes:
    return RequeueTimes.sandbox() if target.kind == "sandbox" else RequeueTimes()


class Round(Generic[Resource]):
    """One reconcile of one resource: the typed resource (`resource`, re-parsed after each write so later writes
    carry its resourceVersion) and the conditions, until the status is written once by `finish`. `aws` is where its
    AWS calls go, once `place()` said."""

    def __init__(self, target: Target, resource: Resource, options: Options):
        self.target = target
        self.aws = target
        self.resource = resource
        self.options = options
        self.times = requeue_times(target)
        self.conditions: list[dict[str, Any]] = list(self.raw.get("status", {}).get("conditions") or [])
        self._namespace_annotations: dict[str, str] | None = None

    # -- what a kind says ---------------------------------------------------------------------------------
    def parse(self, raw: dict[str, Any]) -> Resource:
        raise NotImplementedError

    def new_status(self, old: dict[str, Any]) -> dict[str, Any]:
        """The status this round leaves, its conditions among it."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------------------
    @property
    def raw(self) -> dict[str, Any]:
        return self.resource.raw  # type: ignore[attr-defined]

    @property
    def namespace_annotations(self) -> dict[str, str]:
        """The resource's namespace's annotations (its defaults: region, account, deletion policy), read once."""
        if self._namespace_annotations is None:
            self._namespace_annotations = namespace_annotations(self.target, self.raw["metadata"]["namespace"])
        return self._namespace_annotations

    @property
    def namespace_deletion_policy(self) -> str | None:
        """The namespace's default deletion policy (ACK's namespace annotation), if it sets one."""
        return self.namespace_annotations.get(NAMESPACE_DELETION_POLICY)

    def place(self) -> Refuse | None:
        """Point `aws` where this resource's AWS calls go (ack/placement.py); a refusal when they may go nowhere."""
        placed = placement(self.target, self.raw, self.namespace_annotations, self.options.controller_namespace)
        if isinstance(placed, Refuse):
            return placed
        self.aws = placed
        return None

    def call(self, api: str, params: dict[str, Any], reason: str) -> dict[str, Any]:
        """One AWS call (a line of the round's log); AWS's refusal raised as the reconcile error of its kind."""
        answer = run_step(self.aws, Step(api, params, reason))
        if isinstance(answer, ReconcileError):
            raise answer
        return answer

    def keep_finalizer(self) -> None:
        raw = set_finalizer(self.target, self.raw, True)
        if raw is not self.raw:  # written: later writes carry its new resourceVersion
            self.resource = self.parse(raw)

    def release(self) -> None:
        set_finalizer(self.target, self.raw, False)

    def terminal(self, reason: str, message: str) -> Terminal:
        self.conditions = cond.terminal(self.conditions, reason, message)
        return Terminal(reason, message)

    def pending(self, message: str, after: float, reason: str = "Pending") -> Requeue:
        self.conditions = cond.pending(self.conditions, message, reason=reason)
        return Requeue(reason, message, after=after)

    def failed(self, exc: ReconcileError) -> Result:
        if isinstance(exc, TerminalError):
            return self.terminal(exc.reason, exc.message)
        if isinstance(exc, BusyError):  # AWS not ready for the call yet: not an error, look again soon
            return self.pending(exc.message, self.times.updating)
        self.conditions = cond.recoverable(self.conditions, exc.reason, exc.message)
        if isinstance(exc, RateLimitedError):
            return Requeue(exc.reason, exc.message, after=exc.retry_after)
        assert isinstance(exc, RecoverableError), exc
        return Requeue(exc.reason, exc.message)

    def finish(self, result: Result) -> Result:
        """Write the status once, only if it says something new."""
        old = self.raw.get("status") or {}
        new = self.new_status(old)
        if cond.status_changed(old, new):
            write_status(self.target, self.raw, new)
        return result
