"""Shared fixtures. Integration tests get a real sandbox (kube-apiserver, etcd, the local AWS endpoint),
started once per session: never skipped for want of a server."""

from __future__ import annotations

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import pytest  # noqa: E402

from sandbox.stack import Sandbox  # noqa: E402


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    with Sandbox(tmp_path_factory.mktemp("sandbox")) as running:
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
