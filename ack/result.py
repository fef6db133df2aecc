"""What one reconcile returns, and when the work queue brings a resource back (controller-runtime's Result,
with ACK's requeue times).

A reconcile never waits for AWS: it does one round of changes and returns one of these. `Synced` and
`Terminal` are done until the resource changes (or the resync period passes); `Requeue` comes back after
`after` seconds, or, when `after` is None (a failure), after the queue's backoff for that resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SyncedState = Literal["Synced", "Deleted", "Retained", "Gone", "Skipped"]  # Skipped: another controller's


@dataclass(frozen=True)
class Synced:
    """Nothing left to do: AWS matches the spec (or the resource was deleted, kept, is gone, or is not ours)."""

    state: SyncedState = "Synced"
    message: str = ""


@dataclass(frozen=True)
class Terminal:
    """Nothing more happens until the spec or an annotation changes."""

    reason: str
    message: str


@dataclass(frozen=True)
class Requeue:
    """Come back later: after `after` seconds, or (None) after the per-resource backoff of a failure."""

    reason: str
    message: str
    after: float | None = None

    @property
    def failed(self) -> bool:
        return self.after is None


Result = Synced | Terminal | Requeue


@dataclass(frozen=True)
class RequeueTimes:
    """How soon a resource is looked at again, by why. ACK's table hooks look again 5 s after CREATING and 10 s
    after UPDATING (or an index busy); a resource not yet synced for another reason comes back after 30 s."""

    creating: float = 5.0
    updating: float = 10.0
    not_synced: float = 30.0

    @classmethod
    def sandbox(cls) -> RequeueTimes:
        """The sandbox's AWS finishes in about half a second (SANDBOX_AWS_*_DELAY): look again as soon."""
        return cls(creating=0.5, updating=1.0, not_synced=5.0)

    def busy(self, table_status: str) -> float:
        return self.creating if table_status in ("CREATING", "DELETING") else self.updating


# A failure's backoff per resource, as controller-runtime's rate limiter: doubling from BACKOFF_BASE seconds
# up to BACKOFF_MAX, reset when the resource syncs (or ends Terminal).
BACKOFF_BASE = 1.0
BACKOFF_MAX = 300.0


def backoff(failures: int) -> float:
    """The delay after the `failures`-th failure in a row (1 for the first)."""
    return min(BACKOFF_BASE * 2 ** max(failures - 1, 0), BACKOFF_MAX)


def describe(result: Result, delay: float | None = None) -> str:
    """One line a person reads: `Synced`, `Terminal (Reason): ...`, `requeued in 2 s (Reason): ...`; `delay` is
    when the queue brings a failure back (its backoff)."""
    match result:
        case Synced(state, message):
            return state + (f": {message}" if message else "")
        case Terminal(reason, message):
            return f"Terminal ({reason}): {message}"
        case Requeue(reason, message, after):
            when = after if delay is None else delay
            return f"requeued {'with backoff' if when is None else f'in {when:g} s'} ({reason}): {message}"
    raise TypeError(result)
