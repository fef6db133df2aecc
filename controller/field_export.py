"""The FieldExport's resource manager: one round of one FieldExport. Read its source (a Table or Backup in the same
namespace) and its target's key, let `ack.field_export` decide, and write the key when it differs. The controller
brings a FieldExport back whenever its source changes (controller/controller.py), so the key follows the source."""

from __future__ import annotations

from typing import Any

from ack import conditions as cond
from ack.field_export import (
    AwaitExport,
    ExportDecision,
    ExportInputs,
    FieldExportResource,
    SkipExport,
    WriteExport,
    decide_export,
    export_refusal,
)
from ack.kinds import FIELD_EXPORT, Kind, kind_named
from ack.lifecycle import Refuse
from ack.result import Requeue, Result, Synced
from controller.round import Round
from tasks.connections import Target
from tasks.kube_exports import read_key, write_key
from tasks.kube_tables import read_resource


def source_kind(resource: FieldExportResource) -> Kind | None:
    """The kind the FieldExport reads, when this controller serves it (None: another controller's, e.g. ACK's RDS)."""
    if resource.spec is None:
        return None
    ref = resource.spec.from_.resource
    kind = kind_named(f"{ref.group}/v1alpha1", ref.kind)
    return None if kind is FIELD_EXPORT else kind


def decide(target: Target, resource: FieldExportResource) -> ExportDecision:
    """Read what the FieldExport's decision needs (its source, its target's key), and decide."""
    kind = source_kind(resource)
    if refused := export_refusal(resource, kind is not None):
        return refused
    assert resource.spec is not None and kind is not None
    source = read_resource.fn(target, resource.namespace, resource.spec.from_.resource.name, kind)
    to = resource.spec.to
    exists, current = read_key(target, to.kind, resource.target_namespace, to.name, resource.target_key)
    return decide_export(resource, ExportInputs(source, exists, current))


class ExportRound(Round[FieldExportResource]):
    """One reconcile of one FieldExport resource."""

    def parse(self, raw: dict[str, Any]) -> FieldExportResource:
        return FieldExportResource.parse(raw, FIELD_EXPORT.finalizer)

    def new_status(self, old: dict[str, Any]) -> dict[str, Any]:
        return {**old, "conditions": self.conditions, "observedGeneration": self.resource.generation}

    def run(self) -> Result:
        resource = self.resource
        if resource.deleting:  # as in ACK, the exported key stays: the target is its owner's
            if resource.has_finalizer:
                self.release()
            return Synced("Deleted")
        decision = decide(self.target, resource)
        if isinstance(decision, SkipExport):  # another controller's: no finalizer, no status
            return Synced("Skipped", decision.message)
        if not isinstance(decision, Refuse):
            self.keep_finalizer()
        return self.finish(self._act(decision))

    def _act(self, decision: ExportDecision) -> Result:
        match decision:
            case Refuse(reason, message):  # PathNotFound too: looked at again when the source changes
                return self.terminal(reason, message)
            case AwaitExport("TargetNotFound", message):  # someone must create it: the backoff's pace
                self.conditions = cond.recoverable(self.conditions, "TargetNotFound", message)
                return Requeue("TargetNotFound", message)
            case AwaitExport(reason, message):
                return self.pending(message, self.times.not_synced, reason=reason)
            case WriteExport(value=value) as write:
                spec, resource = self.resource.spec, self.resource
                assert spec is not None
                if write.needed:
                    write_key(self.target, spec.to.kind, resource.target_namespace, spec.to.name, resource.target_key,
                              value)
                ref, to = spec.from_.resource, spec.to
                self.conditions = cond.synced(self.conditions, f"{spec.from_.path} of {ref.kind} {ref.name} is in the "
                                                               f"{to.kind} {to.name}, key {resource.target_key}")
                return Synced()
        raise TypeError(f"no action for {decision!r}")
