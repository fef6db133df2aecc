"""Drift found in seconds: `python -m flows.events setup` makes the rule and queues, the sandbox's endpoint publishes
CloudTrail's events for DynamoDB's mutating calls, and `python -m flows.watch --drift-events QUEUE` checks each changed
table's resource at once: out-of-band changes fixed (or, detect-only, reported) with no scan; the controller's own
changes, and tables no resource owns, acted on never; a malformed message dead-lettered; nothing lost to a kill."""

from __future__ import annotations

import json
import re
import signal
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from ack.trail import dead_letter_queue, event_pattern
from sandbox.aws import set_faults
from sandbox.processes import free_port
from tasks.aws.drift_events import MAX_RECEIVES, delete_drift_events, ensure_drift_events
from tasks.kube_tables import ensure_crd
from tests.integration.iam_policies import TABLES_POLICY, outside
from tests.integration.prefect_server import Process, child_env, wait_until
from tests.integration.tables import CallCounter, Cluster, dynamodb, manifest, simple_spec, unique

PREFIX = "ackflow-demo"
SYNC_TIMEOUT = 120
SPEC = {"tags": [{"key": "team", "value": "platform"}], "timeToLive": {"attributeName": "expiresAt", "enabled": True},
        "continuousBackups": {"pointInTimeRecoveryEnabled": True}}


def _sqs(target):
    """The tests' own client (a plain one: its calls are not the project's)."""
    return boto3.session.Session().client("sqs", region_name=target.region, endpoint_url=target.aws_endpoint_url)


def _depth(target, queue: str) -> int:
    sqs = _sqs(target)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"])
    return sum(int(value) for value in attributes["Attributes"].values())


def _in_flight(target, queue: str) -> int:
    sqs = _sqs(target)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])[
        "Attributes"]["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture(scope="module")
def cluster(target) -> Cluster:
    ensure_crd.fn(target)
    return Cluster(target)


@pytest.fixture(scope="module")
def queue(target):
    name = unique("drift-events")
    rows = ensure_drift_events.fn(target, PREFIX, name)
    assert [row.action for row in rows] == ["created"] * 3, rows
    yield name
    delete_drift_events.fn(target, PREFIX, name)


class Controller:
    """`python -m flows.watch -n NAMESPACE --drift-events QUEUE`, no resync (nothing but the events can find drift)."""

    def __init__(self, sandbox, namespace: str, queue: str, folder: Path):
        self.metrics = f"127.0.0.1:{free_port()}"
        env = child_env(folder / "prefect-home", None, **sandbox.environ())
        self.process = Process([sys.executable, "-m", "flows.watch", "-n", namespace, "--drift-events", queue,
                                "--reconcile-default-resync-seconds", "0", "--metrics-addr", self.metrics], env,
                               folder / f"watch-{unique('log')}.log")
        try:
            wait_until(lambda: "checking the tables named by the drift events" in self.output(), "the controller",
                       180, self.process)
        except BaseException:
            self.process.stop()
            raise

    def output(self) -> str:
        return self.process.output()

    def events(self, outcome: str) -> float:
        with urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        found = re.search(rf'^ackflow_drift_events_total{{outcome="{outcome}"}} (\S+)$', text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module")
def namespace(cluster) -> str:
    name = unique("drift-events")
    cluster.core.create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture(scope="module")
def controller(sandbox, target, cluster, namespace, queue, tmp_path_factory):
    running = Controller(sandbox, namespace, queue, tmp_path_factory.mktemp("drift-events"))
    yield running
    running.process.stop()
    print(f"controller output: {running.process.log}")


def _create(cluster: Cluster, namespace: str, name: str, table: str, annotations: dict | None = None) -> None:
    cluster.api.create_namespaced_custom_object("dynamodb.services.k8s.aws", "v1alpha1", namespace, "tables",
                                                manifest(name, simple_spec(table, **SPEC), namespace, annotations))


def _synced(cluster: Cluster, name: str, namespace: str) -> str | None:
    condition = cluster.condition(name, "ACK.ResourceSynced", namespace)
    if condition and condition["status"] == "True":
        return cluster.get(name, namespace)["status"]["ackResourceMetadata"]["arn"]
    return None


def _live(target, table: str, arn: str) -> dict:
    ddb = dynamodb(target)
    return {"tags": {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]},
            "ttl": ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"],
            "pitr": ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
                "PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"],
            "billing": ddb.describe_table(TableName=table)["Table"].get("BillingModeSummary", {}).get("BillingMode")}


