"""The drift report's rows and what a terminal is shown of them."""

from __future__ import annotations

from ack.delta import Difference
from ack.drift import CONSOLE_ROWS, Action, DriftClass, TableCheck, console_rows, report


def _checks(in_sync: int) -> list[TableCheck]:
    drifted = TableCheck("team", "orders", "orders", DriftClass.DRIFTED,
                         differences=[Difference("spec.tags", [{"key": "team", "value": "a"}], [], ("tags",))],
                         actions={"spec.tags": (Action.REMEDIATED, "")})
    return [drifted] + [TableCheck("team", f"t{i}", f"t{i}", DriftClass.IN_SYNC) for i in range(in_sync)]


def test_a_short_report_is_shown_whole():
    text = console_rows(report(_checks(3)))
    assert text.count("IN_SYNC") == 3 and "orders" in text and "not listed" not in text


def test_a_long_report_shows_what_is_not_in_sync_and_says_how_many_rows_it_left_out():
    frame = report(_checks(CONSOLE_ROWS + 10))
    text = console_rows(frame)
    assert len(frame) == CONSOLE_ROWS + 11
    assert "IN_SYNC" not in text
    assert "orders" in text and "remediated" in text
    assert f"({CONSOLE_ROWS + 10} resources in sync not listed" in text


def test_an_all_in_sync_long_report_is_just_the_count_and_an_empty_one_says_so():
    assert console_rows(report(_checks(CONSOLE_ROWS + 1)[1:])).startswith(f"({CONSOLE_ROWS + 1} resources in sync")
    assert console_rows(report([])) == "no Table resources"
