"""What the commands print: the bootstrap's summary and plan, the outcomes table, drift's lines."""

from __future__ import annotations

import json

import pytest

from ack.delta import Difference
from ack.drift import Action, DriftClass, ResourceCheck, report
from ack.outcome import Outcome
from flows import output
from tasks.aws import ServiceResult


@pytest.fixture(autouse=True)
def narrow(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")


def rows(found: int, **others: int) -> list[ServiceResult]:
    made = [ServiceResult(service="s3 bucket", name=f"bucket-{i}", id=f"arn:aws:s3:::bucket-{i}", status="available",
                          action="found") for i in range(found)]
    for action, n in others.items():
        made += [ServiceResult(service="eks cluster", name=f"{action}-{i}", id="", status="planned",
                               action=action.replace("_", " ")) for i in range(n)]
    return made


def test_a_second_run_says_everything_was_found_in_one_short_line():
    text = output.service_rows(rows(49), "table")
    assert text == "49 found: nothing to change"


def test_what_changed_is_listed_and_the_rest_counted_within_the_terminal():
    text = output.service_rows(rows(41, created=6), "table")
    assert "ACTION" in text and "created" in text and "bucket-0" not in text
    assert text.splitlines()[-1] == "41 found, 6 created"
    assert max(map(len, text.splitlines())) <= 100
    assert "arn:aws:s3:::bucket-0" in output.service_rows(rows(2), "wide")
    assert [r["name"] for r in json.loads(output.service_rows(rows(2), "json"))] == ["bucket-0", "bucket-1"]


def test_a_plan_reads_like_terraforms():
    text = output.plan(rows(41, would_create=6, would_update=2))
    lines = text.splitlines()
    assert lines[0] == "+ create  eks cluster  would_create-0"
    assert "~ update  eks cluster  would_update-1" in lines
    assert lines[-1] == "Plan: 6 to create, 2 to update, 41 unchanged."
    assert output.plan(rows(3, would_delete=2)).splitlines()[-1] == "Plan: 2 to delete, 3 unchanged."


def test_outcomes_wrap_long_messages_within_the_terminal():
    found = [Outcome(namespace="shop", name="orders", table="orders", state="Terminal", message="x " * 120)]
    text = output.outcomes(found)
    assert max(map(len, text.splitlines())) <= 100
    assert text.splitlines()[-1] == "1 Terminal"


def test_drift_prints_a_line_per_difference_and_counts_what_is_in_sync():
    drifted = ResourceCheck("payments", "orders", "orders", DriftClass.DRIFTED,
                         differences=[Difference("spec.provisionedThroughput.readCapacityUnits", 10, 5,
                                                 ("provisionedThroughput", "readCapacityUnits"))],
                         actions={"spec.provisionedThroughput.readCapacityUnits": (Action.REMEDIATED, "")})
    refused = ResourceCheck("payments", "claims", "foreign", DriftClass.REFUSED, message="a table named foreign exists",
                         actions={"": (Action.REFUSED, "a table named foreign exists")})
    frame = report([drifted, refused, ResourceCheck("payments", "ok", "ok", DriftClass.IN_SYNC)])
    findings = frame[frame["class"] != "IN_SYNC"].to_dict(orient="records")
    lines = output.drift_lines(findings, 1, "r.csv").splitlines()
    assert lines == ["DRIFTED payments/orders spec.provisionedThroughput.readCapacityUnits 5 -> 10 remediated",
                     "REFUSED payments/claims foreign: refused: a table named foreign exists",
                     "1 in sync",
                     "Full report: the Prefect artifact drift-report and r.csv."]
    assert output.drift_lines([], 3, None).splitlines()[0] == "3 in sync: no drift"
