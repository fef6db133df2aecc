"""Databases: an RDS instance (MySQL or PostgreSQL), or an Aurora cluster with one instance; a DocumentDB
cluster and its instances when the configuration asks. Passwords are never seen: RDS keeps them in
Secrets Manager (ManageMasterUserPassword)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any


from bootstrap.config import DocdbConfig, RdsConfig
from tasks.aws import (
    Found, PermanentError, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove, tag_list,
    unless_missing, wait_status, wait_waiter,
)
from tasks.connections import Target

MASTER_USER = "ackflow"
# AWS takes 5-15 minutes to create or delete a database.
TIMEOUT, DELAY = 40 * 60.0, 30.0
_MISSING = ("DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault", "DBSubnetGroupNotFoundFault")


def subnet_group_name(prefix: str) -> str:
    return f"{prefix}-db"  # one group serves RDS and DocumentDB: they share the API


def is_aurora(settings: RdsConfig) -> bool:
    return settings.engine.startswith("aurora")


def aurora_cluster_name(prefix: str) -> str:
    return f"{prefix}-aurora"


def db_instance_name(prefix: str, settings: RdsConfig) -> str:
    return f"{prefix}-aurora-1" if is_aurora(settings) else f"{prefix}-db"


def docdb_cluster_name(prefix: str) -> str:
    return f"{prefix}-docdb"


def docdb_instance_name(prefix: str, index: int) -> str:
    return f"{prefix}-docdb-{index + 1}"


def _find(client: Any, operation: str, key: str, prefix: str, **params: Any) -> Found | None:
    """One DB instance, cluster or subnet group, as Describe* lists them (key: "DBInstance", ...). Where the
    answer carries no tags (subnet groups, and all of DocumentDB's API), they are read with ListTagsForResource."""
    described = unless_missing(getattr(client, operation), *_MISSING, **params)
    if described is None:
        return None
    item = described[f"{key}s"][0]
    status = item.get("DBInstanceStatus") or item.get("Status") or item.get("SubnetGroupStatus", "")
    arn = item[f"{key}Arn"]
    tags = item["TagList"] if "TagList" in item else client.list_tags_for_resource(ResourceName=arn)["TagList"]
    return Found(arn, status, is_owned(tags, prefix))


def _subnet_group(rds: Any, prefix: str, name: str) -> Callable[[], Found | None]:
    return partial(_find, rds, "describe_db_subnet_groups", "DBSubnetGroup", prefix, DBSubnetGroupName=name)


def _final_snapshot(target: Target, name: str) -> dict[str, Any]:
    """On AWS a deleted database leaves a final snapshot behind; on the sandbox it need not."""
    if target.kind == "sandbox":
        return {"SkipFinalSnapshot": True}
    return {"FinalDBSnapshotIdentifier": f"{name}-final-{time.strftime('%Y%m%d%H%M%S')}"}


@aws_task
def ensure_db_subnet_group(target: Target, prefix: str, subnets: list[ServiceResult],
                           dry_run: bool = False) -> ServiceResult:
    subnet_ids = [s.id for s in subnets]
    rds = target.client("rds")
    name = subnet_group_name(prefix)
    return ensure(
        "db subnet group", name, prefix, find=_subnet_group(rds, prefix, name), dry_run=dry_run,
        create=lambda: rds.create_db_subnet_group(
            DBSubnetGroupName=name, DBSubnetGroupDescription=f"ackflow {prefix}: databases", SubnetIds=subnet_ids,
            Tags=tag_list(owner_tags(prefix))),
    )


@aws_task
def ensure_aurora_cluster(target: Target, prefix: str, settings: RdsConfig, subnet_group: ServiceResult,
                          group: ServiceResult, dry_run: bool = False) -> ServiceResult:
    security_group_ids = [group.id]
    if not is_aurora(settings):
        raise PermanentError(f"rds.engine {settings.engine!r} is not Aurora: it needs no cluster")
    rds = target.client("rds")
    name = aurora_cluster_name(prefix)
    version = {"EngineVersion": settings.engine_version} if settings.engine_version else {}
    return ensure(
        "aurora cluster", name, prefix, dry_run=dry_run,
        find=partial(_find, rds, "describe_db_clusters", "DBCluster", prefix, DBClusterIdentifier=name),
        create=lambda: rds.create_db_cluster(
            DBClusterIdentifier=name, Engine=settings.engine, MasterUsername=MASTER_USER,
            ManageMasterUserPassword=True, DBSubnetGroupName=subnet_group.name, VpcSecurityGroupIds=security_group_ids,
            StorageEncrypted=True, CopyTagsToSnapshot=True, Tags=tag_list(owner_tags(prefix)), **version),
        wait=lambda: wait_waiter(target, f"Aurora cluster {name}", rds, "db_cluster_available", TIMEOUT, DELAY,
                                 DBClusterIdentifier=name),
    )


@aws_task
def ensure_db_instance(target: Target, prefix: str, settings: RdsConfig, subnet_group: ServiceResult,
                       group: ServiceResult, dry_run: bool = False) -> ServiceResult:
    """A standalone instance, or for Aurora the cluster's first instance (the cluster holds storage and users)."""
    security_group_ids = [group.id]
    rds = target.client("rds")
    name = db_instance_name(prefix, settings)
    common = {"DBInstanceIdentifier": name, "Engine": settings.engine, "DBInstanceClass": settings.instance_class,
              "PubliclyAccessible": False, "Tags": tag_list(owner_tags(prefix))}
    if is_aurora(settings):
        params = common | {"DBClusterIdentifier": aurora_cluster_name(prefix)}
    else:
        params = common | {
            "AllocatedStorage": settings.allocated_storage, "StorageType": "gp3", "StorageEncrypted": True,
            "MasterUsername": MASTER_USER, "ManageMasterUserPassword": True, "DBSubnetGroupName": subnet_group.name,
            "VpcSecurityGroupIds": security_group_ids, "BackupRetentionPeriod": 1, "CopyTagsToSnapshot": True,
        } | ({"EngineVersion": settings.engine_version} if settings.engine_version else {})
    return ensure(
        "rds instance", name, prefix, dry_run=dry_run,
        find=partial(_find, rds, "describe_db_instances", "DBInstance", prefix, DBInstanceIdentifier=name),
        create=lambda: rds.create_db_instance(**params),
        wait=lambda: wait_waiter(target, f"RDS instance {name}", rds, "db_instance_available", TIMEOUT, DELAY,
                                 DBInstanceIdentifier=name),
    )


@aws_task
def ensure_docdb_cluster(target: Target, prefix: str, subnet_group: ServiceResult, group: ServiceResult,
                         dry_run: bool = False) -> ServiceResult:
    security_group_ids = [group.id]
    docdb = target.client("docdb")
    name = docdb_cluster_name(prefix)
    find = partial(_find, docdb, "describe_db_clusters", "DBCluster", prefix, DBClusterIdentifier=name)
    return ensure(
        "docdb cluster", name, prefix, find=find, dry_run=dry_run,
        create=lambda: docdb.create_db_cluster(
            DBClusterIdentifier=name, Engine="docdb", MasterUsername=MASTER_USER, ManageMasterUserPassword=True,
            DBSubnetGroupName=subnet_group.name, VpcSecurityGroupIds=security_group_ids, StorageEncrypted=True,
            Tags=tag_list(owner_tags(prefix))),
        # DocumentDB's client has no cluster waiter.
        wait=lambda: wait_status(target, f"DocumentDB cluster {name}", find, {"available"}, TIMEOUT, DELAY,
                                 failed={"failed", "inaccessible-encryption-credentials"}),
    )


@aws_task
def ensure_docdb_instance(target: Target, prefix: str, settings: DocdbConfig, index: int = 0,
                          dry_run: bool = False) -> ServiceResult:
    docdb = target.client("docdb")
    name = docdb_instance_name(prefix, index)
    return ensure(
        "docdb instance", name, prefix, dry_run=dry_run,
        find=partial(_find, docdb, "describe_db_instances", "DBInstance", prefix, DBInstanceIdentifier=name),
        create=lambda: docdb.create_db_instance(
            DBInstanceIdentifier=name, DBClusterIdentifier=docdb_cluster_name(prefix), Engine="docdb",
            DBInstanceClass=settings.instance_class, Tags=tag_list(owner_tags(prefix))),
        wait=lambda: wait_waiter(target, f"DocumentDB instance {name}", docdb, "db_instance_available", TIMEOUT,
                                 DELAY, DBInstanceIdentifier=name),
    )


# --- teardown: instances before their cluster, the subnet group last -------------------------------


def _delete_instance(target: Target, aws: Any, service: str, name: str, prefix: str, snapshot: dict[str, Any],
                     dry_run: bool) -> ServiceResult:
    return remove(
        target, service, name, dry_run=dry_run,
        find=partial(_find, aws, "describe_db_instances", "DBInstance", prefix, DBInstanceIdentifier=name),
        delete=lambda _: aws.delete_db_instance(DBInstanceIdentifier=name, **snapshot),
        wait=lambda _: wait_waiter(target, f"{service} {name} to be deleted", aws, "db_instance_deleted", TIMEOUT,
                                 DELAY, DBInstanceIdentifier=name),
    )


def _delete_cluster(target: Target, aws: Any, service: str, name: str, prefix: str, dry_run: bool) -> ServiceResult:
    snapshot = _final_snapshot(target, name)
    return remove(
        target, service, name, dry_run=dry_run, timeout=TIMEOUT, delay=DELAY,
        find=partial(_find, aws, "describe_db_clusters", "DBCluster", prefix, DBClusterIdentifier=name),
        delete=lambda _: aws.delete_db_cluster(DBClusterIdentifier=name, **snapshot),
    )


@aws_task
def delete_db_instance(target: Target, prefix: str, settings: RdsConfig, dry_run: bool = False) -> ServiceResult:
    name = db_instance_name(prefix, settings)
    # A cluster's instances take no final snapshot of their own: the cluster's covers them.
    snapshot = {"SkipFinalSnapshot": True} if is_aurora(settings) else _final_snapshot(target, name)
    return _delete_instance(target, target.client("rds"), "rds instance", name, prefix, snapshot, dry_run)


@aws_task
def delete_aurora_cluster(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    return _delete_cluster(target, target.client("rds"), "aurora cluster", aurora_cluster_name(prefix), prefix,
                           dry_run)


@aws_task
def delete_docdb_instance(target: Target, prefix: str, index: int = 0, dry_run: bool = False) -> ServiceResult:
    # DocumentDB's DeleteDBInstance takes no snapshot parameters: the cluster's final snapshot covers its data.
    return _delete_instance(target, target.client("docdb"), "docdb instance", docdb_instance_name(prefix, index),
                            prefix, {}, dry_run)


@aws_task
def delete_docdb_cluster(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    return _delete_cluster(target, target.client("docdb"), "docdb cluster", docdb_cluster_name(prefix), prefix,
                           dry_run)


@aws_task
def delete_db_subnet_group(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    rds = target.client("rds")
    name = subnet_group_name(prefix)
    return remove(target, "db subnet group", name, find=_subnet_group(rds, prefix, name),
                  delete=lambda _: rds.delete_db_subnet_group(DBSubnetGroupName=name), dry_run=dry_run,
                  timeout=300, delay=10)
