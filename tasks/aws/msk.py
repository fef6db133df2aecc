"""MSK: a provisioned Kafka cluster with brokers spread over the network's subnets, TLS in transit."""

from __future__ import annotations

from functools import partial
from typing import Any

from bootstrap.config import MskConfig
from tasks.aws import (
    Found, PermanentError, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove, wait_status,
)
from tasks.connections import Target

# AWS takes 15-40 minutes to create an MSK cluster (the sandbox's endpoint about a second).
TIMEOUT, DELAY = 60 * 60.0, 30.0


def cluster_name(prefix: str) -> str:
    return f"{prefix}-kafka"


def _find(kafka: Any, prefix: str, name: str) -> Found | None:
    # Listed first, described only if listed: moto answers DescribeCluster of a deleted cluster with HTTP 500.
    listed = [c for c in kafka.list_clusters(ClusterNameFilter=name)["ClusterInfoList"] if c["ClusterName"] == name]
    if not listed:
        return None
    info = kafka.describe_cluster(ClusterArn=listed[0]["ClusterArn"])["ClusterInfo"]
    return Found(info["ClusterArn"], info["State"], is_owned(info.get("Tags"), prefix))


@aws_task
def ensure_msk_cluster(target: Target, prefix: str, settings: MskConfig, subnets: list[ServiceResult],
                       group: ServiceResult, dry_run: bool = False) -> ServiceResult:
    kafka = target.client("kafka")
    subnet_ids, security_group_ids = [s.id for s in subnets], [group.id]
    name = cluster_name(prefix)
    find = partial(_find, kafka, prefix, name)

    def create() -> None:
        if settings.brokers % len(subnet_ids):
            raise PermanentError(f"msk.brokers: {settings.brokers} is not a multiple of the {len(subnet_ids)} subnets")
        kafka.create_cluster(
            ClusterName=name, KafkaVersion=settings.kafka_version, NumberOfBrokerNodes=settings.brokers,
            BrokerNodeGroupInfo={"InstanceType": settings.broker_instance_type, "ClientSubnets": subnet_ids,
                                 "SecurityGroups": security_group_ids,
                                 "StorageInfo": {"EbsStorageInfo": {"VolumeSize": settings.broker_storage_gib}}},
            EncryptionInfo={"EncryptionInTransit": {"ClientBroker": "TLS", "InCluster": True}},
            Tags=owner_tags(prefix))

    return ensure("msk cluster", name, prefix, find=find, create=create, dry_run=dry_run,
                  wait=lambda: wait_status(target, f"MSK cluster {name}", find, {"ACTIVE"}, TIMEOUT, DELAY,
                                           failed={"FAILED"}))


@aws_task
def delete_msk_cluster(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    kafka = target.client("kafka")
    name = cluster_name(prefix)
    return remove(target, "msk cluster", name, find=partial(_find, kafka, prefix, name), dry_run=dry_run,
                  delete=lambda found: kafka.delete_cluster(ClusterArn=found.id), timeout=TIMEOUT, delay=DELAY)
