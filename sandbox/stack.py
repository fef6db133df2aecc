"""The whole sandbox: the control plane and the local AWS endpoint, and the files that point tools at them.

One start/stop implementation serves `python -m flows.sandbox`, the flows (which start one in the
background when none runs) and the tests' session fixture.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sandbox.aws import AwsEndpoint
from sandbox.controlplane import Binaries, ControlPlane, obtain_binaries
from sandbox.pki import write_private
from sandbox.processes import SandboxError

DEFAULT_DIR = Path(".sandbox")


class Sandbox:
    """Start with `start()` (or `with Sandbox(dir) as sb:`); files land in `folder`, state in `folder/state`."""

    def __init__(self, folder: Path = DEFAULT_DIR, *, apiserver_port: int | None = None,
                 aws_port: int | None = None, aws_env: dict[str, str] | None = None):
        self.folder = folder.resolve()
        self.state = self.folder / "state"
        self.control_plane: ControlPlane | None = None
        self.aws: AwsEndpoint | None = None
        self._apiserver_port = apiserver_port
        self._aws_port = aws_port
        self._aws_env = aws_env

    # -- files other tools read -----------------------------------------------------------------
    @property
    def env_file(self) -> Path:
        return self.folder / "env"

    @property
    def kubeconfig_path(self) -> Path:
        return self.folder / "kubeconfig"

    @property
    def kubectl_path(self) -> Path:
        return self.folder / "bin" / "kubectl"

    @property
    def helm_path(self) -> Path:
        return self.folder / "bin" / "helm"

    @property
    def pid_file(self) -> Path:
        return self.folder / "sandbox.pid"

    def environ(self) -> dict[str, str]:
        """What `source DIR/env` sets: boto3, the kubernetes client and kubectl then reach the sandbox."""
        assert self.aws is not None
        return {
            **self.aws.aws_env(),
            "KUBECONFIG": str(self.kubeconfig_path),
            "ACKFLOW_SANDBOX_DIR": str(self.folder),
        }

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        running = running_pid(self.folder)
        if running and running != os.getpid():
            raise SandboxError(f"a sandbox is already running from {self.folder} (pid {running})")
        shutil.rmtree(self.state, ignore_errors=True)  # every start is fresh: new state, new secrets
        self.state.mkdir(parents=True)
        os.chmod(self.folder, 0o700)
        try:
            binaries = obtain_binaries()
            self.control_plane = ControlPlane(self.state, binaries, self._apiserver_port)
            self.control_plane.start()
            self.aws = AwsEndpoint(self.state, port=self._aws_port, env=self._aws_env)
            self.aws.start()
            self._write_files(binaries)
        except BaseException:
            self.stop()
            raise
        return self

    def _write_files(self, binaries: Binaries) -> None:
        assert self.control_plane is not None
        self.control_plane.write_kubeconfig(self.kubeconfig_path)
        lines = ["unset AWS_PROFILE AWS_SESSION_TOKEN"]
        lines += [f"export {k}={shlex.quote(v)}" for k, v in self.environ().items()]
        lines.append(f'export PATH={shlex.quote(str(self.kubectl_path.parent))}:"$PATH"')
        write_private(self.env_file, "\n".join(lines) + "\n")
        self.kubectl_path.parent.mkdir(parents=True, exist_ok=True)
        for path, binary, what in ((self.kubectl_path, binaries.kubectl, "kubectl 1.20 (Debian's)"),
                                   (self.helm_path, binaries.helm, "Helm v3 (pinned)")):
            path.write_text(
                f"#!/bin/sh\n# {what}, pointed at this sandbox unless KUBECONFIG says otherwise\n"
                f'KUBECONFIG="${{KUBECONFIG:-{self.kubeconfig_path}}}" exec {shlex.quote(str(binary))} "$@"\n'
            )
            path.chmod(0o700)
        self.pid_file.write_text(str(os.getpid()))

    def alive(self) -> bool:
        parts = [*(self.control_plane.processes if self.control_plane else []), self.aws and self.aws.process]
        return all(p is not None and p.running() for p in parts)

    def stop(self) -> None:
        if self.aws:
            self.aws.stop()
        if self.control_plane:
            self.control_plane.stop()
        if _owned_by_me(self.pid_file):  # never remove the files of another sandbox using this folder
            self.env_file.unlink(missing_ok=True)
            self.pid_file.unlink(missing_ok=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _owned_by_me(pid_file: Path) -> bool:
    try:
        return int(pid_file.read_text()) == os.getpid()
    except (OSError, ValueError):  # no pid file: nobody else claims the folder
        return True


def running_pid(folder: Path) -> int | None:
    """The pid of the sandbox serving `folder`, if one is alive and answering."""
    try:
        pid = int((folder / "sandbox.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def read_env_file(folder: Path) -> dict[str, str]:
    """The variables of a running sandbox's env file, or {} when none is running from `folder`."""
    env_file = folder / "env"
    if not running_pid(folder) or not env_file.exists():
        return {}
    values = {}
    for line in env_file.read_text().splitlines():
        if line.startswith("export ") and "PATH=" not in line:
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = shlex.split(value)[0]
    if not _answers(values.get("AWS_ENDPOINT_URL", "")):
        return {}
    return values


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_sandbox/health", timeout=2) as response:
            return json.load(response).get("ok") is True
    except (OSError, ValueError):
        return False


def start_detached(folder: Path = DEFAULT_DIR, timeout: float = 1800) -> dict[str, str]:
    """Start `python -m flows.sandbox --dir folder` in the background, wait for `ready`, return its env."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "sandbox.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.sandbox", "--dir", str(folder)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
    deadline = time.monotonic() + timeout
    relayed = 0
    while time.monotonic() < deadline:
        lines = log_path.read_text(errors="replace").splitlines()
        for line in lines[relayed:]:
            if line.startswith("[control-plane]"):  # the first start builds the API server: say so
                print(line, file=sys.stderr, flush=True)
        relayed = len(lines)
        if proc.poll() is not None:
            raise SandboxError(f"the sandbox stopped while starting: {lines[-1] if lines else ''} (see {log_path})")
        if env := read_env_file(folder):
            print(f"sandbox started in the background (pid {proc.pid}); "
                  f"`python -m flows.sandbox --stop` stops it", file=sys.stderr, flush=True)
            return env
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SandboxError(f"the sandbox did not become ready within {timeout:.0f} s; see {log_path}")
