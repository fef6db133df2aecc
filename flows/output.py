"""What a person reads at the command line: the flows return their results, and the commands render them here,
sized to the terminal. The Prefect UI gets the same results as artifacts (tables, markdown) from the flows.

A command also quiets Prefect's own console bookkeeping ("Finished in state ...", run links) and shows log lines
bare, without Prefect's prefix: what remains is the flows' own progress and every warning and error.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from ack.outcome import Outcome

WIDTH = 100  # when the output is not a terminal
PLAN_MARKS = {"would create": "+ create", "would update": "~ update", "would delete": "- delete"}
ENGINE_MODULES = {"task_engine", "flow_engine", "server"}  # Prefect's bookkeeping of runs and its own server


def width() -> int:
    return shutil.get_terminal_size((WIDTH, 24)).columns


class _Bookkeeping(logging.Filter):
    """Lets through what the flows say, and every warning; drops Prefect's record of its own runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.module not in ENGINE_MODULES


def use_command_line_console() -> None:
    """Prefect's console handler shows the flows' lines bare and leaves out its bookkeeping (the runs' logs in
    the Prefect API keep all of it)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    import prefect.main  # noqa: F401  (sets Prefect's logging up, so that its console handler exists)

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.setFormatter(logging.Formatter("%(message)s"))
            handler.addFilter(_Bookkeeping())


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Rows under column headings, left-aligned, as wide as the terminal allows (long values wrap)."""
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(column, justify="left", overflow="fold")
    for row in rows:
        grid.add_row(*(str(value) for value in row))
    out = io.StringIO()
    Console(file=out, width=width(), color_system=None, soft_wrap=False).print(grid)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())


def counts(actions: Iterable[str]) -> str:
    """`7 created, 42 found`, most frequent first."""
    return ", ".join(f"{n} {action}" for action, n in Counter(actions).most_common())


# ------------------------------------------------------------------------------------ bootstrap, teardown


def service_rows(rows: Sequence[Any], output: str) -> str:
    """The bootstrap's (or teardown's) summary: `table` lists what changed and counts the rest, `wide` lists every
    row with its id and status, `json` is every row as JSON."""
    if output == "json":
        return json.dumps([row.model_dump() for row in rows], indent=2)
    if output == "wide":
        return table(["ACTION", "SERVICE", "NAME", "ID", "STATUS"],
                     [(r.action, r.service, r.name, r.id, r.status) for r in rows])
    changed = [r for r in rows if r.action not in ("found", "absent")]
    lines = [table(["ACTION", "SERVICE", "NAME"], [(r.action, r.service, r.name) for r in changed])] \
        if changed else []
    lines.append(counts(r.action for r in rows) + ("" if changed else ": nothing to change"))
    return "\n\n".join(lines)


def render(rows: Sequence[Any], planned: bool, output: str) -> str:
    """The bootstrap's (or teardown's) result for a person: a plan as `terraform plan` reads, else what changed
    (or, with `-o`, every row)."""
    return plan(rows) if planned and output == "table" else service_rows(rows, output)


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=["table", "wide", "json"], default="table",
                        help="table: what changed and a count of the rest (default); wide: every row with its id "
                             "and status; json: every row")


def plan(rows: Sequence[Any]) -> str:
    """A plan as `terraform plan` reads: a line per change, then the counts."""
    changes = [r for r in rows if r.action in PLAN_MARKS]
    lines = [f"{PLAN_MARKS[r.action]}  {r.service}  {r.name}" for r in changes]
    tally = Counter(r.action for r in changes)
    parts = [f"{tally[action]} to {mark.split()[1]}" for action, mark in PLAN_MARKS.items() if tally[action]]
    lines.append(f"Plan: {', '.join([*parts, f'{len(rows) - len(changes)} unchanged'])}.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- apply, reconcile


def outcomes(found: Sequence[Outcome]) -> str:
    """Where each resource ended, and the counts."""
    if not found:
        return "no resources"
    grid = table(["KIND", "RESOURCE", "TABLE", "STATE", "MESSAGE"],
                 [(o.kind, f"{o.namespace}/{o.name}", o.table, o.state, o.message) for o in found])
    return f"{grid}\n\n{counts(o.state for o in found)}"


# ----------------------------------------------------------------------------------------------- drift


def drift_lines(findings: Sequence[dict[str, Any]], in_sync: int, report_path: str | None) -> str:
    """One line per difference (`DRIFTED team/orders spec.x 5 -> 10 remediated`: the live value, then the spec's),
    one per resource otherwise not in sync, the resources in sync as a count, and where the full report is. A
    resource of another kind than Table is named with its kind (`MISSING Backup team/nightly`)."""
    lines = []
    for row in findings:
        kind = "" if row.get("kind", "Table") == "Table" else f"{row['kind']} "
        who = f"{row['class']} {kind}{row['namespace']}/{row['resource']}"
        if row["field"]:
            change = f"{row['actual'] or '(none)'} -> {row['desired'] or '(none)'}"
            lines.append(f"{who} {row['field']} {change} {row['action']}".rstrip())
        else:
            lines.append(f"{who} {row['table']}: {row['action'] + ': ' if row['action'] else ''}{row['message']}")
    lines.append(f"{in_sync} in sync" if lines else f"{in_sync} in sync: no drift")
    where = "the Prefect artifact drift-report" + (f" and {report_path}" if report_path else "")
    lines.append(f"Full report: {where}.")
    return "\n".join(lines)
