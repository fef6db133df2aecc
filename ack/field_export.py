"""The FieldExport resource of ACK's runtime (services.k8s.aws/v1alpha1): its model, the path it reads, and the value
it writes, as pure logic.

A FieldExport copies one field of a resource this controller serves (a Table's `.status.ackResourceMetadata.arn`,
`.spec.tableName`, `.status.latestStreamARN`; a Backup's ARN) into a key of a ConfigMap or Secret that exists
already, and keeps it up to date as the source changes. As in ACK: the source is in the FieldExport's own
namespace and must be synced; only strings, booleans and integers are exported; the key defaults to
`NAMESPACE.NAME` of the FieldExport; the exported key stays when the FieldExport is deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from ack.conditions import is_synced
from ack.lifecycle import Refuse
from ack.model import Condition, ObjectMeta, ReportedModel, WireModel
from ack.resource import Identity, raw_identity
from ack.validate import Problem, typed

FIELD_EXPORT_GROUP = "services.k8s.aws"
FIELD_EXPORT_API_VERSION = f"{FIELD_EXPORT_GROUP}/v1alpha1"


class ResourceRef(WireModel):
    """The resource to read, in the FieldExport's namespace."""

    group: str = Field(description="API group of the resource, e.g. dynamodb.services.k8s.aws.")
    kind: str = Field(description="Kind of the resource, e.g. Table.")
    name: str = Field(description="Name of the resource.")


class FieldExportSource(WireModel):
    """Which field of which resource."""

    path: str = Field(description="The field, as a jq path: .status.ackResourceMetadata.arn, .spec.tableName, "
                                  ".status.replicas[0].regionName.")
    resource: ResourceRef = Field(description="The resource to read.")


class FieldExportTarget(WireModel):
    """Where the value goes: a key of a ConfigMap or Secret that exists already."""

    kind: Literal["configmap", "secret"] = Field(description="configmap or secret.")
    name: str = Field(description="Name of the ConfigMap or Secret.")
    namespace: str | None = Field(None, description="Its namespace: the FieldExport's own (the default).")
    key: str | None = Field(None, description="The key written; default NAMESPACE.NAME of the FieldExport.")


class FieldExportSpec(WireModel):
    """FieldExportSpec defines the desired state of the FieldExport."""

    from_: FieldExportSource = Field(alias="from", description="The field to copy.")
    to: FieldExportTarget = Field(description="Where to copy it.")


class FieldExportStatus(ReportedModel):
    """FieldExportStatus defines the observed state of the FieldExport."""

    conditions: list[Condition] | None = Field(None, description="ACK.ResourceSynced, ACK.Terminal, ACK.Recoverable.")
    observed_generation: int | None = Field(None, description="The metadata.generation last reconciled.")


class FieldExport(WireModel):
    """FieldExport is the Schema for the FieldExports API: a field of an ACK resource kept in a ConfigMap or Secret."""

    api_version: Literal["services.k8s.aws/v1alpha1"] = FIELD_EXPORT_API_VERSION
    kind: Literal["FieldExport"] = "FieldExport"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: FieldExportSpec
    status: FieldExportStatus | None = None


