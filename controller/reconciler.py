"""The one reconcile entrance: `reconcile(target, key, ...) -> Result`, for a resource of any kind served.

Every caller goes through it: apply, reconcile, the controller (flows.watch), drift's remediation, the
bootstrap and teardown. One call is one round, as ACK's generic reconciler does it with a kind's resource
manager: read the resource, hand it to its kind's round (controller/table.py, backup.py, field_export.py), which
decides, acts, writes `status` once if it changed, and says when to come back. It never waits for AWS; the work
queue brings the resource back when due.
"""

from __future__ import annotations

import urllib3
from kubernetes import client
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, State

from ack.backup import BackupResource
from ack.field_export import FieldExportResource
from ack.kinds import BACKUP, FIELD_EXPORT, KINDS, TABLE, Key
from ack.resource import TableResource
from ack.result import Requeue, Result, Synced, describe
from controller.backup import BackupRound
from controller.field_export import ExportRound
from controller.round import Options
from controller.table import TableRound
from tasks.connections import Target
from tasks.kube_tables import Conflict, read_resource


def reconcile(target: Target, key: Key, options: Options) -> Result:
    """The one entrance: one round for the resource `key` (a Prefect task run, named after it, whose final state
    says the outcome), and when to come back, under the controller's `options`."""
    state = reconcile_round(target, key, options, return_state=True)
    # The value in memory (unpersisted, its record's `result`): State.result() would hop to Prefect's event loop.
    value = getattr(state.data, "result", state.data)
    if isinstance(value, BaseException) or state.is_failed():  # the round itself crashed (a bug): back off
        raise value if isinstance(value, BaseException) else RuntimeError(state.message)
    return value


@task(name="reconcile", task_run_name="reconcile {key}", cache_policy=NO_CACHE, persist_result=False)
def reconcile_round(target: Target, key: Key, options: Options) -> State:
    """The resource brought a step closer to its spec (or deleted), its status written; the outcome as the task
    run's state: Synced (or Deleted, Retained, Gone, Skipped), Requeued, or Terminal (until the resource changes)."""
    result = _round(target, key, options)
    # A Terminal resource is not a crash of the round (Prefect would log a failed state twice, at length): the
    # state's name says it, and its message why.
    name = result.state if isinstance(result, Synced) else "Requeued" if isinstance(result, Requeue) else "Terminal"
    return Completed(data=result, message=describe(result), name=name)


def _round(target: Target, key: Key, options: Options) -> Result:
    try:
        raw = read_resource.fn(target, key.namespace, key.name, KINDS[key.kind])
        if raw is None:
            return Synced("Gone", "the resource no longer exists")
        if key.kind == TABLE.kind:
            return TableRound(target, TableResource.parse(raw), options).run()
        if key.kind == BACKUP.kind:
            return BackupRound(target, BackupResource.parse(raw, BACKUP.finalizer), options).run()
        assert key.kind == FIELD_EXPORT.kind, key
        return ExportRound(target, FieldExportResource.parse(raw, FIELD_EXPORT.finalizer), options).run()
    except Conflict as exc:  # changed while we worked: read it again at once, never overwrite blindly
        return Requeue("Conflict", str(exc), after=0.0)
    except client.ApiException as exc:
        return Requeue("KubernetesError", f"the API server answered {exc.status} {exc.reason}")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Requeue("KubernetesUnreachable", f"the API server cannot be reached ({type(exc).__name__})")
