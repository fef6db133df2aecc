"""The Backup's resource manager: one round of one Backup resource. DescribeBackup (once the resource made one),
`ack.backup.decide_backup`, then at most one call: CreateBackup or DeleteBackup."""

from __future__ import annotations

from typing import Any

from ack import conditions as cond
from ack.backup import (
    AwaitBackup,
    BackupDecision,
    BackupReady,
    BackupResource,
    CreateBackup,
    DeleteBackup,
    ReleaseBackup,
    decide_backup,
    status_from_backup,
)
from ack.errors import ReconcileError
from ack.kinds import BACKUP
from ack.lifecycle import Refuse
from ack.result import Result, Synced
from controller.round import Options, Round
from tasks.connections import Target
from tasks.dynamodb import read_backup
from tasks.kube_tables import record_status


class BackupRound(Round[BackupResource]):
    """One reconcile of one Backup resource."""

    def __init__(self, target: Target, resource: BackupResource, options: Options):
        super().__init__(target, resource, options)
        self.details: dict[str, Any] | None = None  # the backup as AWS last described it in this round

    def parse(self, raw: dict[str, Any]) -> BackupResource:
        return BackupResource.parse(raw, BACKUP.finalizer)

    def new_status(self, old: dict[str, Any]) -> dict[str, Any]:
        observed = status_from_backup(self.details) if self.details else {
            key: value for key, value in old.items() if key not in ("conditions", "observedGeneration")}
        return {**observed, "conditions": self.conditions, "observedGeneration": self.resource.generation}

    def run(self) -> Result:
        resource = self.resource
        if resource.deleting and not resource.has_finalizer:
            return Synced("Deleted")
        if refused := self.place():  # before any AWS call
            return self.finish(self.terminal(refused.reason, refused.message))
        try:
            live = read_backup(self.aws, resource.arn) if resource.arn else None
            if live is not None:
                self.details = live.get("BackupDetails")
            decision = decide_backup(resource, live, self.namespace_deletion_policy, self.options.deletion_policy)
            if not resource.deleting and not isinstance(decision, Refuse):
                self.keep_finalizer()
            return self._act(decision)
        except ReconcileError as exc:
            return self.finish(self.failed(exc))

    def _act(self, decision: BackupDecision) -> Result:
        match decision:
            case Refuse(reason, message):
                return self.finish(self.terminal(reason, message))
            case CreateBackup(params):
                answer = self.call("CreateBackup", params, f"back up the table {params['TableName']}")
                self.details = answer.get("BackupDetails") or {}
                self._remember(self.details)
                return self.finish(self._until_available())
            case AwaitBackup(message):
                return self.finish(self.pending(message, self.times.creating))
            case BackupReady():
                self.conditions = cond.synced(self.conditions, "the backup is AVAILABLE")
                return self.finish(Synced())
            case DeleteBackup(arn):
                self.call("DeleteBackup", {"BackupArn": arn}, f"delete the backup {self.resource.name}")
                self.release()
                return Synced("Deleted", f"the backup {arn} was deleted")
            case ReleaseBackup(state, message):
                self.release()
                return Synced(state, message)
        raise TypeError(f"no action for {decision!r}")

    def _until_available(self) -> Result:
        status = (self.details or {}).get("BackupStatus")
        if status == "CREATING":
            return self.pending("the backup is CREATING", self.times.creating)
        self.conditions = cond.synced(self.conditions, f"the backup is {status}")
        return Synced()

    def _remember(self, details: dict[str, Any]) -> None:
        """The new backup's ARN, in a write of that key alone, before anything else: a status write refused later
        (a 409) must not leave a backup this resource does not know, made again next round."""
        metadata = status_from_backup(details).get("ackResourceMetadata")
        raw = record_status(self.target, self.resource.namespace, self.resource.name,
                            {"ackResourceMetadata": metadata}, kind=BACKUP)
        if raw is not None:
            self.resource = self.parse(raw)