@dataclass(frozen=True)
class FieldExportResource(Identity):
    """One FieldExport resource, typed."""

    spec: FieldExportSpec | None
    spec_problems: tuple[Problem, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def target_namespace(self) -> str:
        assert self.spec is not None
        return self.spec.to.namespace or self.namespace

    @property
    def target_key(self) -> str:
        assert self.spec is not None
        return self.spec.to.key or f"{self.namespace}.{self.name}"

    @property
    def raw_status(self) -> dict[str, Any]:
        return self.raw.get("status") or {}

    @classmethod
    def parse(cls, raw: dict[str, Any], finalizer: str) -> FieldExportResource:
        spec, problems = typed(FieldExportSpec, raw.get("spec") or {})
        if spec is not None:
            try:
                parse_path(spec.from_.path)
            except ValueError as exc:
                problems = (Problem("spec.from.path", str(exc)),)
        return cls(**raw_identity(raw, finalizer), spec=spec, spec_problems=problems, raw=raw)


# ------------------------------------------------------------------------------------------------ paths

# One step of a path: .name, ."any name", [N], ["any name"].
_STEP = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\."([^"]*)"|\[(\d+)\]|\["([^"]*)"\]')


def parse_path(path: str) -> list[str | int]:
    """The steps of a jq path such as `.status.conditions[0].type` (the part of jq ACK's FieldExports use); a
    ValueError naming the position of what is not understood (ACK: "unable to parse path")."""
    if not path.startswith("."):
        raise ValueError(f"{path!r}: a path starts with '.', e.g. .status.ackResourceMetadata.arn")
    steps: list[str | int] = []
    position = 1 if path == "." or path.startswith(".[") else 0  # jq's `.` is the whole object, `.[0]` its first
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise ValueError(f"{path!r}: not understood at position {position + 1} ({path[position:]!r}); write "
                             "steps as .name, .\"name\", [N] or [\"name\"]")
        name, quoted, index, bracketed = match.groups()
        steps.append(int(index) if index is not None else name if name is not None else quoted or bracketed or "")
        position = match.end()
    return steps


def export_value(source: dict[str, Any], path: str) -> str | None:
    """The value at `path` of the resource `source`, as the text ACK exports (a string as is, a boolean as
    true/false, an integer in decimal); None when the path leads nowhere or to anything else (a list, a mapping,
    a fraction, null), which ACK refuses to export."""
    value: Any = source
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return None
            value = value[step]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or isinstance(value, str):
        return str(value)
    return None


# -------------------------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class SkipExport:
    """The source is another controller's kind (every ACK controller sees every FieldExport): nothing is written."""

    message: str


@dataclass(frozen=True)
class AwaitExport:
    """Not yet: the source does not exist or is not synced, or the target does not exist."""

    reason: str
    message: str


@dataclass(frozen=True)
class WriteExport:
    """The target's key is to hold `value` (it holds `current` now; the same: nothing to write)."""

    value: str
    current: str | None

    @property
    def needed(self) -> bool:
        return self.value != self.current


ExportDecision = SkipExport | Refuse | AwaitExport | WriteExport


@dataclass(frozen=True)
class ExportInputs:
    """What an export is decided from: the source resource (None: absent), whether the target exists, and the
    text its key holds (None: no such key)."""

    source: dict[str, Any] | None
    target_exists: bool = False
    current: str | None = None


def export_refusal(resource: FieldExportResource, served: bool) -> SkipExport | Refuse | None:
    """What stops a FieldExport whatever its source holds, checked before anything is read. `served`: whether this
    controller serves the source's kind."""
    if resource.spec is None or resource.spec_problems:
        return Refuse("InvalidSpec", "; ".join(map(str, resource.spec_problems)))
    ref = resource.spec.from_.resource
    if not served:
        return SkipExport(f"{ref.group}/{ref.kind} is not served here: left to its own controller")
    if resource.target_namespace != resource.namespace:
        return Refuse("CrossNamespace", f"spec.to.namespace: {resource.target_namespace!r} is not the "
                                              f"FieldExport's own namespace {resource.namespace!r}; a FieldExport "
                                              "writes only in its own namespace")
    return None


def decide_export(resource: FieldExportResource, inputs: ExportInputs) -> ExportDecision:
    """What to do with a FieldExport that export_refusal() lets through, given what was read."""
    assert resource.spec is not None
    spec = resource.spec
    ref = spec.from_.resource
    source_name = f"{ref.kind} {resource.namespace}/{ref.name}"
    if inputs.source is None:
        return AwaitExport("SourceNotFound", f"the source {source_name} does not exist (yet)")
    if not is_synced((inputs.source.get("status") or {}).get("conditions")):
        return AwaitExport("SourceNotSynced", f"the source {source_name} is not synced yet")
    value = export_value(inputs.source, spec.from_.path)
    if value is None:
        return Refuse("PathNotFound", f"spec.from.path: {spec.from_.path} of {source_name} is not a string, "
                                            "boolean or integer (or is not there)")
    to = spec.to
    if not inputs.target_exists:
        return AwaitExport("TargetNotFound", f"spec.to: the {to.kind} {resource.target_namespace}/{to.name} does not "
                                             "exist; create it, the value is written then")
    return WriteExport(value, inputs.current)
