"""The deployments as users meet them, on a real `prefect server start`: `python -m deployments serve`
creates them (schedule, concurrency limit, UI forms, the watch's trigger), runs started through the API
complete, the drift report is readable through the API, the credentials blocks work, no secret reaches a
log or an artifact, and prefect.yaml deploys to a `process` work pool whose worker runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
)
from prefect.deployments import run_deployment

from ack.model import GROUP, PLURAL, VERSION
from controller.controller import WATCHING
from deployments.blocks import AWS_BLOCK, KUBERNETES_BLOCK
from flows.drift import REPORT_ARTIFACT
from tasks.kube_tables import ensure_crd
from tests.integration.prefect_server import (
    PREFECT,
    REPO,
    RUN_TIMEOUT,
    Process,
    child_env,
    client,
    logs,
    prefect_server,
    run,
    serving,
    wait_until,
)
from tests.integration.tables import Cluster, kubectl, manifest, simple_spec, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture(scope="module")
def server(home) -> str:
    with prefect_server(home) as url:
        yield url


@pytest.fixture(scope="module")
def served(server, home, sandbox) -> Process:
    with serving(server, home, sandbox.environ()) as serve:
        yield serve


@pytest.fixture(scope="module")
def cluster(target) -> Cluster:
    ensure_crd.fn(target)
    return Cluster(target)


def _namespace_with_table(cluster: Cluster, name: str = "orders") -> str:
    """A new namespace holding one Table resource, not reconciled yet."""
    namespace = unique("deployed")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    cluster.api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                manifest(name, simple_spec(unique(name)), namespace))
    return namespace


def _synced(cluster: Cluster, name: str, namespace: str) -> bool:
    condition = cluster.condition(name, "ACK.ResourceSynced", namespace)
    return bool(condition and condition["status"] == "True")


def _secrets(sandbox) -> list[str]:
    kubeconfig = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    return [sandbox.environ()["AWS_SECRET_ACCESS_KEY"], *(u["user"]["token"] for u in kubeconfig["users"])]


def test_drift_is_scheduled_every_ten_hours_without_a_concurrency_limit(server, served):
    """One run at a time is the drift lease's (test_sharded_drift.py); a limit would hold back a run's shards."""
    with client(server) as prefect:
        drift = prefect.read_deployment_by_name("drift/drift")
    assert [(s.schedule.interval, s.active) for s in drift.schedules] == [(timedelta(seconds=36000), True)]
    assert drift.global_concurrency_limit is None


def test_ui_started_deployments_have_forms_and_reconcile_on_change_has_its_trigger(server, served):
    with client(server) as prefect:
        for name in ("bootstrap/bootstrap", "teardown/teardown", "apply/apply", "reconcile/reconcile"):
            deployment = prefect.read_deployment_by_name(name)
            assert deployment.schedules == [], name
            form = deployment.parameter_openapi_schema
            assert form["definitions"]["Connection"]["properties"]["target"]["default"] == "sandbox", name
        drift_form = prefect.read_deployment_by_name("drift/drift").parameter_openapi_schema
        detect_only = drift_form["properties"]["detect_only"]
        assert detect_only["type"] == "boolean" and detect_only["default"] is False and detect_only["description"]
        on_change = prefect.read_deployment_by_name("reconcile/reconcile-on-change")
        [automation] = prefect.read_resource_related_automations(f"prefect.deployment.{on_change.id}")
    assert automation.enabled and automation.trigger.expect == {"ackflow.table.changed", "ackflow.backup.changed",
                                                                 "ackflow.fieldexport.changed"}
    assert automation.actions[0].deployment_id == on_change.id


def test_a_reconcile_run_started_through_the_api_syncs_the_tables(server, served, cluster):
    namespace = _namespace_with_table(cluster)
    run(server, "reconcile/reconcile", namespace=namespace)
    assert _synced(cluster, "orders", namespace)


def test_a_drift_run_leaves_its_report_readable_through_the_api(server, served, cluster):
    namespace = _namespace_with_table(cluster)
    run(server, "reconcile/reconcile", namespace=namespace)
    flow_run = run(server, "drift/drift", namespace=namespace, detect_only=True)
    with client(server) as prefect:
        [artifact] = prefect.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[REPORT_ARTIFACT]), flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run.id])))
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert [(row["namespace"], row["resource"], row["class"]) for row in rows] == [(namespace, "orders", "IN_SYNC")]


def test_a_bootstrap_run_started_through_the_api_completes(server, served):
    run(server, "bootstrap/bootstrap")


def test_the_blocks_command_saves_blocks_that_runs_can_name(server, served, home, sandbox, cluster):
    command = subprocess.run([sys.executable, "-m", "deployments", "blocks", "--dir", str(sandbox.folder)], cwd=REPO,
                             env=child_env(home, server), capture_output=True, text=True, timeout=120)
    assert command.returncode == 0, command.stderr
    assert command.stdout.splitlines() == [f"saved block aws-credentials/{AWS_BLOCK}",
                                           f"saved block kubernetes-credentials/{KUBERNETES_BLOCK}"]
    from prefect_aws import AwsCredentials

    with client(server):
        saved = AwsCredentials.load(AWS_BLOCK)
    assert saved.aws_client_parameters.endpoint_url == sandbox.environ()["AWS_ENDPOINT_URL"]

    namespace = _namespace_with_table(cluster)
    run(server, "reconcile/reconcile", namespace=namespace,
         connection={"target": "sandbox", "aws_credentials_block": AWS_BLOCK,
                     "kubernetes_credentials_block": KUBERNETES_BLOCK})
    assert _synced(cluster, "orders", namespace)


def test_a_watched_change_starts_reconcile_on_change(server, served, home, sandbox, cluster, tmp_path):
    namespace = unique("on-change")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    watch = Process([sys.executable, "-m", "flows.watch", "-n", namespace, "--emit-only"],
                    child_env(home, server, **sandbox.environ()), tmp_path / "watch.log")
    try:
        wait_until(lambda: WATCHING in watch.output(), "the watch", 120, watch)
        table = tmp_path / "table.yaml"
        table.write_text(yaml.safe_dump(manifest("events", simple_spec(unique("events")), namespace)))
        applied = kubectl(sandbox, "apply", "-f", str(table))
        assert applied.returncode == 0, applied.stderr
        wait_until(lambda: _synced(cluster, "events", namespace), "reconcile-on-change syncing the table",
                   RUN_TIMEOUT, watch, every=1)
        assert f"ADDED Table {namespace}/events (generation 1): event emitted" in watch.output()
    finally:
        assert watch.stop() == 0, watch.output()[-3000:]
    with client(server) as prefect:
        on_change = prefect.read_deployment_by_name("reconcile/reconcile-on-change")
        runs = prefect.read_flow_runs(flow_run_filter=FlowRunFilter(
            deployment_id=FlowRunFilterDeploymentId(any_=[on_change.id])))
    assert {"kind": "Table", "namespace": namespace, "name": "events"} in [run.parameters for run in runs]


def test_no_secret_reaches_a_log_or_an_artifact(server, served, sandbox):
    logs = []
    with client(server) as prefect:
        while page := prefect.read_logs(limit=200, offset=len(logs)):
            logs += page
        artifacts = prefect.read_artifacts()
    text = "\n".join([*(log.message for log in logs), *(json.dumps(a.data) + str(a.description) for a in artifacts)])
    assert logs and artifacts
    for secret in _secrets(sandbox):
        assert secret not in text


def test_prefect_yaml_deploys_to_a_process_work_pool_whose_worker_runs_them(server, served, home, sandbox, cluster):
    """Last: it replaces the served deployments (the same names), so serve stops first."""
    served.stop()
    env = child_env(home, server, **sandbox.environ())

    def prefect_command(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(PREFECT), *args], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    prefect_command("work-pool", "create", "ackflow", "--type", "process")
    prefect_command("--no-prompt", "deploy", "--all")
    with client(server) as prefect:
        drift = prefect.read_deployment_by_name("drift/drift")
        assert drift.work_pool_name == "ackflow" and drift.global_concurrency_limit is None
        assert [s.schedule.interval for s in drift.schedules] == [timedelta(seconds=36000)]
        assert prefect.read_deployment_by_name("reconcile/reconcile-on-change").work_pool_name == "ackflow"
    namespace = _namespace_with_table(cluster)
    with client(server):
        pending = run_deployment("reconcile/reconcile", parameters={"namespace": namespace}, timeout=0)
    prefect_command("worker", "start", "--pool", "ackflow", "--run-once", timeout=RUN_TIMEOUT)
    with client(server) as prefect:
        flow_run = prefect.read_flow_run(pending.id)
    assert flow_run.state.is_completed(), f"{flow_run.state}\n{logs(server, flow_run)[-4000:]}"
    assert _synced(cluster, "orders", namespace)
