"""The work queue's guarantees (client-go's), against a clock the test moves."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from ack.errors import BusyError, RateLimitedError, RecoverableError, TerminalError, from_aws
from ack.result import BACKOFF_MAX, Requeue, Synced, Terminal, backoff, describe
from controller.queue import ShutDown, WorkQueue
from controller.workers import resync_delay


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(clock: Clock) -> WorkQueue:
    return WorkQueue(clock=clock)


def drain(queue: WorkQueue) -> list[str]:
    keys = []
    while (key := queue.get(timeout=0)) is not None:
        keys.append(key)
    return keys


def test_a_key_queued_twice_is_handed_out_once(queue):
    for key in ("a/x", "a/y", "a/x"):
        queue.add(key)
    assert drain(queue) == ["a/x", "a/y"]


def test_a_key_is_never_in_two_workers_and_a_change_meanwhile_is_not_lost(queue):
    queue.add("a/x")
    assert queue.get(timeout=0) == "a/x"
    queue.add("a/x")  # changed while a worker has it
    assert queue.get(timeout=0) is None  # not handed to a second worker
    queue.done("a/x")
    assert queue.get(timeout=0) == "a/x"  # reconciled again afterwards
    queue.done("a/x")
    assert queue.idle()


def test_add_after_comes_back_when_due_and_the_earliest_wins(queue, clock):
    queue.add_after("a/x", 10)
    queue.add_after("a/x", 30)  # later: ignored
    queue.add_after("a/y", 5)
    assert queue.get(timeout=0) is None and queue.scheduled() == 2
    clock.now += 5
    assert drain(queue) == ["a/y"]
    clock.now += 5
    assert drain(queue) == ["a/x"]
    clock.now += 30
    assert drain(queue) == []  # the later request was not kept besides the earlier


def test_an_add_now_replaces_a_scheduled_visit(queue, clock):
    queue.add_after("a/x", 60)
    queue.add("a/x")
    assert drain(queue) == ["a/x"]
    queue.done("a/x")
    clock.now += 60
    assert drain(queue) == [] and queue.scheduled() == 0


def test_failures_back_off_doubling_until_forgotten(queue, clock):
    delays = [queue.add_rate_limited("a/x") for _ in range(4)]
    assert delays == [1, 2, 4, 8]
    queue.forget("a/x")
    assert queue.add_rate_limited("a/x") == 1
    assert backoff(20) == BACKOFF_MAX == 300


def test_get_waits_for_a_key_from_another_thread():
    queue = WorkQueue()
    threading.Timer(0.05, queue.add, args=("a/x",)).start()
    assert queue.get(timeout=5) == "a/x"


def test_a_shut_down_queue_stops_its_workers():
    queue = WorkQueue()
    threading.Timer(0.05, queue.shut_down).start()
    with pytest.raises(ShutDown):
        queue.get()


@pytest.mark.parametrize(("code", "message", "kind"), [
    ("ValidationException", "One or more parameter values were invalid", TerminalError),
    ("ResourceInUseException", "Table is being updated", BusyError),
    ("LimitExceededException", "Only 1 online index can be created", BusyError),
    ("AccessDeniedException", "not authorized to perform dynamodb:CreateTable", RecoverableError),
    ("ThrottlingException", "Rate exceeded", RecoverableError),
    ("ValidationException", "Time to live has been modified multiple times within a fixed interval",
     RateLimitedError),
])
def test_aws_answers_become_the_error_kinds_that_steer_the_queue(code, message, kind):
    error = from_aws(code, message, "UpdateTable")
    assert type(error) is kind
    assert error.message == f"UpdateTable: {code}: {message}"


def test_a_rate_window_says_when_to_try_again():
    ttl = from_aws("ValidationException", "Time to live has been modified multiple times within a fixed interval",
                   "UpdateTimeToLive")
    billing = from_aws("LimitExceededException", "a switch to PROVISIONED billing mode is allowed once every 24 "
                                                 "hours", "UpdateTable")
    assert (ttl.retry_after, billing.retry_after) == (3600, 86400)


def test_results_read_as_one_line():
    assert describe(Synced()) == "Synced"
    assert describe(Synced("Retained", "the table t was kept")) == "Retained: the table t was kept"
    assert describe(Terminal("TableExists", "a table named t exists")) == \
        "Terminal (TableExists): a table named t exists"
    assert describe(Requeue("Pending", "the table is CREATING", after=0.5)) == \
        "requeued in 0.5 s (Pending): the table is CREATING"
    assert describe(Requeue("InternalServerError", "CreateTable: ...")) == \
        "requeued with backoff (InternalServerError): CreateTable: ..."
    assert describe(Requeue("InternalServerError", "CreateTable: ..."), delay=8) == \
        "requeued in 8 s (InternalServerError): CreateTable: ..."


def test_resyncs_are_spread_over_the_period_each_key_at_its_own_phase():
    period = 36000.0
    delays = [resync_delay(f"team/table-{i}", period, now=5000.0) for i in range(1000)]
    assert all(0 < d <= period for d in delays)
    per_hour = Counter(int(d // 3600) for d in delays)
    assert len(per_hour) == 10 and max(per_hour.values()) < 150  # about 100 an hour, not 1000 at once
    # A key reconciled meanwhile keeps its phase: its next resync falls at the same moment of the period.
    assert (5000.0 + delays[7]) % period == pytest.approx((6000.0 + resync_delay("team/table-7", period, 6000.0))
                                                          % period)
