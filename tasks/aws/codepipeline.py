"""CodePipeline with CodeBuild: build and test projects, and a pipeline Source (S3) -> Build -> Test ->
Deploy (CodePipeline's own EKS action, which applies the built manifests to the bootstrap's cluster)."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal, get_args


from bootstrap.config import CodepipelineConfig
from tasks.aws import (
    Found, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove, tag_list, unless_missing,
)
from tasks.aws.eks import cluster_name
from tasks.connections import Target

BuildStage = Literal["build", "test"]
BUILD_STAGES: tuple[BuildStage, ...] = get_args(BuildStage)
MANIFEST = "k8s/app.yaml"  # in the source: the Deployment and Service, with IMAGE_URI where the image goes

BUILDSPECS: dict[str, str] = {
    "build": f"""version: 0.2
phases:
  pre_build:
    commands:
      - aws ecr get-login-password | docker login --username AWS --password-stdin "${{REPOSITORY_URI%%/*}}"
      - IMAGE="$REPOSITORY_URI:${{CODEBUILD_RESOLVED_SOURCE_VERSION:-latest}}"
  build:
    commands:
      - docker build -t "$IMAGE" .
      - docker push "$IMAGE"
      - sed -i "s|IMAGE_URI|$IMAGE|g" {MANIFEST}
artifacts:
  files:
    - {MANIFEST}
""",
    "test": """version: 0.2
phases:
  build:
    commands:
      - make test
""",
}


def project_name(prefix: str, stage: BuildStage) -> str:
    return f"{prefix}-{stage}"


def pipeline_name(prefix: str) -> str:
    return f"{prefix}-pipeline"


def build_log_group(prefix: str) -> str:
    return f"/aws/codebuild/{prefix}"


def _find_project(codebuild: Any, prefix: str, name: str) -> Found | None:
    projects = codebuild.batch_get_projects(names=[name])["projects"]
    return Found(projects[0]["arn"], "available", is_owned(projects[0].get("tags"), prefix)) if projects else None


@aws_task
def ensure_build_project(target: Target, prefix: str, stage: BuildStage, settings: CodepipelineConfig,
                         role: ServiceResult, bucket: ServiceResult, repository: ServiceResult | None,
                         dry_run: bool = False) -> ServiceResult:
    """A CodeBuild project for one stage, building into `repository` (ECR; none configured: no push). Its own
    source is the S3 object the pipeline watches (moto, unlike AWS, refuses a CODEPIPELINE source without a
    location); inside the pipeline, CodePipeline hands it the input."""
    codebuild = target.client("codebuild")
    role_arn, artifacts_bucket, repository_uri = role.id, bucket.name, repository.id if repository else ""
    name = project_name(prefix, stage)
    return ensure(
        "codebuild project", name, prefix, find=partial(_find_project, codebuild, prefix, name), dry_run=dry_run,
        create=lambda: codebuild.create_project(
            name=name, description=f"ackflow {prefix}: {stage}", serviceRole=role_arn,
            source={"type": "S3", "location": f"{artifacts_bucket}/{settings.source_key}",
                    "buildspec": BUILDSPECS[stage]},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={"type": "LINUX_CONTAINER", "image": settings.build_image, "computeType": settings.compute_type,
                         "privilegedMode": stage == "build",  # docker build needs it
                         "environmentVariables": [{"name": "REPOSITORY_URI", "value": repository_uri,
                                                   "type": "PLAINTEXT"}]},
            logsConfig={"cloudWatchLogs": {"status": "ENABLED", "groupName": build_log_group(prefix)}},
            tags=tag_list(owner_tags(prefix), "key", "value")),
    )


def _find_pipeline(codepipeline: Any, prefix: str, name: str) -> Found | None:
    pipeline = unless_missing(codepipeline.get_pipeline, "PipelineNotFoundException", name=name)
    if pipeline is None:
        return None
    arn = pipeline["metadata"]["pipelineArn"]
    return Found(arn, "available", is_owned(codepipeline.list_tags_for_resource(resourceArn=arn)["tags"], prefix))


def _action(name: str, category: str, provider: str, configuration: dict[str, str],
            inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"name": name, "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration, "inputArtifacts": [{"name": a} for a in inputs],
            "outputArtifacts": [{"name": a} for a in outputs]}


def pipeline_definition(prefix: str, settings: CodepipelineConfig, role_arn: str, artifacts_bucket: str) -> dict:
    stages = [
        ("Source", _action("Source", "Source", "S3", {"S3Bucket": artifacts_bucket, "S3ObjectKey": settings.source_key,
                                                       "PollForSourceChanges": "true"}, outputs=("source",))),
        ("Build", _action("Build", "Build", "CodeBuild", {"ProjectName": project_name(prefix, "build")},
                          inputs=("source",), outputs=("manifests",))),
        ("Test", _action("Test", "Test", "CodeBuild", {"ProjectName": project_name(prefix, "test")},
                         inputs=("source",))),
        ("Deploy", _action("Deploy", "Deploy", "EKS", {"ClusterName": cluster_name(prefix), "ManifestFiles": MANIFEST},
                           inputs=("manifests",))),
    ]
    return {"name": pipeline_name(prefix), "roleArn": role_arn, "pipelineType": "V2",  # the EKS action needs V2
            "artifactStore": {"type": "S3", "location": artifacts_bucket},
            "stages": [{"name": stage, "actions": [action]} for stage, action in stages]}


@aws_task
def ensure_pipeline(target: Target, prefix: str, settings: CodepipelineConfig, role: ServiceResult,
                    bucket: ServiceResult, dry_run: bool = False) -> ServiceResult:
    """The pipeline; its role must trust "codepipeline.amazonaws.com" as a plain string (iam.ROLES does)."""
    codepipeline = target.client("codepipeline")
    role_arn, artifacts_bucket = role.id, bucket.name
    name = pipeline_name(prefix)
    return ensure(
        "codepipeline", name, prefix, find=partial(_find_pipeline, codepipeline, prefix, name), dry_run=dry_run,
        create=lambda: codepipeline.create_pipeline(
            pipeline=pipeline_definition(prefix, settings, role_arn, artifacts_bucket),
            tags=tag_list(owner_tags(prefix), "key", "value")),
    )


@aws_task
def delete_pipeline(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    codepipeline = target.client("codepipeline")
    name = pipeline_name(prefix)
    return remove(target, "codepipeline", name, find=partial(_find_pipeline, codepipeline, prefix, name),
                  delete=lambda _: codepipeline.delete_pipeline(name=name), dry_run=dry_run, timeout=60, delay=2)


@aws_task
def delete_build_project(target: Target, prefix: str, stage: BuildStage, dry_run: bool = False) -> ServiceResult:
    codebuild = target.client("codebuild")
    name = project_name(prefix, stage)
    return remove(target, "codebuild project", name, find=partial(_find_project, codebuild, prefix, name),
                  delete=lambda _: codebuild.delete_project(name=name), dry_run=dry_run, timeout=60, delay=2)
