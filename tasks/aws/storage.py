"""Storage: an EBS volume (in the first subnet's zone) and an EFS file system with a mount target in each
subnet, for the cluster's StorageClasses."""

from __future__ import annotations

from functools import partial
from typing import Any


from bootstrap.config import StorageConfig
from tasks.aws import (
    Found, NotOwnedError, ServiceResult, aws_task, ec2_filters, ensure, is_owned, owner_tags, remove,
    tag_list, unless_missing, wait_gone, wait_status, wait_waiter,
)
from tasks.connections import Target


def volume_name(prefix: str) -> str:
    return f"{prefix}-data"


def file_system_name(prefix: str) -> str:
    return f"{prefix}-shared"


# --- EBS -------------------------------------------------------------------------------------------


def _find_volume(ec2: Any, prefix: str) -> Found | None:
    volumes = [v for v in ec2.describe_volumes(Filters=ec2_filters(prefix, volume_name(prefix)))["Volumes"]
               if v["State"] not in ("deleting", "deleted")]
    return Found(volumes[0]["VolumeId"], volumes[0]["State"]) if volumes else None


@aws_task
def ensure_ebs_volume(target: Target, prefix: str, settings: StorageConfig, subnets: list[ServiceResult],
                      dry_run: bool = False) -> ServiceResult:
    """The volume, in the zone of the first of `subnets` (a default subnet is named by its zone, ours
    PREFIX-ZONE): a volume lives in one zone."""
    ec2 = target.client("ec2")
    availability_zone = subnets[0].name.rsplit(f"{prefix}-", 1)[-1]
    name = volume_name(prefix)
    find = partial(_find_volume, ec2, prefix)
    return ensure(
        "ebs volume", name, prefix, find=find, dry_run=dry_run,
        create=lambda: ec2.create_volume(
            AvailabilityZone=availability_zone, Size=settings.ebs_size_gib, VolumeType=settings.ebs_volume_type,
            Encrypted=True, TagSpecifications=[{"ResourceType": "volume", "Tags": tag_list(owner_tags(prefix, name))}]),
        # Not the volume_available waiter: a volume the application attached ("in-use") is usable too.
        wait=lambda: wait_status(target, f"EBS volume {name}", find, {"available", "in-use"}, 600, 5,
                                 failed={"error"}),
    )


@aws_task
def delete_ebs_volume(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    ec2 = target.client("ec2")
    name = volume_name(prefix)
    find = partial(_find_volume, ec2, prefix)
    return remove(target, "ebs volume", name, find=find, dry_run=dry_run,
                  delete=lambda found: ec2.delete_volume(VolumeId=found.id),
                  # By id: with filters the answer is an empty list, which the waiter's acceptors never match.
                  wait=lambda found: wait_waiter(target, f"EBS volume {name} to be deleted", ec2, "volume_deleted",
                                                 600, 5, VolumeIds=[found.id]))


# --- EFS -------------------------------------------------------------------------------------------


def _find_file_system(efs: Any, prefix: str, **by: str) -> Found | None:
    described = unless_missing(efs.describe_file_systems, "FileSystemNotFound", **by)
    systems = [fs for fs in (described or {}).get("FileSystems", []) if fs["LifeCycleState"] != "deleted"]
    if not systems:
        return None
    return Found(systems[0]["FileSystemId"], systems[0]["LifeCycleState"], is_owned(systems[0].get("Tags"), prefix))


@aws_task
def ensure_file_system(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    """Found by its creation token, the name: CreateFileSystem itself is idempotent on it."""
    efs = target.client("efs")
    name = file_system_name(prefix)
    find = partial(_find_file_system, efs, prefix, CreationToken=name)
    return ensure(
        "efs file system", name, prefix, find=find, dry_run=dry_run,
        create=lambda: efs.create_file_system(
            CreationToken=name, PerformanceMode="generalPurpose", ThroughputMode="elastic", Encrypted=True,
            Tags=tag_list(owner_tags(prefix, name))),
        # EFS's client has no waiters.
        wait=lambda: wait_status(target, f"EFS file system {name}", find, {"available"}, 600, 5, failed={"error"}),
    )


def _find_mount_target(efs: Any, prefix: str, file_system_id: str, subnet_id: str) -> Found | None:
    """Mount targets take no tags: they are ours when their file system is."""
    if not file_system_id:  # a plan before the file system exists
        return None
    file_system = _find_file_system(efs, prefix, FileSystemId=file_system_id)
    if file_system is None:
        return None
    targets = [t for t in efs.describe_mount_targets(FileSystemId=file_system_id)["MountTargets"]
               if t["SubnetId"] == subnet_id and t["LifeCycleState"] not in ("deleting", "deleted")]
    return Found(targets[0]["MountTargetId"], targets[0]["LifeCycleState"], file_system.owned) if targets else None


@aws_task
def ensure_mount_targets(target: Target, prefix: str, file_system: ServiceResult, subnets: list[ServiceResult],
                         group: ServiceResult, dry_run: bool = False) -> list[ServiceResult]:
    """A mount target of the file system in each subnet."""
    return [_ensure_mount_target(target, prefix, file_system.id, subnet.id, [group.id], dry_run) for subnet in subnets]


def _ensure_mount_target(target: Target, prefix: str, file_system_id: str, subnet_id: str,
                         security_group_ids: list[str], dry_run: bool) -> ServiceResult:
    efs = target.client("efs")
    name = f"{file_system_name(prefix)}/{subnet_id}"
    find = partial(_find_mount_target, efs, prefix, file_system_id, subnet_id)

    def create() -> None:
        file_system = _find_file_system(efs, prefix, FileSystemId=file_system_id)
        if file_system is None or not file_system.owned:
            raise NotOwnedError(f"EFS file system {file_system_id!r} is not this bootstrap's: no mount target added")
        efs.create_mount_target(FileSystemId=file_system_id, SubnetId=subnet_id, SecurityGroups=security_group_ids)

    return ensure("efs mount target", name, prefix, find=find, create=create, dry_run=dry_run,
                  wait=lambda: wait_status(target, f"EFS mount target {name}", find, {"available"}, 600, 5,
                                           failed={"error"}))


@aws_task
def delete_file_system(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    """Its mount targets first (EFS refuses to delete a file system that has any), then the file system."""
    efs = target.client("efs")
    name = file_system_name(prefix)

    def delete(found: Found) -> None:
        for mount in efs.describe_mount_targets(FileSystemId=found.id)["MountTargets"]:
            efs.delete_mount_target(MountTargetId=mount["MountTargetId"])
        wait_gone(target, f"the mount targets of {name}", lambda: next(
            (Found(m["MountTargetId"], m["LifeCycleState"])
             for m in efs.describe_mount_targets(FileSystemId=found.id)["MountTargets"]), None), 600, 5)
        efs.delete_file_system(FileSystemId=found.id)

    return remove(target, "efs file system", name, find=partial(_find_file_system, efs, prefix, CreationToken=name),
                  delete=delete, dry_run=dry_run, timeout=600, delay=5)