def _drift_record(cluster: Cluster, name: str, namespace: str) -> dict:
    return (cluster.get(name, namespace).get("status") or {}).get("lastDriftCheck") or {}


@pytest.mark.integration
def test_setup_makes_the_rule_and_queues_once(sandbox, target, queue, tmp_path):
    env = child_env(tmp_path / "prefect-home", None, **sandbox.environ())
    again = Process([sys.executable, "-m", "flows.events", "setup", "--queue", queue], env, tmp_path / "setup.log")
    assert again.popen.wait(180) == 0, again.output()
    assert "3 found: nothing to change" in again.output()
    events = boto3.session.Session().client("events", region_name=target.region, endpoint_url=target.aws_endpoint_url)
    rule = events.describe_rule(Name=queue)
    assert json.loads(rule["EventPattern"]) == event_pattern() and rule["State"] == "ENABLED"
    [rule_target] = events.list_targets_by_rule(Rule=queue)["Targets"]
    assert rule_target["Arn"].endswith(f":{queue}")
    sqs = _sqs(target)
    attributes = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"],
                                          AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{dead_letter_queue(queue)}")
    assert int(redrive["maxReceiveCount"]) == MAX_RECEIVES
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == rule["Arn"]
    tags = sqs.list_queue_tags(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])["Tags"]
    assert tags["ackflow.dev/bootstrap"] == PREFIX


@pytest.mark.integration
def test_out_of_band_changes_are_found_and_fixed_without_a_scan(controller, sandbox, target, cluster, namespace):
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    table = unique("evented")
    _create(cluster, namespace, "fixed", table)
    arn = wait_until(lambda: _synced(cluster, "fixed", namespace), "the Table synced", SYNC_TIMEOUT, controller.process)
    wanted = {"tags": {"team": "platform"}, "ttl": "ENABLED", "pitr": "ENABLED", "billing": "PAY_PER_REQUEST"}
    assert {**_live(target, table, arn), "tags": {"team": "platform"}} == wanted

    ddb = dynamodb(target)  # someone with the console, say: not the controller
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "cost-center", "Value": "oops"}])
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"AttributeName": "expiresAt", "Enabled": False})
    ddb.update_continuous_backups(TableName=table,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    ddb.update_table(TableName=table, BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})

    def fixed() -> bool:
        live = _live(target, table, arn)
        return "cost-center" not in live["tags"] and {k: v for k, v in live.items() if k != "tags"} == {
            k: v for k, v in wanted.items() if k != "tags"}

    wait_until(fixed, "every out-of-band change undone", SYNC_TIMEOUT, controller.process)
    key = f"Table {namespace}/fixed"
    wait_until(lambda: f"{key}: remediated (" in controller.output(), "the remediation's line", 30, controller.process)
    assert re.search(rf"{re.escape(key)}: DRIFTED \(.*\) after \w+ by arn:aws:iam::\d+:root: remediating",
                     controller.output())
    assert _drift_record(cluster, "fixed", namespace)["class"] == "REMEDIATED"
    made = {f"{c['service']}:{c['operation']}" for c in calls.entries() if c["app"] == "ackflow"}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:UntagResource"} <= made
    assert outside(calls.entries(), TABLES_POLICY) == []  # the controller's role suffices for the events too


