"""API Gateway: an HTTP API (apigatewayv2: cheaper and simpler than REST, and moto serves its tags) with an
auto-deployed $default stage; the routes to the application come with the application."""

from __future__ import annotations

from functools import partial
from typing import Any

from tasks.aws import Found, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove
from tasks.connections import Target


def api_name(prefix: str) -> str:
    return f"{prefix}-api"


def _find(apigw: Any, prefix: str, name: str) -> Found | None:
    """API names need not be unique: ours is the one with the name and our tag; others are ignored."""
    for page in apigw.get_paginator("get_apis").paginate():
        for api in page["Items"]:
            if api["Name"] == name and is_owned(api.get("Tags"), prefix):
                return Found(api["ApiId"], f"available at {api.get('ApiEndpoint', '?')}")
    return None


@aws_task
def ensure_http_api(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    apigw = target.client("apigatewayv2")
    name = api_name(prefix)
    find = partial(_find, apigw, prefix, name)

    def configure(apply: bool) -> bool:
        api_id = find().id
        if any(s["StageName"] == "$default" for s in apigw.get_stages(ApiId=api_id)["Items"]):
            return False
        if apply:
            apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True, Tags=owner_tags(prefix))
        return True

    return ensure(
        "api gateway", name, prefix, find=find, configure=configure, dry_run=dry_run,
        create=lambda: apigw.create_api(Name=name, ProtocolType="HTTP", Tags=owner_tags(prefix),
                                        Description=f"ackflow {prefix}: the application"),
    )


@aws_task
def delete_http_api(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    apigw = target.client("apigatewayv2")
    name = api_name(prefix)
    return remove(target, "api gateway", name, find=partial(_find, apigw, prefix, name), dry_run=dry_run,
                  delete=lambda found: apigw.delete_api(ApiId=found.id), timeout=60, delay=2)
