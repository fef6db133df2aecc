"""What every kind's round has in common (ACK's generic reconciler around a kind's resource manager): the finalizer,
the conditions a round accumulates, the outcomes, and the one status write at its end."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ack import conditions as cond
from ack.errors import BusyError, RateLimitedError, ReconcileError, RecoverableError, TerminalError
from ack.plan import Step
from ack.result import Requeue, RequeueTimes, Result, Terminal
from tasks.connections import Target
from tasks.dynamodb import run_step
from tasks.kube_tables import set_finalizer, write_status

Resource = TypeVar("Resource")


def requeue_times(target: Target) -> RequeueTimes:
    return RequeueTimes.sandbox() if target.kind == "sandbox" else RequeueTimes()


class Round(Generic[Resource]):
    """One reconcile of one resource: the typed resource (`resource`, re-parsed after each write so later writes
    carry its resourceVersion) and the conditions, until the status is written once by `finish`."""

    def __init__(self, target: Target, resource: Resource):
        self.target = target
        self.resource = resource
        self.times = requeue_times(target)
        self.conditions: list[dict[str, Any]] = list(self.raw.get("status", {}).get("conditions") or [])

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

    def call(self, api: str, params: dict[str, Any], reason: str) -> dict[str, Any]:
        """One AWS call (a line of the round's log); AWS's refusal raised as the reconcile error of its kind."""
        answer = run_step(self.target, Step(api, params, reason))
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
