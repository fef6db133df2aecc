"""Drift spread over machines: `drift --shard-by namespace|account` runs one child run of the `drift` deployment per
shard, which a process work pool with two workers spreads over them; the parent gathers one report, and it is the
single run's. One drift run at a time is the drift lease's work."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from ack.placement import ACCOUNT_MAP, OWNER_ACCOUNT
from flows import drift as drift_flow
from flows.drift import DRIFT_LEASE, drift
from tasks.kube_lease import held
from tests.integration.prefect_server import PREFECT, REPO, Process, child_env, prefect_server, wait_until
from tests.integration.prefect_server import client as prefect_client
from tests.integration.tables import apply, dynamodb, manifest, simple_spec, unique

pytestmark = pytest.mark.integration
ACCOUNT_B = "111122223333"


@pytest.fixture(scope="module")
def pool(tmp_path_factory, sandbox, target) -> Iterator[tuple[str, list[Process]]]:
    """Our own `prefect server`, the project's deployments in the process work pool `ackflow` (prefect.yaml), and two
    workers of it."""
    folder = tmp_path_factory.mktemp("shards")
    (folder / "server").mkdir()
    with prefect_server(folder / "server") as url:
        env = child_env(folder / "home", url, PREFECT_WORKER_QUERY_SECONDS="1", **sandbox.environ())
        for command in (["work-pool", "create", "ackflow", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
            done = subprocess.run([str(PREFECT), *command], cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        workers = [Process([str(PREFECT), "worker", "start", "--pool", "ackflow", "--name", f"worker-{n}"], env,
                           folder / f"worker-{n}.log") for n in range(2)]
        try:
            yield url, workers
        finally:
            for worker in workers:
                worker.stop()


@pytest.fixture(scope="module")
def estate(target) -> dict[str, Any]:
    """Three namespaces (one in another account), their tables labelled for these tests, one drifted out of band and
    one left behind by a resource deleted with retain."""
    core = client.CoreV1Api(target.kube_api())
    label = unique("shard")
    controller = unique("ack-system")
    core.create_namespace({"metadata": {"name": controller}})
    core.create_namespaced_config_map(controller, {"metadata": {"name": ACCOUNT_MAP},
                                                   "data": {ACCOUNT_B: f"arn:aws:iam::{ACCOUNT_B}:role/ack"}})
    namespaces = [unique("shard-a"), unique("shard-b"), unique("shard-c")]
    core.create_namespace({"metadata": {"name": namespaces[0]}})
    core.create_namespace({"metadata": {"name": namespaces[1], "annotations": {OWNER_ACCOUNT: ACCOUNT_B}}})
    core.create_namespace({"metadata": {"name": namespaces[2]}})
    manifests = []
    for namespace in namespaces:
        for n in range(2):
            table = unique("sharded")
            resource = manifest(table, simple_spec(table, tags=[{"key": "team", "value": "a"}]), namespace)
            resource["metadata"]["labels"] = {"drift-test": label}
            manifests.append(resource)
    outcomes = apply(manifests, controller_namespace=controller)
    assert {o.state for o in outcomes} == {"Synced"}, outcomes
    drifted = manifests[0]["spec"]["tableName"]
    arn = dynamodb(target).describe_table(TableName=drifted)["Table"]["TableArn"]
    dynamodb(target).untag_resource(ResourceArn=arn, TagKeys=["team"])
    return {"label": f"drift-test={label}", "controller": controller, "namespaces": namespaces, "drifted": drifted}


def rows_of(path: Path) -> set[tuple[str, ...]]:
    return {tuple(str(row[column]) for column in sorted(row)) for row in json.loads(path.read_text())}


@pytest.mark.parametrize("shard_by", ["namespace", "account"])
def test_a_sharded_run_reports_what_the_single_run_reports(pool, estate, tmp_path, shard_by):
    url, workers = pool
    options = {"label_selector": estate["label"], "detect_only": True, "controller_namespace": estate["controller"]}
    with prefect_client(url) as prefect:
        single = drift(report_path=str(tmp_path / "single.json"), **options)
        sharded = drift(report_path=str(tmp_path / "sharded.json"), shard_by=shard_by, **options)
        children = [run for run in prefect.read_flow_runs() if (run.parameters or {}).get("shard_of")]
    assert rows_of(tmp_path / "sharded.json") == rows_of(tmp_path / "single.json")
    assert (sharded.counts, sharded.drift_found, sharded.failures) == (single.counts, single.drift_found, 0)
    assert single.counts["DRIFTED"] == 1 and single.counts["IN_SYNC"] == 5
    accounts = {row["account"] for row in json.loads((tmp_path / "single.json").read_text())}
    assert accounts == {"123456789012", ACCOUNT_B}
    mine = [run for run in children if run.parameters.get("label_selector") == estate["label"]]
    shards = {run.parameters.get("namespace") or run.parameters.get("account") for run in mine}
    expected = set(estate["namespaces"]) if shard_by == "namespace" else {"123456789012", ACCOUNT_B}
    assert expected <= shards
    assert all(run.state.is_completed() for run in mine)


def test_a_shard_that_never_ran_is_reported_as_failed_not_dropped(pool, estate, tmp_path, monkeypatch):
    url, workers = pool
    for worker in workers:  # nobody takes the shards' runs now
        worker.stop()
    monkeypatch.setattr(drift_flow, "SHARD_START_SECONDS", 3.0)
    with prefect_client(url):
        result = drift(label_selector=estate["label"], detect_only=True, controller_namespace=estate["controller"],
                       shard_by="namespace", timeout_seconds=1, report_path=str(tmp_path / "r.json"))
    failed = [row for row in json.loads((tmp_path / "r.json").read_text()) if row["action"] == "failed"]
    assert {row["namespace"] for row in failed} == set(estate["namespaces"])
    assert all(row["class"] == "ERROR" and "nothing of it was checked" in row["message"] for row in failed)
    assert result.failures == 3


def test_sharding_where_no_drift_deployment_exists_fails_at_once_saying_what_to_do(target, estate):
    """The tests' own Prefect API has no deployments: the run says so before it starts any shard."""
    with pytest.raises(RuntimeError, match=r"--shard-by: the Prefect API has no deployment drift/drift .*deploy it"):
        drift(label_selector=estate["label"], detect_only=True, controller_namespace=estate["controller"],
              shard_by="namespace")


def test_the_command_says_so_in_one_line_and_exits_1(target, estate, capsys):
    assert drift_flow.main(["--shard-by", "namespace", "-l", estate["label"]]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "drift: --shard-by: the Prefect API has no deployment drift/drift")


def test_one_drift_run_at_a_time_the_second_waits_for_the_lease(target, estate):
    released = threading.Event()
    finished: list[float] = []

    def hold() -> None:
        with held(target, DRIFT_LEASE):
            time.sleep(3)
            released.set()
            finished.append(time.monotonic())

    holder = threading.Thread(target=hold)
    holder.start()
    wait_until(lambda: lease_held(target), "the lease taken", 30)
    drift(label_selector=estate["label"], detect_only=True, controller_namespace=estate["controller"])
    done = time.monotonic()
    holder.join()
    assert released.is_set() and finished[0] <= done  # the run ended only after the lease was given back


def lease_held(target) -> bool:
    try:
        lease = client.CoordinationV1Api(target.kube_api()).read_namespaced_lease(DRIFT_LEASE, "default")
    except client.ApiException:
        return False
    return bool(lease.spec.holder_identity)
