"""drift_latency and drift_events_idle: the controller reading drift events (`flows.watch --drift-events`).

One sandbox, whose AWS endpoint publishes each mutating DynamoDB call as CloudTrail would, SANDBOX_AWS_TRAIL_DELAY
(1 s, CloudTrail's delivery lag shortened) after it; the rule and queues made as `python -m flows.events setup` makes
them; 50 Table resources created and Synced by the controller itself, run with `--drift-events QUEUE
--reconcile-default-resync-seconds 0` (no resync: whatever it finds, it finds from the events).

drift_latency: 50 out-of-band changes, one on each table, made with a plain boto3 client (not the project's app id,
whose calls the controller ignores) one after another, BENCH_DRIFT_INTERVAL (0.75 s) apart: in turn a tag added,
Time to Live switched on, point-in-time recovery switched on. Each is timed from the call's return to the
controller's `DRIFTED (...) ...: remediating` line for that table, and to its `remediated (...)` line (its stdout,
each line stamped as it arrives). Prints the p50 and p95 of both, per kind of call too, whether every change was
remediated, the drift events' outcomes (`ackflow_drift_events_total`) and the controller's AWS calls per change.
Target: p50 to the drift event under 3 s with the 1 s delivery lag (ACK finds it at its next resync, 10 h).

drift_events_idle: the same controller left alone for BENCH_IDLE_SECONDS (60): its AWS calls (the endpoint's call
log, app `ackflow`), by operation. Expected: SQS ReceiveMessage long polls alone, three a minute (20 s polls).
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO

import boto3
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from ack.model import GROUP, PLURAL, VERSION
from benchmarks import flow_env
from benchmarks.controller import scrape, table, wait_synced
from controller.controller import WATCHING
from sandbox.aws import calls
from sandbox.aws.server import Settings
from sandbox.processes import _die_with_parent, free_port
from sandbox.stack import Sandbox

TABLES = int(os.environ.get("BENCH_DRIFT_TABLES", "50"))
INTERVAL = float(os.environ.get("BENCH_DRIFT_INTERVAL", "0.75"))  # seconds between two out-of-band changes
TRAIL_DELAY = os.environ.get("BENCH_TRAIL_DELAY", "1")
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
NAMESPACE = "drift"
QUEUE = "bench-drift-events"
PREFIX = "bench"  # the ownership tag's value on the rule and queues
WAIT_SECONDS = 60  # for a change's remediation, after the last change
POLL_SECONDS = 20  # the controller's long poll (controller/drift_events.py DEFAULT_WAIT_SECONDS)
TARGET_P50_S = 3.0

# tell()'s lines (controller/drift_events.py): `Table NS/NAME: DRIFTED (paths) after CALL by ARN: remediating`, then
# `Table NS/NAME: remediated (paths) after CALL` (or `not remediated (Result) after CALL`).
FOUND = re.compile(r"^Table ([^/\s]+)/(\S+): (DRIFTED|MISSING|REFUSED) \((.*)\) after (\w+) by .*: "
                   r"(remediating|reported.*)$")
DONE = re.compile(r"^Table ([^/\s]+)/(\S+): (remediated|not remediated) \((.*)\) after (\w+)$")


class Controller:
    """`python -m flows.watch` as a child process whose output lines are stamped (time.monotonic) as they arrive,
    and kept in a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path):
        self.lines: list[tuple[float, str]] = []
        self.found: dict[str, tuple[float, str]] = {}  # table resource -> (when, the line), the first of each
        self.done: dict[str, tuple[float, str]] = {}
        self._changed = threading.Condition()
        self._log = open(log_path, "w")  # noqa: SIM115 (closed by stop())
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env, preexec_fn=_die_with_parent, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for raw in stream:
            stamp, line = time.monotonic(), raw.rstrip("\n")
            self._log.write(f"{stamp:.3f} {line}\n")
            with self._changed:
                self.lines.append((stamp, line))
                if (match := FOUND.match(line)) and match.group(1) == NAMESPACE:
                    self.found.setdefault(match.group(2), (stamp, line))
                elif (match := DONE.match(line)) and match.group(1) == NAMESPACE:
                    self.done.setdefault(match.group(2), (stamp, line))
                self._changed.notify_all()
        self._log.flush()

    def wait(self, ready: Callable[[], bool], timeout: float, what: str) -> bool:
        """Until `ready()` (called under the lock); False after `timeout`; an error if the controller exits."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready():
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the controller exited ({self.proc.returncode}) before {what}; last lines:\n"
                                       + "\n".join(line for _, line in self.lines[-15:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 1.0))
        return True

    def stop(self, timeout: float = 60) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the controller stops its Prefect API too
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        self._log.close()


def _plain(sandbox: Sandbox, service: str):
    """A console user's client: the sandbox's credentials, no app id (the controller would take it for its own)."""
    return boto3.client(service, endpoint_url=sandbox.aws.url, region_name=sandbox.aws.region,
                        aws_access_key_id=sandbox.aws.access_key_id,
                        aws_secret_access_key=sandbox.aws.secret_access_key)


def _changes(ddb, table_name: str, arn: str, i: int) -> tuple[str, Callable[[], object]]:
    """The i-th out-of-band change: in turn a tag added, Time to Live on, point-in-time recovery on."""
    kind = ("TagResource", "UpdateTimeToLive", "UpdateContinuousBackups")[i % 3]
    if kind == "TagResource":
        return kind, lambda: ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "changed-by", "Value": "console"}])
    if kind == "UpdateTimeToLive":
        return kind, lambda: ddb.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    return kind, lambda: ddb.update_continuous_backups(
        TableName=table_name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return round(values[0], 2), round(values[0], 2)
    p95 = statistics.quantiles(values, n=20, method="inclusive")[-1]
    return round(statistics.median(values), 2), round(p95, 2)


def _events(address: str) -> dict[str, int]:
    """ackflow_drift_events_total by outcome."""
    found = {}
    for family in text_string_to_metric_families(scrape(address)):
        for sample in family.samples:
            if sample.name == "ackflow_drift_events_total":
                found[sample.labels["outcome"]] = int(sample.value)
    return found


def _own_calls(sandbox: Sandbox, start: float, end: float) -> list[dict]:
    """The controller's AWS calls (app id `ackflow`) answered between two wall-clock times."""
    return [c for c in calls(sandbox.aws.url, sandbox.aws.access_key_id)
            if c["app"] == "ackflow" and start <= c["time"] < end]


