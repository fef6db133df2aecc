"""The one reconcile entrance: `reconcile(target, namespace, name) -> Result`.

Every caller goes through it: apply, reconcile, the controller (flows.watch), drift's remediation, the
bootstrap and teardown. One call is one round, as ACK's reconciler does it: read the resource and its live
table, let `ack.lifecycle.decide` say what may be done, do it (at most one round of AWS calls: after an
UpdateTable AWS takes no other until the table is ACTIVE again), write `status` once if it changed, and
return when to come back. It never waits for AWS; the work queue brings the resource back when due.
"""

from __future__ import annotations

import os
from importlib.metadata import version
from typing import Any

import urllib3
from kubernetes import client
from prefect import task
from prefect.states import Completed, State
from prefect.cache_policies import NO_CACHE

from ack import conditions as cond
from ack.errors import BusyError, RateLimitedError, ReconcileError, RecoverableError, TerminalError
from ack.lifecycle import (
    AWS,
    SANDBOX,
    Adopt,
    AwaitTable,
    Capabilities,
    Converge,
    Create,
    Decision,
    Delete,
    Observe,
    Refuse,
    Retain,
    decide,
    managed_by,
    recorded,
    refusal,
)
from ack.model import NAMESPACE_DELETION_POLICY
from ack.normalize import LiveTable
from ack.plan import Step
from ack.resource import DeletionPolicy, TableResource
from ack.tags import DEFAULT_RESOURCE_TAGS, ResourceTags
from ack.result import Requeue, RequeueTimes, Result, Synced, Terminal, describe
from tasks.connections import Target
from tasks.dynamodb import read_live, run_step
from tasks.kube_tables import (
    Conflict, mark_adopted, namespace_annotations, read_resource, record_status, set_finalizer, write_status,
)

# Rounds that made only calls after which AWS takes the next at once (tags, Time to Live, backups): carried on
# within the same reconcile, up to this many, rather than through the queue.
QUICK_ROUNDS = 4
CONTROLLER_VERSION = f"ackflow-{version('ackflow')}"  # %CONTROLLER_VERSION% in the resource tags
KEPT = ("managedIndexes", "managedReplicas", "managedResourcePolicy", "lastDriftCheck")  # reconcile's, drift's


def capabilities_of(target: Target) -> Capabilities:
    return SANDBOX if target.kind == "sandbox" else AWS


def requeue_times(target: Target) -> RequeueTimes:
    return RequeueTimes.sandbox() if target.kind == "sandbox" else RequeueTimes()


def default_resource_tags() -> ResourceTags:
    """The controller's tags for every table: ACK_RESOURCE_TAGS (the variable ACK's chart sets from its
    resourceTags value) when set, else ACK's defaults."""
    return ResourceTags.parse(os.environ.get("ACK_RESOURCE_TAGS", DEFAULT_RESOURCE_TAGS), "ACK_RESOURCE_TAGS")


def reconcile(target: Target, namespace: str, name: str, deletion_policy: DeletionPolicy,
              resource_tags: ResourceTags) -> Result:
    """The one entrance: one round for the Table resource `namespace/name` (a Prefect task run, named after it,
    whose final state says the outcome), and when to come back. `deletion_policy` applies to a resource being
    deleted when neither it nor its namespace names one (ACK's --deletion-policy); `resource_tags` are the tags
    kept on every table (ACK's --resource-tags)."""
    state = reconcile_round(target, namespace, name, deletion_policy, resource_tags, return_state=True)
    # The value in memory (unpersisted, its record's `result`): State.result() would hop to Prefect's event loop.
    value = getattr(state.data, "result", state.data)
    if isinstance(value, BaseException) or state.is_failed():  # the round itself crashed (a bug): back off
        raise value if isinstance(value, BaseException) else RuntimeError(state.message)
    return value


@task(name="reconcile", task_run_name="reconcile {namespace}/{name}", cache_policy=NO_CACHE, persist_result=False)
def reconcile_round(target: Target, namespace: str, name: str, deletion_policy: DeletionPolicy,
                    resource_tags: ResourceTags) -> State:
    """Its table brought a step closer to the spec (or deleted), its status written; the outcome as the task
    run's state: Synced (or Deleted, Retained, Gone), Requeued, or Terminal (until the resource changes)."""
    result = _round(target, namespace, name, deletion_policy, resource_tags)
    # A Terminal resource is not a crash of the round (Prefect would log a failed state twice, at length): the
    # state's name says it, and its message why.
    name = result.state if isinstance(result, Synced) else "Requeued" if isinstance(result, Requeue) else "Terminal"
    return Completed(data=result, message=describe(result), name=name)


