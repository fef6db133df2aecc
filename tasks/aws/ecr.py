"""ECR: the sample application's image repository, scanned on push, with a lifecycle policy keeping the
newest images only."""

from __future__ import annotations

import json
from functools import partial
from typing import Any


from bootstrap.config import EcrConfig
from tasks.aws import (
    Found, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove, tag_list, unless_missing,
)
from tasks.connections import Target


def repository_name(prefix: str, settings: EcrConfig) -> str:
    return f"{prefix}/{settings.repository}"


def lifecycle_policy(settings: EcrConfig) -> dict[str, Any]:
    return {"rules": [{
        "rulePriority": 1,
        "description": f"keep the newest {settings.keep_last_images} images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": settings.keep_last_images},
        "action": {"type": "expire"},
    }]}


def _repository(ecr: Any, name: str) -> dict[str, Any] | None:
    described = unless_missing(ecr.describe_repositories, "RepositoryNotFoundException", repositoryNames=[name])
    return described["repositories"][0] if described else None


def _find(ecr: Any, prefix: str, name: str) -> Found | None:
    repository = _repository(ecr, name)
    if repository is None:
        return None
    tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]
    return Found(repository["repositoryUri"], "available", is_owned(tags, prefix))


@aws_task
def ensure_repository(target: Target, prefix: str, settings: EcrConfig, dry_run: bool = False) -> ServiceResult:
    """The repository; its URI is the result's id (the image the sample application is deployed from)."""
    ecr = target.client("ecr")
    name = repository_name(prefix, settings)

    def configure(apply: bool) -> bool:
        changed = False
        repository = _repository(ecr, name)
        if repository["imageScanningConfiguration"]["scanOnPush"] != settings.scan_on_push:
            changed = True
            if apply:
                ecr.put_image_scanning_configuration(
                    repositoryName=name, imageScanningConfiguration={"scanOnPush": settings.scan_on_push})
        policy = unless_missing(ecr.get_lifecycle_policy, "LifecyclePolicyNotFoundException", repositoryName=name)
        current = json.loads(policy["lifecyclePolicyText"]) if policy else None
        if current != (wanted := lifecycle_policy(settings)):
            changed = True
            if apply:
                ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(wanted))
        return changed

    return ensure(
        "ecr repository", name, prefix, find=partial(_find, ecr, prefix, name), configure=configure, dry_run=dry_run,
        create=lambda: ecr.create_repository(
            repositoryName=name, imageTagMutability="MUTABLE",
            imageScanningConfiguration={"scanOnPush": settings.scan_on_push},
            encryptionConfiguration={"encryptionType": "AES256"}, tags=tag_list(owner_tags(prefix))),
    )


@aws_task
def delete_repository(target: Target, prefix: str, settings: EcrConfig, dry_run: bool = False) -> ServiceResult:
    """The repository and the images in it."""
    ecr = target.client("ecr")
    name = repository_name(prefix, settings)
    return remove(target, "ecr repository", name, find=partial(_find, ecr, prefix, name), dry_run=dry_run,
                  delete=lambda _: ecr.delete_repository(repositoryName=name, force=True), timeout=60, delay=2)
