"""IAM roles the services assume: EKS cluster and nodes, CodePipeline and CodeBuild, each with its trust
policy, AWS managed policies and, where no managed policy fits, an inline policy scoped to the prefix."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, get_args


from tasks.aws import (
    Found, ServiceResult, aws_task, ensure, is_owned, log, owner_tags, remove, tag_list, unless_missing,
)
from tasks.connections import Target

RoleKind = Literal["eks-cluster", "eks-nodes", "codepipeline", "codebuild"]
ROLE_KINDS: tuple[RoleKind, ...] = get_args(RoleKind)
INLINE_POLICY = "ackflow-bootstrap"
_MANAGED = "arn:aws:iam::aws:policy/"


def _pipeline_policy(prefix: str) -> dict[str, Any]:
    return _policy(
        (["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning", "s3:ListBucket"],
         [f"arn:aws:s3:::{prefix}-*", f"arn:aws:s3:::{prefix}-*/*"]),
        (["codebuild:StartBuild", "codebuild:BatchGetBuilds"], [f"arn:aws:codebuild:*:*:project/{prefix}-*"]),
        # The EKS deploy action describes the cluster and its network, and logs what it runs.
        (["eks:DescribeCluster"], [f"arn:aws:eks:*:*:cluster/{prefix}-*"]),
        (["ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "ec2:DescribeNetworkInterfaces",
          "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"], ["*"]),
        (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         [f"arn:aws:logs:*:*:log-group:/aws/codepipeline/{prefix}*"]),
    )


def _build_policy(prefix: str) -> dict[str, Any]:
    return _policy(
        (["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         [f"arn:aws:logs:*:*:log-group:/aws/codebuild/{prefix}*"]),
        (["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketLocation"],
         [f"arn:aws:s3:::{prefix}-*", f"arn:aws:s3:::{prefix}-*/*"]),
        (["ecr:GetAuthorizationToken"], ["*"]),
        (["ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
          "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         [f"arn:aws:ecr:*:*:repository/{prefix}/*"]),
    )


def _policy(*statements: tuple[list[str], list[str]]) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}
                          for actions, resources in statements]}


@dataclass(frozen=True)
class RoleSpec:
    principal: str  # one service principal, as a plain string: CodePipeline refuses a list (docs/sandbox.md)
    managed: tuple[str, ...] = ()
    inline: Callable[[str], dict[str, Any]] | None = None


ROLES: dict[str, RoleSpec] = {
    "eks-cluster": RoleSpec("eks.amazonaws.com", ("AmazonEKSClusterPolicy",)),
    "eks-nodes": RoleSpec("ec2.amazonaws.com", ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
                                                "AmazonEC2ContainerRegistryReadOnly")),
    "codepipeline": RoleSpec("codepipeline.amazonaws.com", inline=_pipeline_policy),
    "codebuild": RoleSpec("codebuild.amazonaws.com", inline=_build_policy),
}


def role_name(prefix: str, kind: RoleKind) -> str:
    return f"{prefix}-{kind}"


def trust_policy(principal: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": principal}, "Action": "sts:AssumeRole"}]}


def _find(iam: Any, prefix: str, name: str) -> Found | None:
    described = unless_missing(iam.get_role, "NoSuchEntity", RoleName=name)
    if described is None:
        return None
    role = described["Role"]
    return Found(role["Arn"], "available", is_owned(role.get("Tags"), prefix))


def _policy_exists(iam: Any, arn: str) -> bool:
    return unless_missing(iam.get_policy, "NoSuchEntity", PolicyArn=arn) is not None


@aws_task
def ensure_role(target: Target, prefix: str, kind: RoleKind, dry_run: bool = False) -> ServiceResult:
    """The role (its ARN as id), with its managed policies attached and its inline policy as written here."""
    iam = target.client("iam")
    name, spec = role_name(prefix, kind), ROLES[kind]

    def configure(apply: bool) -> bool:
        changed = False
        attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
        for arn in [_MANAGED + policy for policy in spec.managed if _MANAGED + policy not in attached]:
            # moto loads AWS managed policies only when started with MOTO_IAM_LOAD_MANAGED_POLICIES=true.
            if target.kind == "sandbox" and not _policy_exists(iam, arn):
                log().warning("role %s: the sandbox has no AWS managed policy %s; not attached", name, arn)
                continue
            changed = True
            if apply:
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        if spec.inline is not None:
            wanted = spec.inline(prefix)
            policy = unless_missing(iam.get_role_policy, "NoSuchEntity", RoleName=name, PolicyName=INLINE_POLICY)
            current = policy["PolicyDocument"] if policy else None  # boto3 decodes the document to a dict
            if current != wanted:
                changed = True
                if apply:
                    iam.put_role_policy(RoleName=name, PolicyName=INLINE_POLICY, PolicyDocument=json.dumps(wanted))
        return changed

    return ensure(
        "iam role", name, prefix, find=partial(_find, iam, prefix, name), configure=configure, dry_run=dry_run,
        create=lambda: iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy(spec.principal)),
            Description=f"ackflow {prefix}: assumed by {spec.principal}", Tags=tag_list(owner_tags(prefix))),
    )


@aws_task
def delete_role(target: Target, prefix: str, kind: RoleKind, dry_run: bool = False) -> ServiceResult:
    """Detach and delete its policies and instance profiles first: IAM refuses to delete a role that has any."""
    iam = target.client("iam")
    name = role_name(prefix, kind)

    def delete(_: Found) -> None:
        for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for profile in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
        iam.delete_role(RoleName=name)

    return remove(target, "iam role", name, find=partial(_find, iam, prefix, name), delete=delete, dry_run=dry_run,
                  timeout=60, delay=2)
