"""CloudWatch: log groups with retention (made before the services that write to them, so they carry our
tag and retention rather than AWS's never-expire default), alarms on the cluster and database, and a
dashboard of the same metrics."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from pydantic import BaseModel

from bootstrap.config import BootstrapConfig
from tasks.aws import (
    OWNER_TAG, Found, ServiceResult, aws_task, ensure, is_owned, owner_tags, remove, tag_list,
    unless_missing,
)
from tasks.aws.codepipeline import build_log_group
from tasks.aws.databases import db_instance_name
from tasks.aws.eks import cluster_log_group, cluster_name
from tasks.connections import Target


class LogGroupSpec(BaseModel):
    name: str
    retention_days: int


class AlarmSpec(BaseModel):
    name: str
    description: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    threshold: float
    statistic: str = "Average"
    period: int = 300
    evaluation_periods: int = 2


def log_group_specs(config: BootstrapConfig) -> list[LogGroupSpec]:
    """The groups EKS, the cluster's agents (Container Insights, Fluent Bit) and CodeBuild write to."""
    prefix, names = config.prefix, []
    if config.eks.enabled:
        insights = f"/aws/containerinsights/{cluster_name(prefix)}"
        names += [cluster_log_group(prefix), f"{insights}/application", f"{insights}/performance"]
    if config.codepipeline.enabled:
        names.append(build_log_group(prefix))
    return [LogGroupSpec(name=name, retention_days=config.cloudwatch.log_retention_days) for name in names]


def alarm_specs(config: BootstrapConfig) -> list[AlarmSpec]:
    prefix, limits, specs = config.prefix, config.cloudwatch.alarms, []
    if config.eks.enabled:
        cluster = {"ClusterName": cluster_name(prefix)}
        specs += [
            AlarmSpec(name=f"{prefix}-node-cpu", description="Cluster nodes' CPU is high",
                      namespace="ContainerInsights", metric="node_cpu_utilization", dimensions=cluster,
                      threshold=limits.node_cpu_percent),
            AlarmSpec(name=f"{prefix}-node-memory", description="Cluster nodes' memory is high",
                      namespace="ContainerInsights", metric="node_memory_utilization", dimensions=cluster,
                      threshold=limits.node_memory_percent),
        ]
    if config.rds.enabled:
        specs.append(AlarmSpec(name=f"{prefix}-database-cpu", description="The database's CPU is high",
                               namespace="AWS/RDS", metric="CPUUtilization", threshold=limits.database_cpu_percent,
                               dimensions={"DBInstanceIdentifier": db_instance_name(prefix, config.rds)}))
    return specs


def dashboard_name(prefix: str) -> str:
    return prefix


