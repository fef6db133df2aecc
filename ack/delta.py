"""What differs between the desired spec and the live table: a pure function, as ACK's delta."""

from __future__ import annotations

import dataclasses
from typing import Any

from ack.model import TableSpec
from ack.normalize import Keyed, canonical


@dataclasses.dataclass(frozen=True)
class Difference:
    """One field that differs, with both values in canonical form (None: absent).

    `path` is for people (`spec.globalSecondaryIndexes[byName:idx].provisionedThroughput.readCapacityUnits`);
    `parts` is the same path for code (`("globalSecondaryIndexes", "idx", "provisionedThroughput", ...)`).
    """

    path: str
    desired: Any
    actual: Any
    parts: tuple[str, ...] = dataclasses.field(default=(), compare=False, repr=False)

    @property
    def field(self) -> str:
        """The top-level spec field, e.g. `globalSecondaryIndexes`."""
        return self.parts[0]


def delta(desired: TableSpec, actual: TableSpec) -> list[Difference]:
    """The differences between two specs, after ACK's normalisation (ack.normalize.canonical).

    `actual` is the live table (`Observed.spec`) or, to check immutable fields, the spec the table
    was created with. Differences come in spec field order.
    """
    billing_mode = desired.billing_mode or "PROVISIONED"
    wanted, live = canonical(desired, billing_mode), canonical(actual, billing_mode)
    # Which attributes are defined follows from the keys and indexes, which are compared on their
    # own; only a changed type is a difference of its own.
    shared = wanted["attributeDefinitions"].keys() & live["attributeDefinitions"].keys()
    for side in (wanted, live):
        side["attributeDefinitions"] = Keyed(
            "byName", {name: kind for name, kind in side["attributeDefinitions"].items() if name in shared}
        )
    differences: list[Difference] = []
    _walk("spec", (), wanted, live, differences)
    return differences


def _walk(path: str, parts: tuple[str, ...], wanted: Any, live: Any, out: list[Difference]) -> None:
    if isinstance(wanted, dict) and isinstance(live, dict):
        for key in dict.fromkeys([*wanted, *live]):
            sub = f"{path}[{wanted.by}:{key}]" if isinstance(wanted, Keyed) else f"{path}.{key}"
            _walk(sub, (*parts, key), wanted.get(key), live.get(key), out)
    elif wanted != live:
        out.append(Difference(path, wanted, live, parts))
