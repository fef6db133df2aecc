"""A real `prefect server start` on loopback and `python -m deployments serve` against it, for the tests
that need what users meet: deployments, runs started through the API, artifacts, the UI.

The session's `prefect_api` fixture points this test process at a test harness; these helpers talk to their
own server explicitly (`client()`) and give every child process its environment explicitly (`child_env`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from sandbox.processes import free_port

REPO = Path(__file__).resolve().parents[2]
PREFECT = Path(sys.executable).with_name("prefect")
NO_TELEMETRY = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
RUN_TIMEOUT = 300
SERVED = {"drift/drift", "bootstrap/bootstrap", "teardown/teardown", "apply/apply", "reconcile/reconcile",
          "reconcile/reconcile-on-change"}


def child_env(home: Path, api_url: str | None, **extra: str) -> dict[str, str]:
    """This process's environment without any Prefect setting of the harness, plus our own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(NO_TELEMETRY, PREFECT_HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


class Process:
    """A child process in a session of its own, with its output in a file; stop() ends all of that session."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self, what: str) -> None:
        if self.popen.poll() is not None:
            raise AssertionError(f"{what} exited with {self.popen.returncode}:\n{self.output()[-3000:]}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the process (its children follow it: serve and the server stop theirs), then end whatever
        of its session is left."""
        if self.popen.poll() is None:
            self.popen.send_signal(signum)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # the session this Process started, nothing else
        except ProcessLookupError:
            pass
        return self.popen.wait()


def wait_until(check, what: str, timeout: float, process: Process | None = None, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        if result := check():
            return result
        if process is not None:
            process.check_alive(what)
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s"
                                 + (f"\n{process.output()[-3000:]}" if process else ""))
        time.sleep(every)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.read().strip() == b"true"
    except OSError:
        return False


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """`prefect server start` on 127.0.0.1 with its own PREFECT_HOME (its own SQLite database); yields the API URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    server = Process([str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                     child_env(home, None, PREFECT_UI_API_URL=url), home / "server.log")  # else the UI calls :4200
    try:
        wait_until(lambda: _healthy(url), "prefect server start", 240, server, every=1)
        yield url
    finally:
        server.stop()


@contextmanager
def client(url: str) -> Iterator[SyncPrefectClient]:
    """A client of our server (not the harness's), with the settings run_deployment and blocks read."""
    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as prefect:
        yield prefect


@contextmanager
def serving(url: str, home: Path, env: dict[str, str]) -> Iterator[Process]:
    """`python -m deployments serve`, once all its deployments exist on the server."""
    serve = Process([sys.executable, "-m", "deployments", "serve"],
                    child_env(home, url, PREFECT_RUNNER_POLL_FREQUENCY="1", **env), home / "serve.log")
    try:
        def all_deployed() -> bool:
            with client(url) as prefect:
                names = {f"{d.name}" for d in prefect.read_deployments()}
            return {name.split("/")[1] for name in SERVED} <= names

        wait_until(all_deployed, "python -m deployments serve", 180, serve, every=1)
        yield serve
    finally:
        serve.stop()


def logs(url: str, flow_run: FlowRun) -> str:
    with client(url) as prefect:
        records = prefect.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run.id])), limit=200)
    return "\n".join(record.message for record in records)


def run(url: str, deployment: str, **parameters: Any) -> FlowRun:
    """Start a run as the UI's "Run" button does, and wait until it is final: it must be Completed."""
    with client(url):
        flow_run = run_deployment(deployment, parameters=parameters, timeout=RUN_TIMEOUT, poll_interval=1)
    assert flow_run.state and flow_run.state.is_completed(), \
        f"{deployment}: {flow_run.state}\n{logs(url, flow_run)[-4000:]}"
    return flow_run
