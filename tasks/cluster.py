"""The Kubernetes cluster the flows act in."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml
from kubernetes import client
from prefect import task

from sandbox.pki import write_private
from tasks.connections import Target


@task(retries=2, retry_delay_seconds=2)
def check_cluster(target: Target) -> dict[str, str]:
    """The API server answers, and the caller may list namespaces."""
    api = target.kube_api()
    version = client.VersionApi(api).get_code()
    namespaces = client.CoreV1Api(api).list_namespace()
    return {"server": api.configuration.host, "version": version.git_version, "namespaces": str(len(namespaces.items))}


@task(retries=2, retry_delay_seconds=5)
def eks_target(target: Target, cluster: str, folder: str) -> Target:
    """The EKS cluster the bootstrap made, as a target: a kubeconfig built from DescribeCluster, with a
    token as `aws eks get-token` makes it (a presigned STS GetCallerIdentity URL naming the cluster)."""
    described = target.client("eks").describe_cluster(name=cluster)["cluster"]
    sts = target.client("sts")
    # botocore's signer for this client (its credentials and region); the cluster header is signed with the URL
    url = sts._request_signer.generate_presigned_url(
        {"method": "GET", "url": f"{sts.meta.endpoint_url}/?Action=GetCallerIdentity&Version=2011-06-15",
         "body": {}, "headers": {"x-k8s-aws-id": cluster}, "context": {}},
        region_name=target.region, expires_in=60, operation_name="")
    token = "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": described["endpoint"],
                                                   "certificate-authority-data": described["certificateAuthority"]["data"]}}],
        "users": [{"name": cluster, "user": {"token": token}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
    }
    path = write_private(Path(folder) / f"{cluster}.kubeconfig", yaml.safe_dump(kubeconfig))
    return target.model_copy(update={"kubeconfig": str(path), "kubernetes_credentials_block": None})
