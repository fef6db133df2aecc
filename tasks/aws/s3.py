"""S3: the artifacts bucket (CodePipeline's source and artifact store) and the backups bucket, both
versioned, encrypted, with public access blocked."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal, get_args

from botocore.exceptions import ClientError

from tasks.aws import (
    OWNER_TAG, Found, ServiceResult, aws_task, ensure, error_code, is_missing, owner_tags, remove, tag_list,
    tag_map, unless_missing, wait_waiter,
)
from tasks.connections import Target

BucketPurpose = Literal["artifacts", "backups"]
BUCKET_PURPOSES: tuple[BucketPurpose, ...] = get_args(BucketPurpose)
PUBLIC_ACCESS_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                         "RestrictPublicBuckets": True}


def bucket_name(prefix: str, purpose: BucketPurpose, account: str, region: str) -> str:
    """Bucket names are global: the account and region make ours unique (at most 20+10+12+15 = 57 of 63 chars)."""
    return f"{prefix}-{purpose}-{account}-{region}"


def bucket_for(target: Target, prefix: str, purpose: BucketPurpose) -> str:
    account = target.client("sts").get_caller_identity()["Account"]
    return bucket_name(prefix, purpose, account, target.region)


def _find(s3: Any, prefix: str, name: str, adopt_untagged: bool) -> Found | None:
    """A bucket in our account with no tags at all can only be one a run made and was stopped before tagging
    (the name holds our prefix, account and region): ensure adopts it, delete leaves it alone."""
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if error_code(exc) == "403":
            return Found(name, "owned by another account", owned=False)
        if is_missing(exc, "NoSuchBucket"):
            return None
        raise
    tagging = unless_missing(s3.get_bucket_tagging, "NoSuchTagSet", Bucket=name)
    if tagging is None:
        return Found(name, "untagged", owned=adopt_untagged)
    return Found(name, "available", tag_map(tagging["TagSet"]).get(OWNER_TAG) == prefix)


def _configure(s3: Any, prefix: str, name: str, apply: bool) -> bool:
    """Tags, versioning, default encryption and the public access block, each only if not already so."""
    changed = False

    def read(call: Any, missing_code: str) -> Any:
        try:
            return call(Bucket=name)
        except ClientError as exc:
            if error_code(exc) != missing_code:
                raise
            return None

    tagging = read(s3.get_bucket_tagging, "NoSuchTagSet")
    tags = tag_map(tagging["TagSet"] if tagging else None)
    if tags.get(OWNER_TAG) != prefix:
        changed = True
        if apply:  # PutBucketTagging replaces the whole set: keep what is there
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(tags | owner_tags(prefix))})
    if s3.get_bucket_versioning(Bucket=name).get("Status") != "Enabled":
        changed = True
        if apply:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if read(s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError") is None:
        changed = True
        if apply:
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    block = read(s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration")
    if (block or {}).get("PublicAccessBlockConfiguration") != PUBLIC_ACCESS_BLOCKED:
        changed = True
        if apply:
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCKED)
    return changed


@aws_task
def ensure_bucket(target: Target, prefix: str, purpose: BucketPurpose, dry_run: bool = False) -> ServiceResult:
    """The bucket (its name as id): S3 takes no tags at CreateBucket, so tagging is the first setting made."""
    s3 = target.client("s3")
    name = bucket_for(target, prefix, purpose)
    # us-east-1 is the one region that takes no location constraint.
    location = {} if target.region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": target.region}}
    return ensure(
        "s3 bucket", name, prefix, find=partial(_find, s3, prefix, name, True), dry_run=dry_run,
        create=lambda: s3.create_bucket(Bucket=name, **location),
        wait=lambda: wait_waiter(target, f"bucket {name}", s3, "bucket_exists", 120, 5, Bucket=name),
        configure=partial(_configure, s3, prefix, name),
    )


@aws_task
def delete_bucket(target: Target, prefix: str, purpose: BucketPurpose, dry_run: bool = False) -> ServiceResult:
    """The bucket and every object version in it (S3 refuses to delete a bucket that is not empty)."""
    s3 = target.client("s3")
    name = bucket_for(target, prefix, purpose)

    def delete(_: Found) -> None:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                       for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if objects:  # a page holds at most 1000, as many as DeleteObjects takes
                s3.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})
        s3.delete_bucket(Bucket=name)

    return remove(target, "s3 bucket", name, find=partial(_find, s3, prefix, name, False), delete=delete,
                  dry_run=dry_run, wait=lambda _: wait_waiter(target, f"bucket {name} to be deleted", s3,
                                                            "bucket_not_exists", 120, 5, Bucket=name))
