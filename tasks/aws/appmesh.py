"""App Mesh: the mesh the cluster's services join (their virtual nodes and services come with the app)."""

from __future__ import annotations

from functools import partial
from typing import Any


from tasks.aws import (
    Found, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove, tag_list, unless_missing,
    wait_status,
)
from tasks.connections import Target


def mesh_name(prefix: str) -> str:
    return f"{prefix}-mesh"


def _find(appmesh: Any, prefix: str, name: str) -> Found | None:
    described = unless_missing(appmesh.describe_mesh, "NotFoundException", "MeshNotFound", meshName=name)
    if described is None or described["mesh"]["status"]["status"] == "DELETED":  # AWS lists a deleted mesh a while
        return None
    mesh = described["mesh"]
    arn = mesh["metadata"]["arn"]
    tags = appmesh.list_tags_for_resource(resourceArn=arn)["tags"]
    return Found(arn, mesh["status"]["status"], is_owned(tags, prefix))


@aws_task
def ensure_mesh(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    appmesh = target.client("appmesh")
    name = mesh_name(prefix)
    find = partial(_find, appmesh, prefix, name)
    return ensure(
        "app mesh", name, prefix, find=find, dry_run=dry_run,
        # ALLOW_ALL: the services reach AWS APIs (DynamoDB, S3) that are not in the mesh.
        create=lambda: appmesh.create_mesh(meshName=name, spec={"egressFilter": {"type": "ALLOW_ALL"}},
                                           tags=tag_list(owner_tags(prefix), "key", "value")),
        wait=lambda: wait_status(target, f"mesh {name}", find, {"ACTIVE"}, 300, 5, failed={"INACTIVE"}),
    )


@aws_task
def delete_mesh(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    appmesh = target.client("appmesh")
    name = mesh_name(prefix)
    return remove(target, "app mesh", name, find=partial(_find, appmesh, prefix, name), dry_run=dry_run,
                  delete=lambda _: appmesh.delete_mesh(meshName=name), timeout=300, delay=5)
