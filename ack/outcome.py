"""Where each resource ended after a command reconciled it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ack.result import Requeue, Result, Synced, Terminal

State = Literal["Synced", "Terminal", "Recoverable", "Refused", "Deleted", "Retained", "Gone"]
# States after which the command counts as successful.
DONE: frozenset[str] = frozenset({"Synced", "Deleted", "Retained", "Gone"})


class Outcome(BaseModel):
    namespace: str
    name: str
    table: str = ""
    state: State
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.state in DONE

    @classmethod
    def of(cls, key: str, table: str, result: Result) -> Outcome:
        """The outcome of a resource whose last reconcile returned `result` (a requeue: not synced in time)."""
        namespace, _, name = key.partition("/")
        match result:
            case Synced(state, message):
                return cls(namespace=namespace, name=name, table=table, state=state, message=message)
            case Terminal(_, message):
                return cls(namespace=namespace, name=name, table=table, state="Terminal", message=message)
            case Requeue(reason, message):
                return cls(namespace=namespace, name=name, table=table, state="Recoverable",
                           message=message if reason in message else f"{reason}: {message}")
        raise TypeError(result)
