"""The Kubernetes cluster the flows act in."""

from __future__ import annotations

from kubernetes import client
from prefect import task

from tasks.connections import Target


@task(retries=2, retry_delay_seconds=2)
def check_cluster(target: Target) -> dict[str, str]:
    """The API server answers, and the caller may list namespaces."""
    api = target.kube_api()
    version = client.VersionApi(api).get_code()
    namespaces = client.CoreV1Api(api).list_namespace()
    return {"server": api.configuration.host, "version": version.git_version, "namespaces": str(len(namespaces.items))}
