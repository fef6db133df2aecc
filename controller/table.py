"""The Table's resource manager: one round of one Table resource, as ACK's reconciler does it with the DynamoDB
controller's hooks. Read the live table, let `ack.lifecycle.decide` say what may be done, do it (at most one
round of AWS calls: after an UpdateTable AWS takes no other until the table is ACTIVE again), and say when to come
back. It never waits for AWS; the work queue brings the resource back when due.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from ack import conditions as cond
from ack.errors import ReconcileError
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
from ack.normalize import LiveTable
from ack.resource import TableResource
from ack.result import Requeue, Result, Synced
from controller.round import Options, Round
from tasks.connections import Target
from tasks.dynamodb import read_live
from tasks.kube_tables import mark_adopted, record_status

# Rounds that made only calls after which AWS takes the next at once (tags, Time to Live, backups): carried on
# within the same reconcile, up to this many, rather than through the queue.
QUICK_ROUNDS = 4
CONTROLLER_VERSION = f"ackflow-{version('ackflow')}"  # %CONTROLLER_VERSION% in the resource tags
KEPT = ("managedIndexes", "managedReplicas", "managedResourcePolicy", "lastDriftCheck")  # reconcile's, drift's


def capabilities_of(target: Target) -> Capabilities:
    return SANDBOX if target.kind == "sandbox" else AWS


class TableRound(Round[TableResource]):
    """One reconcile of one Table resource."""

    def __init__(self, target: Target, resource: TableResource, options: Options):
        super().__init__(target, resource, options)
        self.resource_tags = options.resource_tags.render(resource.namespace, resource.name, CONTROLLER_VERSION)
        self.capabilities = capabilities_of(target)
        self.describe: dict[str, Any] | None = None  # the table as AWS last described it in this round
        self.records: dict[str, Any] = {}  # what applied specs named (status: managedIndexes, ...): managed_by()

    # -- the round ------------------------------------------------------------------------------------
    def run(self) -> Result:
        if self.resource.deleting:
            return self._finalize()
        self.conditions = cond.advise(self.conditions, [str(p) for p in self.resource.advisories])
        if refused := refusal(self.resource, self.capabilities) or self.place():  # before any AWS call
            return self.finish(self.terminal(refused.reason, refused.message))
        self.keep_finalizer()
        try:
            result = self._converge()
        except ReconcileError as exc:
            result = self.failed(exc)
        return self.finish(result)

    def _converge(self) -> Result:
        spec = self.resource.spec
        assert spec is not None  # refusal() refuses a spec that does not fit the model
        for _ in range(QUICK_ROUNDS):
            live = read_live(self.aws, spec, self.resource.reads_policy)
            if live is not None:
                self.describe = live.describe
            decision = decide(self.resource, live, self.capabilities, resource_tags=self.resource_tags)
            result = self._act(decision, live)
            if result is not None:
                return result
        return self.pending("not synced yet: more rounds to come", self.times.not_synced)

    def _act(self, decision: Decision, live: LiveTable | None) -> Result | None:
        """Carry out one decision; None when another round may follow at once."""
        match decision:
            case Refuse(reason, message):
                return self.terminal(reason, message)
            case AwaitTable(message):
                self.conditions = cond.recoverable(self.conditions, "AdoptedResourceNotFound", message)
                return Requeue("AdoptedResourceNotFound", message)  # after the resource's backoff
            case Create(params):
                self._record_managed(None)
                answer = self.call("CreateTable", params, f"create the table {params['TableName']}")
                self.describe = answer.get("TableDescription") or self.describe
                return self.pending("the table is CREATING", self.times.creating)
            case Adopt(step, spec):
                self.call(step.api, step.params, step.reason)
                # ACK's mark, and for `adopt` the table as it is in place of the spec: the next round then converges
                # the resource as it is now.
                self.resource = TableResource.parse(mark_adopted(self.target, self.resource.raw, spec))
                self.conditions = cond.adopted(self.conditions, f"took over the existing table {live.name}")
                return None
            case Converge(plan, differences):
                if plan.steps:
                    self._record_managed(live)
                for step in plan.steps:
                    answer = self.call(step.api, step.params, step.reason)
                    if step.api == "UpdateTable":  # AWS takes no other call until the table is ACTIVE again
                        self.describe = answer.get("TableDescription") or self.describe
                        return self.pending(f"{step.reason}: the table is UPDATING", self.times.updating)
                if plan.wait:
                    return self.pending(plan.wait, self.times.busy(live.observed.table_status))
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

    # -- deletion -------------------------------------------------------------------------------------
    def _finalize(self) -> Result:
        resource = self.resource
        if not resource.has_finalizer:
            return Synced("Deleted")
        if refused := self.place():  # where its table is: nowhere else is anything deleted
            return self.finish(self.terminal(refused.reason, refused.message))
        try:
            live = read_live(self.aws, resource.spec, resource.reads_policy) if resource.spec is not None else None
            return self._delete(decide(resource, live, self.capabilities, self.namespace_deletion_policy,
                                       self.options.deletion_policy), live)
        except ReconcileError as exc:
            return self.finish(self.failed(exc))

    def _delete(self, decision: Decision, live: LiveTable | None) -> Result:
        match decision:
            case Refuse(reason, message):
                return self.finish(self.terminal(reason, message))
            case Retain(message):
                self.release()
                return Synced("Retained", message)
            case Delete(plan) if plan.wait:
                return Requeue("Deleting", plan.wait, after=self.times.creating)
            case Delete(plan) if plan.steps:
                step = plan.steps[0]  # then AWS is busy (UPDATING, DELETING): the next round takes the next
                self.call(step.api, step.params, step.reason)
                busy = "UPDATING" if step.api == "UpdateTable" else "DELETING"
                return Requeue("Deleting", step.reason, after=self.times.busy(busy))
            case Delete():
                self.release()
                return Synced("Deleted", f"the table {self.resource.table_name} was deleted" if live else "")
        raise TypeError(f"no deletion action for {decision!r}")

    def parse(self, raw: dict[str, Any]) -> TableResource:
        return TableResource.parse(raw)

    def new_status(self, old: dict[str, Any]) -> dict[str, Any]:
        return status_after(old, self.describe, self.conditions, self.resource.generation, self.records)


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