def _round(target: Target, namespace: str, name: str, deletion_policy: DeletionPolicy,
           resource_tags: ResourceTags) -> Result:
    try:
        raw = read_resource.fn(target, namespace, name)
        if raw is None:
            return Synced("Gone", "the resource no longer exists")
        return _Round(target, TableResource.parse(raw), deletion_policy, resource_tags).run()
    except Conflict as exc:  # changed while we worked: read it again at once, never overwrite blindly
        return Requeue("Conflict", str(exc), after=0.0)
    except client.ApiException as exc:
        return Requeue("KubernetesError", f"the API server answered {exc.status} {exc.reason}")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Requeue("KubernetesUnreachable", f"the API server cannot be reached ({type(exc).__name__})")


class _Round:
    """One reconcile of one resource: the state it accumulates until the status is written."""

    def __init__(self, target: Target, resource: TableResource, deletion_policy: DeletionPolicy,
                 resource_tags: ResourceTags):
        self.target = target
        self.resource = resource
        self.deletion_policy = deletion_policy
        self.resource_tags = resource_tags.render(resource.namespace, resource.name, CONTROLLER_VERSION)
        self.capabilities = capabilities_of(target)
        self.times = requeue_times(target)
        self.conditions: list[dict[str, Any]] = list(resource.raw_status.get("conditions") or [])
        self.describe: dict[str, Any] | None = None  # the table as AWS last described it in this round
        self.records: dict[str, Any] = {}  # what applied specs named (status: managedIndexes, ...): managed_by()

    # -- the round ------------------------------------------------------------------------------------
    def run(self) -> Result:
        if self.resource.deleting:
            return self._finalize()
        self.conditions = cond.advise(self.conditions, [str(p) for p in self.resource.advisories])
        if refused := refusal(self.resource, self.capabilities):  # before any AWS call
            return self._finish(self._terminal(refused.reason, refused.message))
        self._keep_finalizer()
        try:
            result = self._converge()
        except ReconcileError as exc:
            result = self._failed(exc)
        return self._finish(result)

    def _converge(self) -> Result:
        spec = self.resource.spec
        assert spec is not None  # refusal() refuses a spec that does not fit the model
        for _ in range(QUICK_ROUNDS):
            live = read_live(self.target, spec, self.resource.reads_policy)
            if live is not None:
                self.describe = live.describe
            decision = decide(self.resource, live, self.capabilities, resource_tags=self.resource_tags)
            result = self._act(decision, live)
            if result is not None:
                return result
        return self._pending("not synced yet: more rounds to come", self.times.not_synced)

    def _act(self, decision: Decision, live: LiveTable | None) -> Result | None:
        """Carry out one decision; None when another round may follow at once."""
        match decision:
            case Refuse(reason, message):
                return self._terminal(reason, message)
            case AwaitTable(message):
                self.conditions = cond.recoverable(self.conditions, "AdoptedResourceNotFound", message)
                return Requeue("AdoptedResourceNotFound", message)  # after the resource's backoff
            case Create(params):
                self._record_managed(None)
                answer = self._call("CreateTable", params, f"create the table {params['TableName']}")
                self.describe = answer.get("TableDescription") or self.describe
                return self._pending("the table is CREATING", self.times.creating)
            case Adopt(step, spec):
                self._call(step.api, step.params, step.reason)
                # ACK's mark, and for `adopt` the table as it is in place of the spec: the next round then converges
                # the resource as it is now.
                self.resource = TableResource.parse(mark_adopted(self.target, self.resource.raw, spec))
                self.conditions = cond.adopted(self.conditions, f"took over the existing table {live.name}")
                return None
            case Converge(plan, differences):
                if plan.steps:
                    self._record_managed(live)
                for step in plan.steps:
                    answer = self._call(step.api, step.params, step.reason)
                    if step.api == "UpdateTable":  # AWS takes no other call until the table is ACTIVE again
                        self.describe = answer.get("TableDescription") or self.describe
                        return self._pending(f"{step.reason}: the table is UPDATING", self.times.updating)
                if plan.wait:
                    return self._pending(plan.wait, self.times.busy(live.observed.table_status))
                if not differences or plan.complete:
                    self.records = managed_by(self.resource, None if plan.complete else live)
                    self.conditions = cond.synced(self.conditions)
                    return Synced()
                return None  # calls AWS takes the next one after at once (tags, Time to Live): read again
            case Observe(differences):
                if not differences:
                    self.conditions = cond.synced(self.conditions)
                    return Synced()
                message = (f"read-only: {len(differences)} differences not applied: "
                           + ", ".join(d.path for d in differences))
                self.conditions = cond.pending(self.conditions, message, reason="ReadOnly")
                return Synced(message=message)  # observed: nothing to come back for before the next change
        raise TypeError(f"no action for {decision!r}")

    def _record_managed(self, live: LiveTable | None) -> None:
        """Before acting on the spec: record what it names as managed (indexes, replicas, the policy), in a write of
        those keys alone, so that no concurrent spec change (a 409 for the round's status) can lose the record, and
        a later spec that drops one of them removes it rather than finding it "never named"."""
        records = managed_by(self.resource, live)
        if records == recorded(self.resource):
            return
        raw = record_status(self.target, self.resource.namespace, self.resource.name, records)
        if raw is not None and raw["metadata"].get("generation") == self.resource.generation:
            self.resource = TableResource.parse(raw)  # its new resourceVersion, for the round's status write
        self.records = records

    def _call(self, api: str, params: dict[str, Any], reason: str) -> dict[str, Any]:
        answer = run_step(self.target, Step(api, params, reason))
        if isinstance(answer, ReconcileError):
            raise answer
        return answer

    # -- deletion -------------------------------------------------------------------------------------
    def _finalize(self) -> Result:
        resource = self.resource
        if not resource.has_finalizer:
            return Synced("Deleted")
        try:
            namespace_policy = None
            if resource.policies.deletion is None:  # the namespace's default applies: read it
                namespace_policy = namespace_annotations(self.target, resource.namespace).get(
                    NAMESPACE_DELETION_POLICY)
            live = read_live(self.target, resource.spec, resource.reads_policy) if resource.spec is not None else None
            return self._delete(decide(resource, live, self.capabilities, namespace_policy, self.deletion_policy),
                                live)
        except ReconcileError as exc:
            return self._finish(self._failed(exc))

    def _delete(self, decision: Decision, live: LiveTable | None) -> Result:
        match decision:
            case Refuse(reason, message):
                return self._finish(self._terminal(reason, message))
            case Retain(message):
                self._release()
                return Synced("Retained", message)
            case Delete(plan) if plan.wait:
                return Requeue("Deleting", plan.wait, after=self.times.creating)
            case Delete(plan) if plan.steps:
                step = plan.steps[0]  # then AWS is busy (UPDATING, DELETING): the next round takes the next
                self._call(step.api, step.params, step.reason)
                busy = "UPDATING" if step.api == "UpdateTable" else "DELETING"
                return Requeue("Deleting", step.reason, after=self.times.busy(busy))
            case Delete():
                self._release()
                return Synced("Deleted", f"the table {self.resource.table_name} was deleted" if live else "")
        raise TypeError(f"no deletion action for {decision!r}")

    def _release(self) -> None:
        set_finalizer(self.target, self.resource.raw, False)

    def _keep_finalizer(self) -> None:
        raw = set_finalizer(self.target, self.resource.raw, True)
        if raw is not self.resource.raw:  # written: later writes carry its new resourceVersion
            self.resource = TableResource.parse(raw)

    # -- outcomes -------------------------------------------------------------------------------------
    def _terminal(self, reason: str, message: str) -> Terminal:
        self.conditions = cond.terminal(self.conditions, reason, message)
        return Terminal(reason, message)

    def _pending(self, message: str, after: float) -> Requeue:
        self.conditions = cond.pending(self.conditions, message)
        return Requeue("Pending", message, after=after)

    def _failed(self, exc: ReconcileError) -> Result:
        if isinstance(exc, TerminalError):
            return self._terminal(exc.reason, exc.message)
        if isinstance(exc, BusyError):  # AWS not ready for the call yet: not an error, look again soon
            return self._pending(exc.message, self.times.updating)
        self.conditions = cond.recoverable(self.conditions, exc.reason, exc.message)
        if isinstance(exc, RateLimitedError):
            return Requeue(exc.reason, exc.message, after=exc.retry_after)
        assert isinstance(exc, RecoverableError), exc
        return Requeue(exc.reason, exc.message)

    def _finish(self, result: Result) -> Result:
        """Write the status once, only if it says something new."""
        old = self.resource.raw_status
        new = status_after(old, self.describe, self.conditions, self.resource.generation, self.records)
        if cond.status_changed(old, new):
            write_status(self.target, self.resource.raw, new)
        return result


def status_after(old: dict[str, Any], describe: dict[str, Any] | None, conditions: list[dict],
                 generation: int | None, records: dict[str, Any] | None = None) -> dict[str, Any]:
    """The new status: what AWS reports, the conditions, and the records the flows keep (`records`: new ones)."""
    observed = cond.status_from_describe(describe) if describe else {
        key: value for key, value in old.items() if key not in ("conditions", "observedGeneration", *KEPT)
    }
    status = {**observed, "conditions": conditions, "observedGeneration": generation}
    status.update({key: old[key] for key in KEPT if key in old})
    status.update(records or {})
    return status
