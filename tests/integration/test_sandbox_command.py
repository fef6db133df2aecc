"""`python -m flows.sandbox` as a user runs it: ready line, env file, kubectl, boto3, Ctrl-C, clear errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.controlplane import GET_SCRIPT
from sandbox.processes import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _sandbox_command(folder: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flows.sandbox", "--dir", str(folder), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _in_sourced_shell(folder: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run `command` in a shell that did `source DIR/env`, with no AWS or kube settings of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG"))}
    return subprocess.run(["bash", "-c", f"source {folder}/env && {command}"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_sandbox_command_serves_until_interrupted(tmp_path):
    folder = tmp_path / "sb"
    proc = _sandbox_command(folder)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "ready" in line:
                break
        assert any("ready" in line for line in lines), proc.stderr.read() if proc.poll() is not None else lines
        assert {"env", "kubeconfig"} <= {p.name for p in folder.iterdir()}

        kubectl = _in_sourced_shell(folder, ".sandbox/bin/kubectl get namespaces".replace(".sandbox", str(folder)))
        assert kubectl.returncode == 0 and "kube-system" in kubectl.stdout, kubectl.stderr
        viewer = _in_sourced_shell(folder, f"{folder}/bin/kubectl --context sandbox-viewer create namespace x")
        assert viewer.returncode != 0 and "Forbidden" in viewer.stderr
        aws = _in_sourced_shell(
            folder,
            f"{sys.executable} -c 'import boto3; c = boto3.client(\"dynamodb\"); "
            "print(c.meta.endpoint_url, c.list_tables()[\"TableNames\"])'",
        )
        assert aws.returncode == 0, aws.stderr
        assert aws.stdout.startswith("http://127.0.0.1:") and "[]" in aws.stdout
        _faults_change_at_once(folder)

        children = _children(proc.pid)
        assert len(children) >= 3  # etcd, kube-apiserver, the AWS endpoint
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert not [pid for pid in children if _alive(pid)], "processes left running after Ctrl-C"
        assert not (folder / "env").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _sandbox_command(tmp_path / "sb", "--apiserver-port", str(port))
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in err
    assert "Traceback" not in err


def test_a_second_sandbox_from_the_same_folder_is_refused(tmp_path, sandbox):
    proc = _sandbox_command(sandbox.folder, "--aws-port", str(free_port()))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "already running" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "stub, message",
    [
        ("apt-get", "apt-get update failed (no access to Debian's package archive?)"),
        ("df", "less than 4 GB free"),
    ],
)
def test_control_plane_that_cannot_be_obtained_is_a_clear_error(tmp_path, stub, message):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    script = {"apt-get": "exit 100", "df": "printf 'Filesystem 1K-blocks Used Available\\nx 1 1 1024\\n'"}[stub]
    (fake_bin / stub).write_text(f"#!/bin/sh\n{script}\n")
    (fake_bin / stub).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(GET_SCRIPT), str(tmp_path / "cache")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"control plane cannot be obtained: {message}" in result.stderr


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout
    return [int(p) for p, pp in (line.split() for line in out.splitlines()) if int(pp) == pid]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def _faults_change_at_once(folder: Path) -> None:
    """`--faults SPEC` on the running sandbox: in force for the next call, cleared by an empty SPEC."""
    def list_tables() -> subprocess.CompletedProcess[str]:
        return _in_sourced_shell(folder, f"{sys.executable} -c 'import boto3, botocore.config; "
                                         "c = boto3.client(\"dynamodb\", config=botocore.config.Config("
                                         "retries={\"total_max_attempts\": 1})); c.list_tables()'")

    def faults(spec: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flows.sandbox", "--dir", str(folder), "--faults", spec],
                              cwd=REPO, capture_output=True, text=True, timeout=60)

    failing = faults("dynamodb:ListTables=error:1.0")
    assert failing.returncode == 0 and "dynamodb:ListTables=error:1" in failing.stdout, failing.stderr
    assert "InternalServerError" in list_tables().stderr
    cleared = faults("")
    assert cleared.returncode == 0 and "sandbox faults: none" in cleared.stdout
    assert list_tables().returncode == 0
    bad = faults("dynamodb:ListTables=slow:1")
    assert bad.returncode == 1 and "--faults: bad rule 'dynamodb:ListTables=slow:1'" in bad.stderr