def dashboard_body(prefix: str, region: str, alarms: list[AlarmSpec]) -> dict[str, Any]:
    """Dashboards take no tags: the first widget carries the ownership mark instead."""
    mark = {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1,
            "properties": {"markdown": f"Made by the ackflow bootstrap ({OWNER_TAG}={prefix}); edits are overwritten."}}
    graphs = [{"type": "metric", "x": 12 * (i % 2), "y": 1 + 6 * (i // 2), "width": 12, "height": 6,
               "properties": {"title": a.description, "region": region, "stat": a.statistic, "period": a.period,
                              "metrics": [[a.namespace, a.metric, *[x for kv in a.dimensions.items() for x in kv]]],
                              "annotations": {"horizontal": [{"label": a.name, "value": a.threshold}]}}}
              for i, a in enumerate(alarms)]
    return {"widgets": [mark, *graphs]}


# --- log groups ------------------------------------------------------------------------------------


def _find_log_group(logs: Any, prefix: str, name: str) -> Found | None:
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    if not groups:
        return None
    arn = groups[0].get("logGroupArn") or groups[0]["arn"].removesuffix(":*")
    days = groups[0].get("retentionInDays")
    return Found(arn, f"retention {days} days" if days else "never expires",
                 is_owned(logs.list_tags_for_resource(resourceArn=arn)["tags"], prefix))


@aws_task
def ensure_log_group(target: Target, prefix: str, spec: LogGroupSpec, dry_run: bool = False) -> ServiceResult:
    logs = target.client("logs")
    find = partial(_find_log_group, logs, prefix, spec.name)

    def configure(apply: bool) -> bool:
        if find().status == f"retention {spec.retention_days} days":
            return False
        if apply:
            logs.put_retention_policy(logGroupName=spec.name, retentionInDays=spec.retention_days)
        return True

    return ensure("log group", spec.name, prefix, find=find, configure=configure, dry_run=dry_run,
                  create=lambda: logs.create_log_group(logGroupName=spec.name, tags=owner_tags(prefix)))


@aws_task
def delete_log_group(target: Target, prefix: str, name: str, dry_run: bool = False) -> ServiceResult:
    logs = target.client("logs")
    return remove(target, "log group", name, find=partial(_find_log_group, logs, prefix, name), dry_run=dry_run,
                  delete=lambda _: logs.delete_log_group(logGroupName=name), timeout=60, delay=2)


# --- alarms ----------------------------------------------------------------------------------------


def _find_alarm(cloudwatch: Any, prefix: str, name: str) -> Found | None:
    alarms = cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    if not alarms:
        return None
    arn = alarms[0]["AlarmArn"]
    tags = cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"]
    return Found(arn, alarms[0]["StateValue"], is_owned(tags, prefix))


def _alarm_params(spec: AlarmSpec) -> dict[str, Any]:
    return {"AlarmName": spec.name, "AlarmDescription": spec.description, "Namespace": spec.namespace,
            "MetricName": spec.metric, "Dimensions": tag_list(spec.dimensions, "Name", "Value"),
            "Statistic": spec.statistic, "Period": spec.period, "EvaluationPeriods": spec.evaluation_periods,
            "Threshold": spec.threshold, "ComparisonOperator": "GreaterThanThreshold",
            # No data (nodes not reporting yet, a stopped database) is not an alarm.
            "TreatMissingData": "notBreaching"}


@aws_task
def ensure_alarm(target: Target, prefix: str, spec: AlarmSpec, dry_run: bool = False) -> ServiceResult:
    cloudwatch = target.client("cloudwatch")
    params = _alarm_params(spec)

    def configure(apply: bool) -> bool:
        alarm = cloudwatch.describe_alarms(AlarmNames=[spec.name], AlarmTypes=["MetricAlarm"])["MetricAlarms"][0]
        if all(alarm.get(key) == value for key, value in params.items()):
            return False
        if apply:  # PutMetricAlarm replaces the alarm's definition in place
            cloudwatch.put_metric_alarm(**params)
        return True

    return ensure("alarm", spec.name, prefix, find=partial(_find_alarm, cloudwatch, prefix, spec.name),
                  configure=configure, dry_run=dry_run,
                  create=lambda: cloudwatch.put_metric_alarm(**params, Tags=tag_list(owner_tags(prefix))))


@aws_task
def delete_alarm(target: Target, prefix: str, name: str, dry_run: bool = False) -> ServiceResult:
    cloudwatch = target.client("cloudwatch")
    return remove(target, "alarm", name, find=partial(_find_alarm, cloudwatch, prefix, name), dry_run=dry_run,
                  delete=lambda _: cloudwatch.delete_alarms(AlarmNames=[name]), timeout=60, delay=2)


# --- dashboard -------------------------------------------------------------------------------------


def _dashboard(cloudwatch: Any, name: str) -> dict[str, Any] | None:
    return unless_missing(cloudwatch.get_dashboard, "ResourceNotFound", "ResourceNotFoundException", DashboardName=name)


def _find_dashboard(cloudwatch: Any, prefix: str, name: str) -> Found | None:
    dashboard = _dashboard(cloudwatch, name)
    if dashboard is None:
        return None
    return Found(dashboard["DashboardArn"], "available", f"({OWNER_TAG}={prefix})" in dashboard["DashboardBody"])


@aws_task
def ensure_dashboard(target: Target, prefix: str, alarms: list[AlarmSpec], dry_run: bool = False) -> ServiceResult:
    cloudwatch = target.client("cloudwatch")
    name = dashboard_name(prefix)
    body = dashboard_body(prefix, target.region, alarms)

    def configure(apply: bool) -> bool:
        if json.loads(_dashboard(cloudwatch, name)["DashboardBody"]) == body:
            return False
        if apply:
            cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
        return True

    return ensure("dashboard", name, prefix, find=partial(_find_dashboard, cloudwatch, prefix, name),
                  configure=configure, dry_run=dry_run,
                  create=lambda: cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body)))


@aws_task
def delete_dashboard(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    cloudwatch = target.client("cloudwatch")
    name = dashboard_name(prefix)
    return remove(target, "dashboard", name, find=partial(_find_dashboard, cloudwatch, prefix, name),
                  dry_run=dry_run, delete=lambda _: cloudwatch.delete_dashboards(DashboardNames=[name]),
                  timeout=60, delay=2)
