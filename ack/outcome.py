"""What a reconcile did to each resource, and the table a person reads at the end of a command."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import BaseModel

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


def outcomes_frame(outcomes: list[Outcome]) -> pd.DataFrame:
    columns = ["namespace", "name", "table", "state", "message"]
    return pd.DataFrame([o.model_dump() for o in outcomes], columns=columns)


def summary(outcomes: list[Outcome]) -> str:
    if not outcomes:
        return "no Table resources"
    with pd.option_context("display.max_colwidth", 120, "display.width", 200):
        return outcomes_frame(outcomes).to_string(index=False)