@pytest.mark.integration
def test_detect_only_reports_and_changes_nothing(controller, target, cluster, namespace):
    table = unique("watched-only")
    _create(cluster, namespace, "reported", table, {"ackflow.dev/drift-policy": "detect-only"})
    arn = wait_until(lambda: _synced(cluster, "reported", namespace), "the Table synced", SYNC_TIMEOUT,
                     controller.process)
    dynamodb(target).tag_resource(ResourceArn=arn, Tags=[{"Key": "cost-center", "Value": "kept"}])
    key = f"Table {namespace}/reported"
    wait_until(lambda: f"{key}: DRIFTED (spec.tags[byKey:cost-center]) after TagResource" in controller.output(),
               "the drift reported", 60, controller.process)
    assert f"{key}: DRIFTED (spec.tags[byKey:cost-center]) after TagResource by " in controller.output()
    assert "reported (detect-only)" in controller.output().split(f"{key}: DRIFTED")[1].splitlines()[0]
    record = _drift_record(cluster, "reported", namespace)
    assert record["class"] == "DRIFTED" and [d["path"] for d in record["differences"]] == ["spec.tags[byKey:cost-center]"]
    time.sleep(3)  # nothing comes to undo it
    assert _live(target, table, arn)["tags"]["cost-center"] == "kept"


@pytest.mark.integration
def test_the_controllers_own_changes_cause_no_second_reconcile(controller, target, cluster, namespace):
    _create(cluster, namespace, "own", unique("own"))
    wait_until(lambda: _synced(cluster, "own", namespace), "the Table synced", SYNC_TIMEOUT, controller.process)
    own_before = controller.events("own")
    cluster.api.patch_namespaced_custom_object("dynamodb.services.k8s.aws", "v1alpha1", namespace, "tables", "own", {
        "spec": {"tags": [{"key": "team", "value": "platform"}, {"key": "tier", "value": "gold"}]}})
    key = f"Table {namespace}/own"
    wait_until(lambda: controller.output().count(f"{key}: Synced") == 2, "the change reconciled", SYNC_TIMEOUT,
               controller.process)
    # Its TagResource comes back as an event (after the sandbox's delivery lag), recognised as its own.
    wait_until(lambda: controller.events("own") > own_before, "the controller's own event read", 30,
               controller.process)
    time.sleep(2)
    assert controller.output().count(f"{key}: Synced") == 2
    assert f"{key}: DRIFTED" not in controller.output()


@pytest.mark.integration
def test_a_change_to_a_table_no_resource_owns_changes_nothing(controller, target, cluster):
    table = unique("stray")
    ddb = dynamodb(target)
    arn = ddb.create_table(TableName=table, AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                           KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                           BillingMode="PAY_PER_REQUEST")["TableDescription"]["TableArn"]
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "cost-center", "Value": "theirs"}])
    wait_until(lambda: f"TagResource on table {table} (" in controller.output(), "the event read", 60,
               controller.process)
    assert "no Table resource owns it: UNMANAGED activity, not acted on" in \
        controller.output().split(f"TagResource on table {table} (")[1].splitlines()[0]
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "cost-center", "Value": "theirs"}]
    assert controller.events("unmanaged") >= 1


@pytest.mark.integration
def test_a_malformed_message_is_dead_lettered_and_the_queue_drains(controller, target, queue):
    sqs = _sqs(target)
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"], MessageBody='{"detail": "no record"}')
    dead_letters = sqs.get_queue_url(QueueName=dead_letter_queue(queue))["QueueUrl"]

    def dead_lettered() -> list[dict]:
        return sqs.receive_message(QueueUrl=dead_letters, MessageAttributeNames=["All"], WaitTimeSeconds=1,
                                   VisibilityTimeout=0).get("Messages", [])

    [message] = wait_until(dead_lettered, "the message in the dead-letter queue", 60, controller.process)
    assert message["Body"] == '{"detail": "no record"}'
    assert "no `detail` object" in message["MessageAttributes"]["ackflow-error"]["StringValue"]
    wait_until(lambda: _depth(target, queue) == 0, "the queue empty", 60, controller.process)
    assert controller.events("malformed") == 1


