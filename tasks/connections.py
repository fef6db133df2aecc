"""Where the flows' AWS and Kubernetes calls go, and the clients that make them.

The target is the sandbox unless the user says `aws` explicitly: real AWS is never reached by accident.
A sandbox target uses whatever `AWS_ENDPOINT_URL` and `KUBECONFIG` the environment names (after
`source .sandbox/env`), else the sandbox running from `.sandbox`, else one started in the background.
Credentials come from the environment (the AWS credential chain, KUBECONFIG) or, when named, from a
prefect-aws `AwsCredentials` and a prefect-kubernetes `KubernetesCredentials` block; a Target holds only
names and addresses, never a secret, so it can be logged and passed between flows.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, DeferredRefreshableCredentials
from prometheus_client import Counter
from pydantic import BaseModel, Field
from urllib3 import Retry

from sandbox.stack import DEFAULT_DIR, read_env_file, start_detached

TargetKind = Literal["sandbox", "aws"]

# botocore's standard retry mode: throttling and 5xx are retried with backoff, as against AWS. Three attempts in
# all (botocore's default, and ACK's SDK's): what still fails comes back through the controller's queue, with a
# backoff per resource, rather than holding a worker for a minute. The app id marks the project's calls in
# CloudTrail (and in the sandbox endpoint's call log).
AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32,
                    user_agent_appid="ackflow")


class RetryCounter:
    """How many times botocore retried a call (throttling, 5xx) in this process: flows report it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def observe(self, parsed: dict | None = None, **_) -> None:
        attempts = ((parsed or {}).get("ResponseMetadata") or {}).get("RetryAttempts", 0)
        if attempts:
            with self._lock:
                self.value += attempts


AWS_RETRIES = RetryCounter()

# ACK's names for its AWS calls, so its dashboards work; the controller serves them on /metrics.
AWS_REQUESTS = Counter("ack_outbound_api_requests", "AWS calls made, by service and operation.",
                       ["service", "op_type", "op_id"])
AWS_REQUEST_ERRORS = Counter("ack_outbound_api_requests_error", "AWS calls answered with an error, by error code.",
                             ["service", "op_type", "op_id", "error_code"])


def _op_type(operation: str) -> str:
    """ACK's op_type label: READ_ONE, READ_MANY, CREATE, UPDATE, DELETE, or the operation's verb."""
    for prefix, kind in (("Describe", "READ_ONE"), ("Get", "READ_ONE"), ("List", "READ_MANY"), ("Create", "CREATE"),
                         ("Delete", "DELETE"), ("Update", "UPDATE"), ("Put", "UPDATE"), ("Tag", "UPDATE"),
                         ("Untag", "UPDATE")):
        if operation.startswith(prefix):
            return kind
    return operation


def count_call(model=None, parsed: dict | None = None, **_) -> None:
    """botocore's after-call hook: one more call (and, if answered with an error, one more error)."""
    if model is None:
        return
    service, operation = model.service_model.service_name, model.name
    labels = (service, _op_type(operation), operation)
    AWS_REQUESTS.labels(*labels).inc()
    code = ((parsed or {}).get("Error") or {}).get("Code")
    if code:
        AWS_REQUEST_ERRORS.labels(*labels, code).inc()


class TargetError(RuntimeError):
    """The target cannot be reached or was not chosen explicitly enough; the message is for a person."""


class Target(BaseModel):
    kind: TargetKind
    aws_endpoint_url: str | None
    region: str
    kubeconfig: str | None
    aws_credentials_block: str | None = None
    kubernetes_credentials_block: str | None = None
    role_arn: str | None = None  # a role assumed for AWS calls (ACK's cross-account management); None: our own

    def client(self, service: str):
        """A boto3 client for `service` at this target, reused across tasks and threads."""
        return _aws_client(service, self.region, self.aws_endpoint_url, self.aws_credentials_block, self.role_arn)

    def placed(self, region: str, role_arn: str | None) -> Target:
        """This target, its AWS calls made in `region` with `role_arn`'s credentials (None: the target's own)."""
        if (region, role_arn) == (self.region, self.role_arn):
            return self
        return self.model_copy(update={"region": region, "role_arn": role_arn})

    def kube_api(self):
        """A kubernetes ApiClient for this target's cluster."""
        if self.kubernetes_credentials_block:
            return _kube_api_from_block(self.kubernetes_credentials_block)
        return kube_api_client(self.kubeconfig)


