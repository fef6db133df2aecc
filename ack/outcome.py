"""Where each resource ended after a command reconciled it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ack.kinds import Key
from ack.result import Requeue, Result, Synced, Terminal

State = Literal["Synced", "Terminal", "Recoverable", "Refused", "Deleted", "Retained", "Gone", "Skipped"]
# States after which the command counts as successful.
DONE: frozenset[str] = frozenset({"Synced", "Deleted", "Retained", "Gone", "Skipped"})


class Outcome(BaseModel):
    namespace: str
    name: str
    kind: str = "Table"
    table: str = ""  # the table it concerns (a Backup's too)
    state: State
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.state in DONE

    @classmethod
    def of(cls, key: Key, table: str, result: Result) -> Outcome:
        """The outcome of a resource whose last reconcile returned `result` (a requeue: not synced in time)."""
        who = {"namespace": key.namespace, "name": key.name, "kind": key.kind, "table": table}
        match result:
            case Synced(state, message):
                return cls(**who, state=state, message=message)
            case Terminal(_, message):
                return cls(**who, state="Terminal", message=message)
            case Requeue(reason, message):
                return cls(**who, state="Recoverable", message=message if reason in message else f"{reason}: {message}")
        raise TypeError(result)
