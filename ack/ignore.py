"""Fields a resource leaves to someone else: named in `ackflow.dev/ignore-fields`, or capacity that Application Auto
Scaling owns (a scalable target registered for it). Pure: neither reconcile nor drift changes them; the spec is taken
with the live values in their place, and drift reports them as ignored.

ACK's most-asked open problem is that it resets capacity autoscaling changed; here the table's (or an index's) read
and write capacity with a scalable target are autoscaling's, without any annotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ack.delta import Difference, delta
from ack.model import TableSpec
from ack.validate import Problem

IGNORE_FIELDS = "ackflow.dev/ignore-fields"
AUTOSCALING = "owned by Application Auto Scaling (a scalable target is registered)"
ANNOTATED = f"named in {IGNORE_FIELDS}"

# Fields that make the table what it is: never left to anyone else.
_NEVER = {"tableName", "attributeDefinitions", "keySchema", "localSecondaryIndexes", "globalSecondaryIndexes"}
_TOP = set(TableSpec.model_fields[name].alias or name for name in TableSpec.model_fields)
_CAPACITY = {"provisionedThroughput": {"readCapacityUnits", "writeCapacityUnits"},
             "onDemandThroughput": {"maxReadRequestUnits", "maxWriteRequestUnits"}}
_PATH = re.compile(r"^spec\.(?P<field>\w+)(?:\[(?P<index>[\w.-]+)\])?(?:\.(?P<sub>\w+))?(?:\.(?P<leaf>\w+))?$")


@dataclass(frozen=True)
class Ignored:
    """A field left as it is live, and why. `parts` is a difference's parts prefix; "*" matches any index name."""

    parts: tuple[str, ...]
    why: str

    def matches(self, difference: Difference) -> bool:
        own = difference.parts[:len(self.parts)]
        return len(own) == len(self.parts) and all(p in ("*", o) for p, o in zip(self.parts, own))


def parse_ignored(value: str, where: str = f"metadata.annotations[{IGNORE_FIELDS}]"
                  ) -> tuple[tuple[Ignored, ...], tuple[Problem, ...]]:
    """The annotation's comma-separated fields: `spec.provisionedThroughput`, `spec.provisionedThroughput.
    readCapacityUnits`, `spec.globalSecondaryIndexes.provisionedThroughput` (every index), `spec.globalSecondaryIndexes
    [NAME].provisionedThroughput.writeCapacityUnits`, `spec.tags`, ...; a problem for each it cannot take."""
    ignored, problems = [], []
    for path in filter(None, (part.strip() for part in value.split(","))):
        parts = _parts(path)
        if isinstance(parts, str):
            problems.append(Problem(where, f"{path!r}: {parts}"))
        else:
            ignored.append(Ignored(parts, ANNOTATED))
    return tuple(ignored), tuple(problems)


def _parts(path: str) -> tuple[str, ...] | str:
    found = _PATH.match(path)
    if found is None:
        return "not a spec field path such as spec.provisionedThroughput"
    field, index, sub, leaf = found.group("field", "index", "sub", "leaf")
    if field not in _TOP:
        return f"the spec has no field {field}"
    if field == "globalSecondaryIndexes":
        if sub not in _CAPACITY or (leaf is not None and leaf not in _CAPACITY[sub]):
            return "of an index, only its provisionedThroughput or onDemandThroughput (or one of their fields)"
        return (field, index or "*", sub, *([leaf] if leaf else []))
    if field in _NEVER:
        return f"{field} makes the table what it is: it cannot be left to anyone else"
    if index is not None or leaf is not None or (sub is not None and sub not in _CAPACITY.get(field, ())):
        return f"only the whole {field}" + (f" or one of {', '.join(sorted(_CAPACITY[field]))}"
                                             if field in _CAPACITY else "")
    return (field, *([sub] if sub else []))


def autoscaled(targets: Iterable[dict[str, Any]]) -> tuple[Ignored, ...]:
    """What Application Auto Scaling owns, from DescribeScalableTargets' targets of a table and its indexes."""
    owned = []
    for target in targets:
        resource, dimension = target.get("ResourceId", ""), target.get("ScalableDimension", "")
        unit = {"ReadCapacityUnits": "readCapacityUnits", "WriteCapacityUnits": "writeCapacityUnits"}.get(
            dimension.rsplit(":", 1)[-1])
        if unit is None:
            continue
        if "/index/" in resource:
            owned.append(Ignored(("globalSecondaryIndexes", resource.rsplit("/", 1)[-1], "provisionedThroughput",
                                  unit), AUTOSCALING))
        else:
            owned.append(Ignored(("provisionedThroughput", unit), AUTOSCALING))
    return tuple(owned)


def with_live(spec: TableSpec, live: TableSpec, ignored: Iterable[Ignored]
              ) -> tuple[TableSpec, list[tuple[Difference, str]]]:
    """`spec` with the live value in place of each ignored field that differs, and those differences with why: the
    plan is then made from a spec that asks for nothing there."""
    ignored = tuple(ignored)
    if not ignored:
        return spec, []
    left = [(d, i) for d in delta(spec, live) for i in [next((i for i in ignored if i.matches(d)), None)] if i]
    if not left:
        return spec, []
    wanted, actual = spec.dump(), live.dump()
    for difference, by in left:  # the field the pattern names (an index's name where it says "*")
        _copy(wanted, actual, tuple(own if mine == "*" else mine for mine, own in zip(by.parts, difference.parts)))
    return TableSpec.model_validate(wanted), [(d, by.why) for d, by in left]


def _copy(wanted: dict[str, Any], actual: dict[str, Any], parts: tuple[str, ...]) -> None:
    """Set `wanted` at `parts` to `actual`'s value there (an index found by its name)."""
    if parts[0] == "globalSecondaryIndexes":
        wanted = next((i for i in wanted.get(parts[0]) or [] if i["indexName"] == parts[1]), None)
        actual = next((i for i in actual.get(parts[0]) or [] if i["indexName"] == parts[1]), None)
        if wanted is None or actual is None:
            return
        parts = parts[2:]
    for part in parts[:-1]:
        wanted, actual = wanted.setdefault(part, {}), actual.get(part) or {}
    if parts[-1] in actual:
        wanted[parts[-1]] = actual[parts[-1]]
    else:
        wanted.pop(parts[-1], None)
