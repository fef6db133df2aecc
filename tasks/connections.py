"""Where the flows' AWS and Kubernetes calls go, and the clients that make them.

The target is the sandbox unless the user says `aws` explicitly: real AWS is never reached by accident.
A sandbox target uses whatever `AWS_ENDPOINT_URL` and `KUBECONFIG` the environment names (after
`source .sandbox/env`), else the sandbox running from `.sandbox`, else one started in the background.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Literal

import boto3
from botocore.config import Config
from pydantic import BaseModel

from sandbox.stack import DEFAULT_DIR, read_env_file, start_detached

TargetKind = Literal["sandbox", "aws"]

# botocore's standard retry mode: throttling and 5xx are retried with backoff, as against AWS.
AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32)


class Target(BaseModel):
    kind: TargetKind
    aws_endpoint_url: str | None
    region: str
    kubeconfig: str | None


class TargetError(RuntimeError):
    """The target cannot be reached or was not chosen explicitly enough; the message is for a person."""


def resolve_target(kind: TargetKind = "sandbox", sandbox_dir: Path = DEFAULT_DIR) -> Target:
    if kind not in ("sandbox", "aws"):
        raise TargetError(f"target: {kind!r} is not one of 'sandbox', 'aws'")
    if kind == "sandbox" and not os.environ.get("AWS_ENDPOINT_URL"):
        env = read_env_file(sandbox_dir.resolve()) or start_detached(sandbox_dir)
        os.environ.update(env)  # boto3, the kubernetes client and child processes then all agree
    if kind == "aws" and os.environ.get("AWS_ENDPOINT_URL"):
        raise TargetError("target aws: AWS_ENDPOINT_URL is set, so calls would not reach AWS; unset it first")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or boto3.Session().region_name
    if not region:
        raise TargetError("no AWS region: set AWS_REGION (or a region in the AWS config file)")
    return Target(
        kind=kind,
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
        region=region,
        kubeconfig=os.environ.get("KUBECONFIG"),
    )


@functools.cache
def aws_client(service: str, region: str, endpoint_url: str | None = None):
    """One client per service and place, reused: boto3 clients are thread-safe and pool connections."""
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint_url, config=AWS_CONFIG)


def kube_api_client(kubeconfig: str | None = None, context: str | None = None):
    """One client per kubeconfig file and version of it (a restarted sandbox rewrites it with new tokens)."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    try:
        version = os.stat(path).st_mtime_ns
    except OSError:
        raise TargetError(f"kubeconfig {path} does not exist: set KUBECONFIG") from None
    return _kube_api_client(path, context, version)


@functools.cache
def _kube_api_client(path: str, context: str | None, _version: int):
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=path, context=context, client_configuration=configuration)
    return client.ApiClient(configuration)
