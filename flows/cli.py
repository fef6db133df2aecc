"""What every command shares: on failure, one line on stderr and exit 1 (the contract in DESIGN.md)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from ack.manifests import ManifestError
from ack.outcome import Outcome
from bootstrap.config import ConfigError

T = TypeVar("T")


def guarded(command: str, work: Callable[[], T]) -> T | None:
    """`work()`, or None after saying in one line why it failed."""
    try:
        return work()
    except (ConfigError, ManifestError) as exc:  # the user's input: the message names the file and the field
        print(f"{command}: {exc}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 (a person reads the reason; the run's logs keep the details)
        print(f"{command} failed: {exc}".splitlines()[0], file=sys.stderr)
    return None


def outcomes_exit(command: str, outcomes: list[Outcome] | None) -> int:
    """0 when every resource ended well, else 1 with a count on stderr."""
    if outcomes is None:
        return 1
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(f"{command}: {len(failed)} of {len(outcomes)} resources not synced", file=sys.stderr)
        return 1
    return 0