class Connection(BaseModel):
    """Where a flow acts, as a flow parameter: the form the Prefect UI shows for it."""

    target: TargetKind = Field("sandbox", description="sandbox (the embedded one) or aws: real AWS only when "
                                                      "chosen here")
    aws_credentials_block: str | None = Field(None, description="A prefect-aws AwsCredentials block's name; "
                                                                "default: the AWS credential chain")
    kubernetes_credentials_block: str | None = Field(None, description="A prefect-kubernetes KubernetesCredentials "
                                                                       "block's name; default: KUBECONFIG")


def resolve_target(connection: Connection | TargetKind = "sandbox", sandbox_dir: Path = DEFAULT_DIR) -> Target:
    if isinstance(connection, str):
        connection = Connection(target=connection)
    kind = connection.target
    aws_credentials_block = connection.aws_credentials_block
    kubernetes_credentials_block = connection.kubernetes_credentials_block
    if kind not in ("sandbox", "aws"):
        raise TargetError(f"target: {kind!r} is not one of 'sandbox', 'aws'")
    endpoint = region = None
    if aws_credentials_block:
        credentials = _aws_block(aws_credentials_block)
        endpoint = credentials.aws_client_parameters.endpoint_url
        region = credentials.region_name
    elif kind == "sandbox" and not os.environ.get("AWS_ENDPOINT_URL"):
        env = read_env_file(sandbox_dir.resolve()) or start_detached(sandbox_dir)
        os.environ.update(env)  # boto3, the kubernetes client and child processes then all agree
    if not aws_credentials_block:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if kind == "aws" and endpoint:
        raise TargetError("target aws: an AWS endpoint URL is set, so calls would not reach AWS; unset it first")
    if kind == "sandbox" and not endpoint:
        raise TargetError("target sandbox: the AWS credentials block names no endpoint URL; use --target aws "
                          "to reach AWS itself")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") \
        or boto3.Session().region_name
    if not region:
        raise TargetError("no AWS region: set AWS_REGION (or a region in the AWS config file or the block)")
    return Target(kind=kind, aws_endpoint_url=endpoint, region=region, kubeconfig=os.environ.get("KUBECONFIG"),
                  aws_credentials_block=aws_credentials_block,
                  kubernetes_credentials_block=kubernetes_credentials_block)


@functools.cache
def aws_regions() -> frozenset[str]:
    """Every region of every AWS partition that serves DynamoDB, as botocore knows them."""
    session = boto3.session.Session()
    return frozenset(region for partition in session.get_available_partitions()
                     for region in session.get_available_regions("dynamodb", partition_name=partition))


def caller_account(target: Target) -> str:
    """The account of the target's own credentials (STS GetCallerIdentity, once per process and credentials)."""
    return _caller_account(target.aws_endpoint_url, target.aws_credentials_block, target.region)


@functools.cache
def _caller_account(endpoint_url: str | None, credentials_block: str | None, region: str) -> str:
    return _aws_client("sts", region, endpoint_url, credentials_block).get_caller_identity()["Account"]


def _aws_block(name: str):
    from prefect_aws import AwsCredentials

    try:
        return AwsCredentials.load(name)
    except ValueError as exc:
        raise TargetError(f"AWS credentials block {name!r} cannot be loaded: {exc}") from None


_CLIENTS: dict[tuple[str, str, str | None, str | None, str | None], Any] = {}
_BUILDING = threading.RLock()  # re-entered: a role's session is built with the STS client it needs
ROLE_SESSION_NAME = "ackflow-controller"  # who assumed a role, as CloudTrail (and the sandbox's call log) shows it


def _aws_client(service: str, region: str, endpoint_url: str | None, credentials_block: str | None,
                role_arn: str | None = None):
    """One client per service, place and role, shared by every thread (boto3 clients are thread-safe). Built under
    a lock (a boto3 session is not safe to build clients from concurrently; and 16 reader threads starting
    together would each build one, 0.1 s of CPU each); found without one."""
    key = (service, region, endpoint_url, credentials_block, role_arn)
    if (client := _CLIENTS.get(key)) is None:
        with _BUILDING:
            if (client := _CLIENTS.get(key)) is None:
                client = _CLIENTS[key] = _new_aws_client(*key)
    return client


@functools.cache
def _session(endpoint_url: str | None, credentials_block: str | None) -> boto3.session.Session:
    """One session per place and credentials, as the clients (a sandbox's endpoint has keys of its own): its
    loader reads botocore's endpoint and model files once for all the clients made from it."""
    return _aws_block(credentials_block).get_boto3_session() if credentials_block else boto3.session.Session()


