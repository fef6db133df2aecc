"""A Table resource as the API server returned it, parsed once into typed parts: identity, the policies its
annotations set (ACK's names where ACK has one), the spec (or why it is invalid), and the status.

Every decision (ack/lifecycle.py) and every report (ack/drift.py) reads these fields; nothing digs in the
raw object again. The raw object is kept only for writes, which must carry its resourceVersion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal


from ack.model import (
    ADOPTION_FIELDS,
    ADOPTION_POLICY,
    ALLOW_DESTRUCTIVE,
    DELETION_POLICY,
    DRIFT_POLICY,
    FINALIZER,
    READ_ONLY,
    RECREATE_MISSING,
    TableSpec,
    TableStatus,
)
from ack.ignore import IGNORE_FIELDS, Ignored, parse_ignored
from ack.validate import Problem, effective, typed, validate

DeletionPolicy = Literal["delete", "retain"]
AdoptionPolicy = Literal["adopt", "adopt-or-create"]
DriftPolicy = Literal["remediate", "detect-only"]
DELETION_POLICIES: tuple[DeletionPolicy, ...] = ("delete", "retain")
ADOPTION_POLICIES: tuple[AdoptionPolicy, ...] = ("adopt", "adopt-or-create")
DRIFT_POLICIES: tuple[DriftPolicy, ...] = ("remediate", "detect-only")


def _annotation(key: str) -> str:
    return f"metadata.annotations[{key}]"


def _choice(annotations: dict[str, str], key: str, allowed: tuple[str, ...],
            problems: list[Problem]) -> str | None:
    value = annotations.get(key)
    if value is None or value in allowed:
        return value
    problems.append(Problem(_annotation(key), f"{value!r} is not one of " + ", ".join(map(repr, allowed))))
    return None


@dataclass(frozen=True)
class Policies:
    """What the resource's annotations ask for. `problems` names each annotation whose value is not understood."""

    deletion: DeletionPolicy | None = None  # None: the namespace's default, else delete
    adoption: AdoptionPolicy | None = None
    adoption_table_name: str | None = None  # from services.k8s.aws/adoption-fields
    read_only: bool = False
    allow_destructive: bool = False
    recreate_missing: bool = False
    drift: DriftPolicy | None = None  # None: the drift run's default
    ignored: tuple[Ignored, ...] = ()  # ackflow.dev/ignore-fields: left to others (ack/ignore.py)
    problems: tuple[Problem, ...] = ()

    @classmethod
    def from_annotations(cls, annotations: dict[str, str]) -> Policies:
        problems: list[Problem] = []
        deletion = _choice(annotations, DELETION_POLICY, DELETION_POLICIES, problems)
        adoption = _choice(annotations, ADOPTION_POLICY, ADOPTION_POLICIES, problems)
        drift = annotations.get(DRIFT_POLICY)
        ignored, bad = parse_ignored(annotations.get(IGNORE_FIELDS, ""))
        problems += bad
        return cls(
            deletion=deletion,  # type: ignore[arg-type]
            adoption=adoption,  # type: ignore[arg-type]
            adoption_table_name=_adoption_table_name(annotations.get(ADOPTION_FIELDS), problems),
            read_only=annotations.get(READ_ONLY) == "true",
            allow_destructive=annotations.get(ALLOW_DESTRUCTIVE) == "true",
            recreate_missing=annotations.get(RECREATE_MISSING) == "true",
            # An unknown drift policy must never act: it reads as detect-only.
            drift=None if drift is None else drift if drift in DRIFT_POLICIES else "detect-only",  # type: ignore
            ignored=ignored,
            problems=tuple(problems),
        )

    def drift_policy(self, default: DriftPolicy) -> DriftPolicy:
        """What a drift run may do here: detect-only when the run or ACK's read-only says so, else the
        resource's own policy, else the run's default."""
        if default == "detect-only" or self.read_only:
            return "detect-only"
        return self.drift or default


def _adoption_table_name(raw: str | None, problems: list[Problem]) -> str | None:
    if raw is None:
        return None
    try:
        fields = json.loads(raw)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        problems.append(Problem(_annotation(ADOPTION_FIELDS), 'not a JSON object such as {"tableName": "..."}'))
        return None
    name = fields.get("tableName")
    return str(name) if name is not None else None


@dataclass(frozen=True)
class Identity:
    """What every kind's typed resource reads from its metadata (`raw_identity` reads it)."""

    namespace: str
    name: str
    generation: int | None
    deleting: bool
    has_finalizer: bool


def raw_identity(raw: dict[str, Any], finalizer: str) -> dict[str, Any]:
    """The fields of `Identity` from a resource as the API server returns it (`finalizer`: its kind's)."""
    meta = raw.get("metadata") or {}
    return {"namespace": meta.get("namespace", "default"), "name": meta["name"], "generation": meta.get("generation"),
            "deleting": bool(meta.get("deletionTimestamp")),
            "has_finalizer": finalizer in (meta.get("finalizers") or [])}


def annotations_of(raw: dict[str, Any]) -> dict[str, str]:
    return (raw.get("metadata") or {}).get("annotations") or {}


@dataclass(frozen=True)
class TableResource(Identity):
    """One Table resource, typed. `spec` is what AWS is asked for: the spec as written less what AWS would not use,
    which `advisories` names (ack/validate.py: effective). `spec_problems` says what AWS would refuse in it; `spec` is
    None only when the spec does not even fit the model."""

    policies: Policies
    spec: TableSpec | None
    spec_problems: tuple[Problem, ...]
    status: TableStatus
    raw: dict[str, Any] = field(repr=False, compare=False)
    advisories: tuple[Problem, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def table_name(self) -> str:
        """The table the spec names, as written (also when the spec is not valid)."""
        return str((self.raw.get("spec") or {}).get("tableName", ""))

    @property
    def owned_arn(self) -> str:
        """The ARN of the table this resource made or adopted, from its status ("" before that)."""
        metadata = self.status.ack_resource_metadata
        return metadata.arn or "" if metadata else ""

    @property
    def managed_indexes(self) -> frozenset[str]:
        return frozenset(self.status.managed_indexes or [])

    @property
    def managed_replicas(self) -> frozenset[str]:
        return frozenset(self.status.managed_replicas or [])

    @property
    def reads_policy(self) -> bool:
        """Whether the live resource policy is read: when the spec names one, or named one when last synced (so
        that removing it from the spec deletes it)."""
        return bool(self.spec and self.spec.resource_policy) or bool(self.status.managed_resource_policy)

    @property
    def raw_status(self) -> dict[str, Any]:
        return self.raw.get("status") or {}

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> TableResource:
        spec, problems, advisories = _spec(raw.get("spec") or {})
        status = typed(TableStatus, raw.get("status") or {})[0] or TableStatus()  # another's we cannot read: afresh
        return cls(
            **raw_identity(raw, FINALIZER),
            policies=Policies.from_annotations(annotations_of(raw)),
            spec=spec,
            spec_problems=problems,
            status=status,
            raw=raw,
            advisories=advisories,
        )


def _spec(raw: dict[str, Any]) -> tuple[TableSpec | None, tuple[Problem, ...], tuple[Problem, ...]]:
    """The typed spec AWS is asked for, what AWS would refuse in it and what it leaves out as unused; or None and
    the first problem the model finds."""
    written, problems = typed(TableSpec, raw)
    if written is None:
        return None, problems, ()
    spec, left_out = effective(written)
    return spec, tuple(validate(spec)), tuple(left_out)