def _by_operation(made: list[dict]) -> dict[str, int]:
    return dict(Counter(f"{c['service']}:{c['operation']}" for c in made).most_common())


def main() -> None:
    env = {"SANDBOX_AWS_TRAIL_DELAY": TRAIL_DELAY, "SANDBOX_AWS_TTL_WINDOW": "0", "SANDBOX_AWS_BILLING_WINDOW": "0"}
    with tempfile.TemporaryDirectory() as folder, Sandbox(Path(folder) / "sandbox", aws_env=env) as sandbox:
        trail_delay = Settings.from_env({**os.environ, **sandbox.aws.env}).trail_delay
        os.environ.update(sandbox.environ())
        from tasks.aws.drift_events import ensure_drift_events
        from tasks.connections import resolve_target
        from tasks.kube_tables import ensure_crd

        target = resolve_target("sandbox")
        ensure_crd.fn(target)
        ensure_drift_events.fn(target, PREFIX, QUEUE)  # what `python -m flows.events setup --queue QUEUE` makes
        api = client.CustomObjectsApi(sandbox.control_plane.api_client())
        client.CoreV1Api(sandbox.control_plane.api_client()).create_namespace({"metadata": {"name": NAMESPACE}})

        address = f"127.0.0.1:{free_port()}"
        home = Path(folder) / "controller"
        home.mkdir()
        controller = Controller(
            [sys.executable, "-m", "flows.watch", "-n", NAMESPACE, "--drift-events", QUEUE,
             "--reconcile-default-resync-seconds", "0", "--metrics-addr", address],
            flow_env(sandbox, home / "prefect"), Path(os.environ.get("BENCH_DRIFT_LOG") or home / "watch.log"))
        try:
            if not controller.wait(lambda: any(WATCHING in line for _, line in controller.lines), 240, "watching"):
                raise RuntimeError("the controller did not start watching within 240 s")
            names = [f"t{i:03d}" for i in range(TABLES)]
            for name in names:
                api.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, table(name, NAMESPACE))
            wait_synced(sandbox, NAMESPACE, names, timeout=300)
            time.sleep(3)  # the events of the controller's own calls (its tags) come and are dropped as its own

            ddb = _plain(sandbox, "dynamodb")
            arns = {name: ddb.describe_table(TableName=f"{NAMESPACE}-{name}")["Table"]["TableArn"] for name in names}
            events_before = _events(address)
            changed: dict[str, tuple[str, float]] = {}  # name -> (the call, when it returned)
            first_change = time.time()
            for i, name in enumerate(names):
                kind, change = _changes(ddb, f"{NAMESPACE}-{name}", arns[name], i)
                change()
                changed[name] = (kind, time.monotonic())
                time.sleep(INTERVAL)
            controller.wait(lambda: len(controller.done) >= len(changed), WAIT_SECONDS, "every remediation")
            time.sleep(POLL_SECONDS / 4)  # the remediations' own events come back and are dropped
            latency_calls = _own_calls(sandbox, first_change, time.time())
            events = {k: v - events_before.get(k, 0) for k, v in _events(address).items()
                      if v - events_before.get(k, 0)}

            idle_start = time.time()
            time.sleep(IDLE_SECONDS)
            idle_calls = _own_calls(sandbox, idle_start, time.time())
        finally:
            controller.stop(60)

        to_event, to_fixed, by_call, unremediated = [], [], {}, []
        for name, (kind, at) in changed.items():
            found, done = controller.found.get(name), controller.done.get(name)
            entry = by_call.setdefault(kind, {"changes": 0, "event": [], "fixed": []})
            entry["changes"] += 1
            if found:
                to_event.append(found[0] - at)
                entry["event"].append(found[0] - at)
            if done and done[1].split(": ", 1)[1].startswith("remediated"):
                to_fixed.append(done[0] - at)
                entry["fixed"].append(done[0] - at)
            else:
                unremediated.append({"table": name, "call": kind, "drift_line": found[1] if found else None,
                                     "result_line": done[1] if done else None})
        event_p50, event_p95 = _percentiles(to_event)
        fixed_p50, fixed_p95 = _percentiles(to_fixed)
        work = [c for c in latency_calls if c["operation"] != "ReceiveMessage"]
        print(json.dumps({
            "benchmark": "drift_latency", "changes": len(changed), "interval_s": INTERVAL, "trail_delay_s": trail_delay,
            "to_drift_event_p50_s": event_p50, "to_drift_event_p95_s": event_p95,
            "to_remediation_p50_s": fixed_p50, "to_remediation_p95_s": fixed_p95,
            "max_to_remediation_s": round(max(to_fixed), 2) if to_fixed else None,
            "by_call": {kind: {"changes": v["changes"], "to_drift_event_p50_s": _percentiles(v["event"])[0],
                               "to_remediation_p50_s": _percentiles(v["fixed"])[0]} for kind, v in by_call.items()},
            "drift_found": len(to_event), "remediated": len(to_fixed), "all_remediated": not unremediated,
            "not_remediated": unremediated[:10], "drift_events": events,
            "aws_calls_per_change": round(len(work) / max(1, len(changed)), 2),
            "aws_calls": _by_operation(latency_calls),
            "target_p50_s": TARGET_P50_S,
            "met": event_p50 is not None and event_p50 < TARGET_P50_S and not unremediated}), flush=True)
        made = _by_operation(idle_calls)
        receives = made.get("sqs:ReceiveMessage", 0)
        others = {op: n for op, n in made.items() if op != "sqs:ReceiveMessage"}
        print(json.dumps({
            "benchmark": "drift_events_idle", "idle_s": IDLE_SECONDS,
            "aws_calls_idle": len(idle_calls), "aws_calls_per_minute": round(len(idle_calls) * 60 / IDLE_SECONDS, 2),
            "by_operation": made, "calls_other_than_receive": sum(others.values()),
            "expected_per_minute": 60 / POLL_SECONDS,
            "met": not others and receives <= math.ceil(IDLE_SECONDS / POLL_SECONDS)}), flush=True)


if __name__ == "__main__":
    main()