class _AssumedRole(CredentialProvider):
    """The credentials of a role, from STS AssumeRole made with the base session's own; fetched at the first call and
    refreshed by botocore shortly before they expire (its refreshable credentials), so each role costs one
    AssumeRole an hour, not one a call."""

    METHOD = "ackflow-assume-role"

    def __init__(self, sts: Any, role_arn: str):
        super().__init__()
        self.sts, self.role_arn = sts, role_arn

    def _fetch(self) -> dict[str, str]:
        answer = self.sts.assume_role(RoleArn=self.role_arn, RoleSessionName=ROLE_SESSION_NAME)["Credentials"]
        return {"access_key": answer["AccessKeyId"], "secret_key": answer["SecretAccessKey"],
                "token": answer["SessionToken"], "expiry_time": answer["Expiration"].isoformat()}

    def load(self) -> DeferredRefreshableCredentials:
        return DeferredRefreshableCredentials(refresh_using=self._fetch, method=self.METHOD)


@functools.cache
def _role_session(endpoint_url: str | None, credentials_block: str | None, role_arn: str,
                  region: str) -> boto3.session.Session:
    """A session acting as `role_arn` (assumed with the base session's credentials, through STS in `region`)."""
    sts = _aws_client("sts", region, endpoint_url, credentials_block)
    botocore_session = botocore.session.get_session()
    botocore_session.register_component("credential_provider", CredentialResolver([_AssumedRole(sts, role_arn)]))
    return boto3.session.Session(botocore_session=botocore_session)


def _new_aws_client(service: str, region: str, endpoint_url: str | None, credentials_block: str | None,
                    role_arn: str | None):
    session = _role_session(endpoint_url, credentials_block, role_arn, region) if role_arn \
        else _session(endpoint_url, credentials_block)
    client = session.client(service, region_name=region, endpoint_url=endpoint_url, config=AWS_CONFIG)
    client.meta.events.register("after-call", AWS_RETRIES.observe)  # every answer, success or error
    client.meta.events.register("after-call", count_call)
    return client


def kube_api_client(kubeconfig: str | None = None, context: str | None = None):
    """One client per kubeconfig file and version of it (a restarted sandbox rewrites it with new tokens)."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    try:
        version = os.stat(path).st_mtime_ns
    except OSError:
        raise TargetError(f"kubeconfig {path} does not exist: set KUBECONFIG") from None
    return _kube_api_client(path, context, version)


# An API server restarting (an upgrade, a failover) is away for seconds: ride it out with backoff
# (1, 2, 4 ... 32 s, about a minute in all) rather than failing the run; writes carry resourceVersions,
# so a repeat is safe.
KUBE_RETRIES = Retry(total=8, connect=8, read=2, status=4, backoff_factor=0.5, backoff_max=32,
                     status_forcelist=(502, 503, 504), allowed_methods=None)


def _retrying_api_client(load: Callable[[Any], None]):
    """An API client configured by `load(configuration)`, with the retries above, whatever the kubeconfig's source."""
    from kubernetes import client

    configuration = client.Configuration()
    load(configuration)
    configuration.retries = KUBE_RETRIES
    return client.ApiClient(configuration)


@functools.cache
def _kube_api_client(path: str, context: str | None, _version: int):
    from kubernetes import config

    return _retrying_api_client(lambda configuration: config.load_kube_config(
        config_file=path, context=context, client_configuration=configuration))


def _cluster_config_of_block(name: str):
    from prefect_kubernetes.credentials import KubernetesCredentials

    try:
        cluster = KubernetesCredentials.load(name).cluster_config
    except ValueError as exc:
        raise TargetError(f"Kubernetes credentials block {name!r} cannot be loaded: {exc}") from None
    if cluster is None:
        raise TargetError(f"Kubernetes credentials block {name!r} holds no cluster_config")
    return cluster


def kubeconfig_of_block(name: str) -> dict[str, Any]:
    """The kubeconfig a prefect-kubernetes credentials block holds, its context the current one (for tools
    that read a file, such as Helm)."""
    cluster = _cluster_config_of_block(name)
    return {**cluster.config, "current-context": cluster.context_name}


@functools.cache
def _kube_api_from_block(name: str):
    from kubernetes import config

    cluster = _cluster_config_of_block(name)
    return _retrying_api_client(lambda configuration: config.load_kube_config_from_dict(
        cluster.config, context=cluster.context_name, client_configuration=configuration))
