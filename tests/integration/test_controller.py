"""`python -m flows.watch` as the controller, on a sandbox of its own (index backfills take 60 s there) and a real
`prefect server`: many Tables at once, a backfill that holds up nothing else, recovery from failing AWS calls
with growing backoff, leader election through a kill -9, `kubectl wait`, and /metrics."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from ack.conditions import is_synced
from ack.model import GROUP, PLURAL, VERSION
from controller.controller import WATCHING
from sandbox.processes import free_port
from sandbox.stack import Sandbox
from tasks.connections import Target, resolve_target
from tests.conftest import NO_RATE_LIMITS
from tests.integration.prefect_server import REPO, Process, child_env, prefect_server, wait_until
from tests.integration.tables import CallCounter, describe, kubectl, manifest, simple_spec, unique

pytestmark = pytest.mark.integration
INDEX_DELAY = 60


@dataclass
class Stack:
    sandbox: Sandbox
    target: Target
    prefect_url: str
    folder: Path

    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.target.kube_api())

    def tables(self, namespace: str) -> list[dict[str, Any]]:
        api = client.CustomObjectsApi(self.target.kube_api())
        return api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]

    def synced(self, namespace: str) -> set[str]:
        """The resources whose status says Synced at their current generation."""
        return {t["metadata"]["name"] for t in self.tables(namespace)
                if is_synced((t.get("status") or {}).get("conditions"))
                and t["status"].get("observedGeneration") == t["metadata"]["generation"]}

    def namespace(self, prefix: str) -> str:
        name = unique(prefix)
        self.core().create_namespace({"metadata": {"name": name}})
        return name

    def apply(self, resources: list[dict[str, Any]]) -> None:
        path = self.folder / f"{unique('manifests')}.yaml"
        path.write_text(yaml.safe_dump_all(resources))
        applied = kubectl(self.sandbox, "apply", "-f", str(path))
        assert applied.returncode == 0, applied.stderr

    def calls(self) -> CallCounter:
        return CallCounter(self.target, self.sandbox.aws.access_key_id)

    def watch(self, namespace: str, *flags: str, ready: str = WATCHING) -> Process:
        """The controller, as a person starts it, sending its runs to the stack's Prefect server."""
        name = unique("watch")
        (self.folder / name).mkdir()
        env = child_env(self.folder / name, self.prefect_url, **self.sandbox.environ())
        process = Process([sys.executable, "-m", "flows.watch", "-n", namespace, *flags], env,
                          self.folder / f"{name}.log")
        wait_until(lambda: ready in process.output(), "the controller starting", 180, process)
        return process

    def faults(self, spec: str) -> None:
        """`python -m flows.sandbox --faults SPEC`, as a person makes AWS fail for a while."""
        changed = subprocess.run([sys.executable, "-m", "flows.sandbox", "--dir", str(self.sandbox.folder),
                                  "--faults", spec], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert changed.returncode == 0, changed.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory, prefect_api) -> Stack:
    folder = tmp_path_factory.mktemp("controller")
    saved = dict(os.environ)
    with Sandbox(folder / "sandbox", aws_env={**NO_RATE_LIMITS, "SANDBOX_AWS_INDEX_DELAY": str(INDEX_DELAY)}) as sb:
        os.environ.update(sb.environ())
        try:
            (folder / "prefect").mkdir()
            with prefect_server(folder / "prefect") as url:
                yield Stack(sb, resolve_target("sandbox"), url, folder)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def metrics(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The controller's /metrics: {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metric(samples: dict, sample: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == sample and set(labels.items()) <= set(ls))


def tables_spec(prefix: str, count: int, namespace: str) -> list[dict[str, Any]]:
    return [manifest(f"t{i}", simple_spec(f"{prefix}-{i}"), namespace) for i in range(count)]


def ready(url: str) -> bool:
    """Whether `url` answers 200: not yet while the server is not up (refused) or not ready (503)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except urllib.error.URLError:  # HTTPError (503) is one too
        return False


def test_fifty_tables_applied_at_once_are_each_created_once(stack: Stack):
    namespace = stack.namespace("fifty")
    address = f"127.0.0.1:{free_port()}"
    watch = stack.watch(namespace, "--metrics-addr", address)
    try:
        wait_until(lambda: ready(f"http://{address}/readyz"), "/readyz", 60, watch)
        prefix = unique("fifty")
        stack.apply(tables_spec(prefix, 50, namespace))
        wait_until(lambda: len(stack.synced(namespace)) == 50, "50 Tables synced", 300, watch, every=1)

        created = Counter(c["table"] for c in stack.calls().entries()
                          if c["operation"] == "CreateTable" and c["table"].startswith(prefix))
        assert created == {f"{prefix}-{i}": 1 for i in range(50)}
        waited = kubectl(stack.sandbox, "wait", "--for=condition=Ready", "table/t7", "-n", namespace, "--timeout=60s")
        assert waited.returncode == 0 and "condition met" in waited.stdout, waited.stderr

        samples = metrics(address)
        assert metric(samples, "controller_runtime_reconcile_total", result="success") >= 50
        assert metric(samples, "controller_runtime_max_concurrent_reconciles") == 4
        assert metric(samples, "workqueue_adds_total", name="table") >= 100  # queued, then requeued while CREATING
        assert metric(samples, "ack_outbound_api_requests_total", op_id="CreateTable") == 50
        with urllib.request.urlopen(f"http://{address}/healthz", timeout=5) as health:
            assert health.read() == b"ok\n"
    finally:
        watch.stop()


def test_an_index_backfill_holds_up_no_other_table(stack: Stack):
    namespace = stack.namespace("backfill")
    watch = stack.watch(namespace)
    try:
        slow, quick = unique("slow"), unique("quick")
        spec = simple_spec(slow, attributeDefinitions=[{"attributeName": "id", "attributeType": "S"},
                                                       {"attributeName": "state", "attributeType": "S"}])
        stack.apply([manifest("slow", simple_spec(slow), namespace)])
        wait_until(lambda: "slow" in stack.synced(namespace), "the first table synced", 120, watch)
        spec["globalSecondaryIndexes"] = [{"indexName": "by-state", "projection": {"projectionType": "ALL"},
                                           "keySchema": [{"attributeName": "state", "keyType": "HASH"}]}]
        stack.apply([manifest("slow", spec, namespace)])

        def backfilling() -> bool:
            indexes = describe(stack.target, slow).get("GlobalSecondaryIndexes", [])
            return bool(indexes) and indexes[0]["IndexStatus"] == "CREATING"

        wait_until(backfilling, "the index backfill", 60, watch)
        stack.apply([manifest("quick", simple_spec(quick), namespace)])
        wait_until(lambda: "quick" in stack.synced(namespace), "a table applied during the backfill", 50, watch)
        assert backfilling(), "the backfill (60 s) ended before the other table synced"
        assert "slow" not in stack.synced(namespace)
        wait_until(lambda: "slow" in stack.synced(namespace), "the table with the new index", 180, watch, every=2)
        assert describe(stack.target, slow)["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    finally:
        watch.stop()


def test_a_failing_create_is_retried_with_growing_backoff_until_it_succeeds(stack: Stack):
    namespace = stack.namespace("recover")
    address = f"127.0.0.1:{free_port()}"
    watch = stack.watch(namespace, "--metrics-addr", address)
    table = unique("recover")
    try:
        stack.faults("dynamodb:CreateTable=error:1.0")
        stack.apply([manifest("flaky", simple_spec(table), namespace)])
        line = re.compile(rf"{namespace}/flaky: requeued in (\d+(?:\.\d+)?) s \(InternalServerError\)")
        wait_until(lambda: len(line.findall(watch.output())) >= 4, "four failed attempts", 120, watch)
        delays = [float(d) for d in line.findall(watch.output())]
        assert delays[:4] == [1, 2, 4, 8], delays  # the backoff doubles with each failure in a row
        condition = next(c for c in stack.tables(namespace)[0]["status"]["conditions"]
                         if c["type"] == "ACK.Recoverable")
        assert condition["status"] == "True" and condition["reason"] == "InternalServerError"
        samples = metrics(address)
        assert metric(samples, "workqueue_retries_total", name="table") >= 4
        assert metric(samples, "controller_runtime_reconcile_total", result="error") >= 4
        assert metric(samples, "ack_outbound_api_requests_error_total", op_id="CreateTable",
                      error_code="InternalServerError") >= 4

        stack.faults("")  # AWS recovers; nobody edits the resource
        wait_until(lambda: "flaky" in stack.synced(namespace), "the table synced after the faults", 120, watch)
        attempts = [c["status"] for c in stack.calls().entries()
                    if c["operation"] == "CreateTable" and c["table"] == table]
        assert attempts.count(200) == 1 and len(attempts) > 4  # many refused, one made
        status = stack.tables(namespace)[0]["status"]
        assert {c["type"] for c in status["conditions"]} >= {"ACK.ResourceSynced", "Ready"}
        assert "ACK.Recoverable" not in {c["type"] for c in status["conditions"]}
    finally:
        stack.faults("")
        watch.stop()


def test_with_leader_election_one_controller_works_and_another_takes_over_after_kill_9(stack: Stack):
    namespace = stack.namespace("leader")
    election = ("--enable-leader-election", "--leader-election-namespace", namespace)
    first = stack.watch(namespace, *election, ready="leader election: ")
    wait_until(lambda: " leads (lease " in first.output(), "the first controller leading", 60, first)
    second = stack.watch(namespace, *election, ready="leader election: waiting")
    try:
        assert WATCHING not in second.output()  # a candidate does not reconcile
        prefix = unique("leader")
        stack.apply(tables_spec(prefix, 40, namespace))
        wait_until(lambda: len(stack.synced(namespace)) >= 5, "the leader at work", 120, first)
        first.stop(signal.SIGKILL)  # mid-burst: no chance to release the lease

        wait_until(lambda: " leads (lease " in second.output(), "the second controller taking over", 60, second)
        wait_until(lambda: len(stack.synced(namespace)) == 40, "the burst finished by the new leader", 300, second,
                   every=1)
        created = Counter(c["table"] for c in stack.calls().entries()
                          if c["operation"] == "CreateTable" and c["table"].startswith(prefix))
        assert created == {f"{prefix}-{i}": 1 for i in range(40)}
    finally:
        first.stop()
        assert second.stop(signal.SIGTERM) == 0, second.output()[-3000:]
    lease = client.CoordinationV1Api(stack.target.kube_api()).read_namespaced_lease("ackflow-controller", namespace)
    assert not lease.spec.holder_identity  # released on SIGTERM: a next leader need not wait
