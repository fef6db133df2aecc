"""What the bootstrap applies to the cluster, as plain manifests: the monitoring and logging agents and the
StorageClasses for EBS and EFS; the sample application's Helm release (deploy/charts/sample-app), its values, and
the FieldExports that give it its tables' names and ARNs. Pure: values in, dicts out."""

from __future__ import annotations

from typing import Any

from ack.kinds import FIELD_EXPORT, TABLE
from bootstrap.config import BootstrapConfig
from tasks.aws.eks import cluster_log_group, cluster_name

AGENTS_NAMESPACE = "amazon-cloudwatch"
APP_NAMESPACE = "default"
APP_NAME = "sample-app"
MANAGED_BY = {"app.kubernetes.io/managed-by": "ackflow"}


def _meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **labels}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _daemonset(name: str, image: str, env: dict[str, str], mounts: list[tuple[str, str]]) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(name, AGENTS_NAMESPACE, **labels),
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": name,
                    "containers": [{
                        "name": name, "image": image,
                        "env": [{"name": k, "value": v} for k, v in env.items()],
                        "resources": {"limits": {"cpu": "200m", "memory": "200Mi"},
                                      "requests": {"cpu": "50m", "memory": "64Mi"}},
                        "volumeMounts": [{"name": f"host-{i}", "mountPath": path, "readOnly": True}
                                         for i, (_, path) in enumerate(mounts)],
                    }],
                    "volumes": [{"name": f"host-{i}", "hostPath": {"path": host}} for i, (host, _) in enumerate(mounts)],
                },
            },
        },
    }


def agents(cluster: str, region: str, log_group: str) -> list[dict[str, Any]]:
    """The CloudWatch agent (metrics) and Fluent Bit (logs to CloudWatch Logs) as DaemonSets."""
    common = {"CLUSTER_NAME": cluster, "AWS_REGION": region}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(AGENTS_NAMESPACE)},
        *({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, AGENTS_NAMESPACE)}
          for name in ("cloudwatch-agent", "fluent-bit")),
        _daemonset("cloudwatch-agent", "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:latest",
                   {**common, "HOST_NAME": "node"}, [("/proc", "/rootfs/proc"), ("/sys", "/sys")]),
        _daemonset("fluent-bit", "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                   {**common, "LOG_GROUP_NAME": log_group}, [("/var/log", "/var/log")]),
    ]


def storage_classes(file_system_id: str | None) -> list[dict[str, Any]]:
    """gp3 volumes through the EBS CSI driver, and (when there is one) the EFS file system through EFS CSI."""
    classes: list[dict[str, Any]] = [{
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": _meta("ebs-gp3"),
        "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
        "parameters": {"type": "gp3", "encrypted": "true"}, "allowVolumeExpansion": True,
    }]
    if file_system_id:
        classes.append({
            "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": _meta("efs"),
            "provisioner": "efs.csi.aws.com",
            "parameters": {"provisioningMode": "efs-ap", "fileSystemId": file_system_id, "directoryPerms": "700"},
        })
    return classes


APP_CHART = "sample-app"
TABLES_CONFIG_MAP = "sample-app-tables"  # the app's tables, each NAME_TABLE_NAME and NAME_TABLE_ARN, by FieldExports


def sample_app_values(repository: str, tables: bool) -> dict[str, str]:
    """The sample application's chart values: its image from the ECR repository the bootstrap made, and (`tables`)
    the ConfigMap its tables' names and ARNs are exported to, read as its environment."""
    return {"image.repository": repository, "image.tag": "latest",
            "tablesConfigMap": TABLES_CONFIG_MAP if tables else ""}


def table_exports(tables: list[str]) -> list[dict[str, Any]]:
    """The sample app's view of its Table resources (by name, in its namespace), the ACK way: a ConfigMap, and for
    each table two FieldExports keeping its name and ARN in it (ORDERS_TABLE_NAME, ORDERS_TABLE_ARN)."""
    manifests: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": _meta(TABLES_CONFIG_MAP, APP_NAMESPACE)}]
    for table in tables:
        for suffix, path in (("name", ".spec.tableName"), ("arn", ".status.ackResourceMetadata.arn")):
            manifests.append({
                "apiVersion": FIELD_EXPORT.api_version, "kind": FIELD_EXPORT.kind,
                "metadata": _meta(f"{table}-table-{suffix}", APP_NAMESPACE),
                "spec": {"from": {"path": path, "resource": {"group": TABLE.group, "kind": TABLE.kind, "name": table}},
                         "to": {"kind": "configmap", "name": TABLES_CONFIG_MAP,
                                "key": f"{table}_table_{suffix}".upper().replace("-", "_").replace(".", "_")}},
            })
    return manifests


def for_config(config: BootstrapConfig, file_system_id: str | None) -> list[dict[str, Any]]:
    """The manifests the configuration puts on the cluster, in the order they are applied."""
    manifests = []
    if config.cloudwatch.enabled and config.eks.enabled:
        manifests += agents(cluster_name(config.prefix), config.region, cluster_log_group(config.prefix))
    return manifests + storage_classes(file_system_id)
