"""EKS: the cluster, with every control-plane log type sent to CloudWatch Logs, and a managed node group."""

from __future__ import annotations

from functools import partial
from typing import Any


from bootstrap.config import EksConfig
from tasks.aws import (
    Found, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove, unless_missing, wait_waiter,
)
from tasks.connections import Target

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
# Creating a cluster takes AWS about 10 minutes, a node group about 5: bounds with room to spare.
CLUSTER_TIMEOUT, NODEGROUP_TIMEOUT, DELAY = 30 * 60.0, 20 * 60.0, 30.0


def cluster_name(prefix: str) -> str:
    return f"{prefix}-cluster"


def nodegroup_name(prefix: str) -> str:
    return f"{prefix}-nodes"


def cluster_log_group(prefix: str) -> str:
    """Where EKS writes control-plane logs; made by the CloudWatch step first, to set its retention and tag."""
    return f"/aws/eks/{cluster_name(prefix)}/cluster"


def _described(call: Any, key: str, prefix: str, **params: Any) -> Found | None:
    described = unless_missing(call, "ResourceNotFoundException", **params)
    if described is None:
        return None
    item = described[key]
    return Found(item.get(f"{key}Arn") or item["arn"], item["status"], is_owned(item.get("tags"), prefix))


@aws_task
def ensure_cluster(target: Target, prefix: str, settings: EksConfig, role: ServiceResult, subnets: list[ServiceResult],
                   group: ServiceResult, dry_run: bool = False) -> ServiceResult:
    eks = target.client("eks")
    role_arn, subnet_ids, security_group_ids = role.id, [s.id for s in subnets], [group.id]
    name = cluster_name(prefix)
    logging = {"clusterLogging": [{"types": LOG_TYPES, "enabled": True}]}

    def configure(apply: bool) -> bool:
        logged = eks.describe_cluster(name=name)["cluster"].get("logging", {}).get("clusterLogging", [])
        enabled = {t for entry in logged if entry.get("enabled") for t in entry["types"]}
        if enabled >= set(LOG_TYPES):
            return False
        if apply:
            eks.update_cluster_config(name=name, logging=logging)
        return True

    return ensure(
        "eks cluster", name, prefix, find=partial(_described, eks.describe_cluster, "cluster", prefix, name=name),
        configure=configure, dry_run=dry_run,
        create=lambda: eks.create_cluster(
            name=name, version=settings.version, roleArn=role_arn, logging=logging, tags=owner_tags(prefix),
            resourcesVpcConfig={"subnetIds": subnet_ids, "securityGroupIds": security_group_ids,
                                "endpointPublicAccess": True, "endpointPrivateAccess": True},
            # Access entries, and the creator as admin: the bootstrap then connects with an STS token.
            accessConfig={"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": True}),
        wait=lambda: wait_waiter(target, f"EKS cluster {name}", eks, "cluster_active", CLUSTER_TIMEOUT, DELAY,
                                 name=name),
    )


@aws_task
def ensure_nodegroup(target: Target, prefix: str, settings: EksConfig, role: ServiceResult,
                     subnets: list[ServiceResult], dry_run: bool = False) -> ServiceResult:
    eks = target.client("eks")
    node_role_arn, subnet_ids = role.id, [s.id for s in subnets]
    cluster, name = cluster_name(prefix), nodegroup_name(prefix)
    scaling = {"minSize": 1, "maxSize": settings.desired_size, "desiredSize": settings.desired_size}

    def configure(apply: bool) -> bool:
        current = eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]["scalingConfig"]
        if current == scaling:
            return False
        if apply:
            eks.update_nodegroup_config(clusterName=cluster, nodegroupName=name, scalingConfig=scaling)
        return True

    find = partial(_described, eks.describe_nodegroup, "nodegroup", prefix, clusterName=cluster, nodegroupName=name)
    return ensure(
        "eks nodegroup", name, prefix, find=find, configure=configure, dry_run=dry_run,
        create=lambda: eks.create_nodegroup(
            clusterName=cluster, nodegroupName=name, scalingConfig=scaling, subnets=subnet_ids,
            instanceTypes=[settings.node_instance_type], amiType="AL2023_x86_64_STANDARD", capacityType="ON_DEMAND",
            nodeRole=node_role_arn, tags=owner_tags(prefix)),
        wait=lambda: wait_waiter(target, f"EKS node group {name}", eks, "nodegroup_active", NODEGROUP_TIMEOUT, DELAY,
                                 clusterName=cluster, nodegroupName=name),
    )


@aws_task
def delete_nodegroup(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    eks = target.client("eks")
    cluster, name = cluster_name(prefix), nodegroup_name(prefix)
    find = partial(_described, eks.describe_nodegroup, "nodegroup", prefix, clusterName=cluster, nodegroupName=name)
    return remove(target, "eks nodegroup", name, find=find, dry_run=dry_run,
                  delete=lambda _: eks.delete_nodegroup(clusterName=cluster, nodegroupName=name),
                  wait=lambda _: wait_waiter(target, f"EKS node group {name} to be deleted", eks, "nodegroup_deleted",
                                           NODEGROUP_TIMEOUT, DELAY, clusterName=cluster, nodegroupName=name))


@aws_task
def delete_cluster(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    """After its node groups: EKS refuses to delete a cluster that still has any."""
    eks = target.client("eks")
    name = cluster_name(prefix)
    return remove(target, "eks cluster", name, dry_run=dry_run,
                  find=partial(_described, eks.describe_cluster, "cluster", prefix, name=name),
                  delete=lambda _: eks.delete_cluster(name=name),
                  wait=lambda _: wait_waiter(target, f"EKS cluster {name} to be deleted", eks, "cluster_deleted",
                                           CLUSTER_TIMEOUT, DELAY, name=name))
