"""The sandbox's local AWS endpoint: moto's server plus the AWS behaviour moto lacks (see rules.py).

`AwsEndpoint` runs it as a child process (`python -m sandbox.aws`); `calls`/`reset_calls` read and clear
its call log. This module does not import moto: starting the endpoint costs its parent nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from sandbox.processes import ManagedProcess, SandboxError, ensure_port_free, free_port

__all__ = ["AwsEndpoint", "calls", "reset_calls", "set_faults"]


def _request(endpoint: str, method: str, path: str, access_key_id: str | None, body: bytes | None = None) -> Any:
    request = urllib.request.Request(endpoint.rstrip("/") + path, method=method, data=body)
    if access_key_id:
        # The endpoint checks the access key id of the SigV4 credential scope, never the signature.
        request.add_header(
            "Authorization", f"AWS4-HMAC-SHA256 Credential={access_key_id}/19700101/us-east-1/sandbox/aws4_request"
        )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def calls(endpoint: str, access_key_id: str | None) -> list[dict[str, Any]]:
    """The endpoint's call log, oldest first: [{service, operation, status, time}, ...]."""
    return _request(endpoint, "GET", "/_sandbox/calls", access_key_id)


def reset_calls(endpoint: str, access_key_id: str | None) -> None:
    _request(endpoint, "DELETE", "/_sandbox/calls", access_key_id)


def set_faults(endpoint: str, access_key_id: str | None, spec: str) -> list[dict[str, Any]]:
    """Replace a running endpoint's faults (SANDBOX_AWS_FAULTS syntax; "" clears them), in force at once; the
    faults now in force. ValueError with the endpoint's reason when `spec` is malformed."""
    try:
        return _request(endpoint, "PUT", "/_sandbox/faults", access_key_id, spec.encode())["faults"]
    except urllib.error.HTTPError as exc:
        if exc.code == 400:
            raise ValueError(json.load(exc)["message"]) from None
        raise


class AwsEndpoint:
    """The local AWS endpoint as a child process, with its own random access key.

    SANDBOX_AWS_* delays and faults come from os.environ unless `env` overrides them.
    """

    region = "us-east-1"

    def __init__(self, folder: Path, port: int | None = None, env: dict[str, str] | None = None):
        self.folder = Path(folder)
        self.port = port
        self.env = env or {}
        alphabet = string.ascii_uppercase + string.digits
        self.access_key_id = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
        self.secret_access_key = secrets.token_urlsafe(30)  # never checked: only the key id is
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise SandboxError("the local AWS endpoint has no port before start()")
        return f"http://127.0.0.1:{self.port}"

    def aws_env(self) -> dict[str, str]:
        """The variables that point boto3, the AWS CLI and the flows at this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def start(self, timeout: float = 30) -> None:
        if self.port is None:
            self.port = free_port()
        else:
            ensure_port_free(self.port, "the local AWS endpoint")
        # AWS's managed IAM policies exist in every account; moto loads them only when asked.
        env = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true", **os.environ, **self.env,
               "SANDBOX_AWS_ACCESS_KEY_ID": self.access_key_id}
        self.process = ManagedProcess(
            "aws-endpoint",
            [sys.executable, "-m", "sandbox.aws", "--port", str(self.port)],
            self.folder / "logs" / "aws-endpoint.log",
            env,
        )
        self.process.start()
        try:
            self.process.wait_until(self._healthy, timeout, "healthy")
        except SandboxError:
            self.stop()
            raise

    def _healthy(self) -> bool:
        return bool(_request(self.url, "GET", "/_sandbox/health", None)["ok"])

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
