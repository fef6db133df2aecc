"""Shared fixtures. Integration tests get a real sandbox (kube-apiserver, etcd, the local AWS endpoint),
started once per session: never skipped for want of a server."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import pytest  # noqa: E402

from sandbox.stack import Sandbox  # noqa: E402


# AWS allows one Time to Live change an hour and one switch to PROVISIONED a day; the session's sandbox
# lifts both so tests can drift a table and fix it within seconds (test_drift_limits keeps them).
NO_RATE_LIMITS = {"SANDBOX_AWS_TTL_WINDOW": "0", "SANDBOX_AWS_BILLING_WINDOW": "0"}


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("sandbox"), aws_env=NO_RATE_LIMITS) as running:
        yield running


@pytest.fixture(scope="session")
def sandbox_env(sandbox):
    """The process environment pointed at the sandbox, as `source .sandbox/env` would."""
    saved = dict(os.environ)
    os.environ.update(sandbox.environ())
    yield sandbox.environ()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def prefect_api():
    """A Prefect API of the tests' own (a temporary database), shared by the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def target(sandbox_env, prefect_api):
    """Where the flows act: the session's sandbox."""
    from tasks.connections import resolve_target

    return resolve_target("sandbox")
