"""Credentials blocks for the sandbox, so runs can name them (Connection.aws_credentials_block /
kubernetes_credentials_block) instead of relying on the environment of whatever worker runs them."""

from __future__ import annotations

from pathlib import Path

from sandbox.stack import read_env_file

AWS_BLOCK = "sandbox-aws"
KUBERNETES_BLOCK = "sandbox-kubernetes"
KUBE_CONTEXT = "sandbox"


def save_sandbox_blocks(folder: Path) -> list[str]:
    """Save (or overwrite) both blocks from the sandbox running from `folder`; returns what was saved,
    names only: the values are secrets and stay in the blocks."""
    from prefect_aws import AwsClientParameters, AwsCredentials
    from prefect_kubernetes.credentials import KubernetesClusterConfig, KubernetesCredentials

    env = read_env_file(folder.resolve())
    if not env:
        raise RuntimeError(f"no sandbox is running from {folder}: start one with "
                           f"`python -m flows.sandbox --dir {folder}`")
    AwsCredentials(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env.get("AWS_REGION") or env["AWS_DEFAULT_REGION"],
        aws_client_parameters=AwsClientParameters(endpoint_url=env["AWS_ENDPOINT_URL"]),
    ).save(AWS_BLOCK, overwrite=True)
    cluster = KubernetesClusterConfig.from_file(folder / "kubeconfig", context_name=KUBE_CONTEXT)
    KubernetesCredentials(cluster_config=cluster).save(KUBERNETES_BLOCK, overwrite=True)
    return [f"aws-credentials/{AWS_BLOCK}", f"kubernetes-credentials/{KUBERNETES_BLOCK}"]