@pytest.mark.integration
def test_a_killed_controller_loses_no_message(sandbox, target, cluster, tmp_path, request):
    """SIGKILL while messages are being handled (AWS failing the checks, so that they are); the next controller handles
    every one of them, once their visibility times out."""
    name = unique("drift-kill")
    assert [row.action for row in ensure_drift_events.fn(target, PREFIX, name)] == ["created"] * 3
    try:
        namespace = unique("drift-kill")
        cluster.core.create_namespace({"metadata": {"name": namespace}})
        tables = {f"t{i}": unique(f"kill{i}") for i in range(12)}
        for resource, table in tables.items():
            _create(cluster, namespace, resource, table, {"ackflow.dev/drift-policy": "detect-only"})
        first = Controller(sandbox, namespace, name, tmp_path)
        request.addfinalizer(first.process.stop)  # killed below; stopped here too if the test fails before that
        arns = {resource: wait_until(lambda r=resource: _synced(cluster, r, namespace), "the Tables synced",
                                     SYNC_TIMEOUT, first.process) for resource in tables}
        time.sleep(3)  # the controller's own calls' events, after the sandbox's delivery lag: read, and ignored
        wait_until(lambda: _depth(target, name) == 0, "the controller's own events drained", 60, first.process)
        ddb = dynamodb(target)
        for resource, arn in arns.items():
            ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "cost-center", "Value": "oops"}])
        # AWS failing the checks' reads keeps the messages in flight (a failed check leaves its message) for the kill.
        set_faults(target.aws_endpoint_url, sandbox.aws.access_key_id, "dynamodb:DescribeContinuousBackups=error:1")
        try:
            wait_until(lambda: "the event comes back" in first.output(), "a check failing", 60, first.process)
            assert _in_flight(target, name) > 0
            first.process.stop(signal.SIGKILL)
        finally:
            set_faults(target.aws_endpoint_url, sandbox.aws.access_key_id, "")

        def reported(output: str) -> set[str]:
            return {r for r in tables
                    if f"Table {namespace}/{r}: DRIFTED (spec.tags[byKey:cost-center]) after TagResource" in output}

        before = reported(first.output())
        assert len(before) < len(tables), "every message was handled before the kill: nothing was in flight"
        second = Controller(sandbox, namespace, name, tmp_path)
        try:
            # Those handled before the kill may be reconciled at the restart (drift left them not synced); the others
            # come back to the new controller, those in flight once their visibility times out.
            wait_until(lambda: reported(second.output()) >= set(tables) - before,
                       "every change not reported before the kill reported after the restart", 120, second.process)
            wait_until(lambda: _depth(target, name) == 0, "the queue empty", 60, second.process)
        finally:
            second.process.stop()
    finally:
        delete_drift_events.fn(target, PREFIX, name)


@pytest.mark.integration
def test_remove_deletes_the_rule_and_queues_and_a_second_finds_nothing(sandbox, target, tmp_path):
    name = unique("drift-remove")
    env = child_env(tmp_path / "prefect-home", None, **sandbox.environ())

    def events(*args: str) -> str:
        run = Process([sys.executable, "-m", "flows.events", *args, "--queue", name], env,
                      tmp_path / f"{unique('events')}.log")
        assert run.popen.wait(180) == 0, run.output()
        return run.output()

    assert "3 created" in events("setup")
    assert "Plan: 3 to delete, 0 unchanged." in events("remove", "--plan")
    assert "3 deleted" in events("remove")
    assert "3 absent" in events("remove")
    sqs = _sqs(target)
    assert not sqs.list_queues(QueueNamePrefix=name).get("QueueUrls")
    events_client = boto3.session.Session().client("events", region_name=target.region,
                                                   endpoint_url=target.aws_endpoint_url)
    assert events_client.list_rules(NamePrefix=name)["Rules"] == []


@pytest.mark.integration
def test_a_queue_that_does_not_exist_is_one_line_saying_how_to_make_it(sandbox, tmp_path):
    env = child_env(tmp_path / "prefect-home", None, **sandbox.environ())
    run = Process([sys.executable, "-m", "flows.watch", "-n", "default", "--drift-events", "no-such-queue"], env,
                  tmp_path / "watch.log")
    assert run.popen.wait(120) == 1
    assert run.output().strip().splitlines() == [
        "watch failed: --drift-events: the queue 'no-such-queue' does not exist in us-east-1: make it with "
        "`python -m flows.events setup --queue no-such-queue` (the bootstrap makes ackflow-drift-events)"]
