"""Manifests and habits brought from ACK behave as ACK makes them behave (docs/ack-table.md).

Edits are made as ACK's users make them: `kubectl patch --type merge`, which can set fields but never remove
one that the patch does not name. Each case then reconciles through the one entrance and checks both sides.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ack.model import ADVISORY, SYNCED, TERMINAL
from tests.integration.tables import (
    Cluster, apply, describe, dynamodb, kubectl, manifest, reconcile_table, simple_spec, unique,
)

pytestmark = pytest.mark.integration

KMS_KEY_ID = "4b1f3c2e-7d0a-4e8f-9b6c-2a5d8e1f0c3b"


@pytest.fixture(scope="module")
def cluster(target) -> Cluster:
    return Cluster(target)


def created(name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None) -> None:
    [outcome] = apply([manifest(name, spec, annotations=annotations)])
    assert (outcome.state, outcome.message) == ("Synced", ""), outcome


def merge_patch(sandbox, name: str, patch: dict[str, Any]) -> None:
    done = kubectl(sandbox, "patch", "tables.dynamodb.services.k8s.aws", name, "--type", "merge",
                   "-p", json.dumps(patch))
    assert done.returncode == 0, done.stderr


def condition(cluster: Cluster, name: str, type_: str) -> dict[str, Any] | None:
    return cluster.condition(name, type_)


# ------------------------------------------------------------------------- what AWS would not use


@pytest.mark.parametrize("before, patch, ignored, check", [
    pytest.param({"streamSpecification": {"streamEnabled": True, "streamViewType": "NEW_IMAGE"}},
                 {"streamSpecification": {"streamEnabled": False}},
                 ["spec.streamSpecification.streamViewType"],
                 lambda table: "StreamSpecification" not in table or not table["StreamSpecification"]["StreamEnabled"],
                 id="stream-off"),
    pytest.param({"sseSpecification": {"enabled": True, "sseType": "KMS", "kmsMasterKeyID": KMS_KEY_ID}},
                 {"sseSpecification": {"enabled": False}},
                 ["spec.sseSpecification.sseType", "spec.sseSpecification.kmsMasterKeyID"],
                 lambda table: table.get("SSEDescription", {}).get("Status") in (None, "DISABLED"),
                 id="sse-off"),
    pytest.param({"billingMode": "PROVISIONED",
                  "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5}},
                 {"billingMode": "PAY_PER_REQUEST"},
                 ["spec.provisionedThroughput"],
                 lambda table: table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST",
                 id="on-demand"),
])
def test_a_merge_patch_that_switches_a_feature_off_is_applied_and_what_it_leaves_is_ignored(
        target, sandbox, cluster, before, patch, ignored, check):
    name = unique("parity")
    created(name, simple_spec(name, **before))
    merge_patch(sandbox, name, {"spec": patch})
    assert reconcile_table("default", name).state == "Synced"
    assert check(describe(target, name))
    advisory = condition(cluster, name, ADVISORY)
    assert advisory is not None and advisory["status"] == "True", advisory
    assert [part.split(":")[0] for part in advisory["message"].split("; ")] == ignored
    assert condition(cluster, name, TERMINAL) is None
    assert condition(cluster, name, SYNCED)["status"] == "True"
    # Once the spec no longer names them, the advisory goes.
    cleared = {"streamSpecification": {"streamEnabled": False, "streamViewType": None}} if "stream" in str(patch) \
        else {"sseSpecification": {"enabled": False, "sseType": None, "kmsMasterKeyID": None}} if "sse" in str(patch) \
        else {"provisionedThroughput": None}
    merge_patch(sandbox, name, {"spec": cleared})
    assert reconcile_table("default", name).state == "Synced"
    assert condition(cluster, name, ADVISORY) is None


# ------------------------------------------------------------------------------------------- resource policy


def policy(action: str, arn: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": action,
        "Resource": arn}]})


def live_policy(target, arn: str) -> dict[str, Any] | None:
    try:
        return json.loads(dynamodb(target).get_resource_policy(ResourceArn=arn)["Policy"])
    except dynamodb(target).exceptions.PolicyNotFoundException:
        return None


def test_a_resource_policy_is_put_changed_and_deleted_when_the_spec_drops_it(target, sandbox, cluster):
    name = unique("policy")
    created(name, simple_spec(name))
    arn = describe(target, name)["TableArn"]
    assert live_policy(target, arn) is None
    for action in ("dynamodb:GetItem", "dynamodb:Query"):
        merge_patch(sandbox, name, {"spec": {"resourcePolicy": policy(action, arn)}})
        assert reconcile_table("default", name).state == "Synced"
        assert live_policy(target, arn)["Statement"][0]["Action"] == action
    assert cluster.get(name)["status"]["managedResourcePolicy"] is True
    merge_patch(sandbox, name, {"spec": {"resourcePolicy": None}})  # a merge patch's null removes the field
    assert reconcile_table("default", name).state == "Synced"
    assert live_policy(target, arn) is None
    assert cluster.get(name)["status"]["managedResourcePolicy"] is False


def test_a_policy_on_an_adopted_table_that_the_spec_never_named_is_kept(target, cluster):
    name = unique("foreign-policy")
    ddb = dynamodb(target)
    arn = ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                           KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                           BillingMode="PAY_PER_REQUEST")["TableDescription"]["TableArn"]
    ddb.put_resource_policy(ResourceArn=arn, Policy=policy("dynamodb:GetItem", arn))
    created(name, simple_spec(name), annotations={"services.k8s.aws/adoption-policy": "adopt-or-create"})
    assert live_policy(target, arn)["Statement"][0]["Action"] == "dynamodb:GetItem"


# ------------------------------------------------------------------------------- tags and adoption, as ACK's

ACK_MADE = {"services.k8s.aws/controller-version": "dynamodb-v1.4.0", "services.k8s.aws/namespace": "PLACEHOLDER"}


def live_tags(target, table: str) -> dict[str, str]:
    arn = describe(target, table)["TableArn"]
    return {t["Key"]: t["Value"] for t in dynamodb(target).list_tags_of_resource(ResourceArn=arn)["Tags"]}


def namespace_of(cluster: Cluster) -> str:
    name = unique("parity")
    cluster.core.create_namespace({"metadata": {"name": name}})
    return name


def made_by_ack(target, table: str, namespace: str, **settings: Any) -> None:
    """A table as ACK's controller leaves it: its two tags besides the user's."""
    tags = {**ACK_MADE, "services.k8s.aws/namespace": namespace, "team": "data"}
    dynamodb(target).create_table(
        TableName=table, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        **(settings or {"BillingMode": "PAY_PER_REQUEST"}))


def test_a_table_made_here_carries_acks_tags_and_the_ownership_under_acks_prefix(target, cluster):
    name = unique("ours")
    created(name, simple_spec(name, tags=[{"key": "team", "value": "data"}]))
    assert live_tags(target, name) == {"team": "data", "services.k8s.aws/namespace": "default",
                                       "services.k8s.aws/controller-version": "dynamodb-ackflow-0.1.0",
                                       "services.k8s.aws/resource": f"default/{name}"}


def test_a_table_acks_controller_made_is_adopted_keeps_acks_tags_and_shows_no_drift(target, cluster, tmp_path):
    from flows.drift import drift
    namespace, name = namespace_of(cluster), unique("from-ack")
    made_by_ack(target, name, namespace)
    [outcome] = apply([manifest(name, simple_spec(name, tags=[{"key": "team", "value": "data"}]), namespace,
                                {"services.k8s.aws/adoption-policy": "adopt-or-create",
                                 "services.k8s.aws/adoption-fields": json.dumps({"tableName": name})})])
    assert (outcome.state, outcome.message) == ("Synced", ""), outcome
    resource = cluster.get(name, namespace)
    assert resource["metadata"]["annotations"]["services.k8s.aws/adopted"] == "true"
    assert live_tags(target, name) == {"team": "data", "services.k8s.aws/namespace": namespace,
                                       "services.k8s.aws/controller-version": "dynamodb-ackflow-0.1.0",
                                       "services.k8s.aws/resource": f"{namespace}/{name}"}
    report = tmp_path / "drift.json"
    result = drift(namespace=namespace, detect_only=True, report_path=str(report))
    assert result.counts["IN_SYNC"] == 1 and not result.drift_found, json.loads(report.read_text())


def test_adopt_writes_the_table_as_it_is_into_the_spec_and_changes_nothing_in_aws(target, sandbox, cluster):
    """ACK's `adopt`: the resource takes the table's settings; `adopt-or-create` (above) applies its own."""
    namespace, name = namespace_of(cluster), unique("adopt")
    made_by_ack(target, name, namespace)
    asked = simple_spec(name, billingMode="PROVISIONED",
                        provisionedThroughput={"readCapacityUnits": 5, "writeCapacityUnits": 5})
    [outcome] = apply([manifest(name, asked, namespace, {"services.k8s.aws/adoption-policy": "adopt"})])
    assert (outcome.state, outcome.message) == ("Synced", ""), outcome
    spec = cluster.get(name, namespace)["spec"]
    assert spec["billingMode"] == "PAY_PER_REQUEST" and "provisionedThroughput" not in spec
    assert spec["tags"] == [{"key": "team", "value": "data"}]
    assert describe(target, name)["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert cluster.get(name, namespace)["metadata"]["annotations"]["services.k8s.aws/adopted"] == "true"


def test_a_table_with_the_former_ownership_tag_stays_its_resources_and_is_retagged(target, cluster):
    name = unique("legacy")
    created(name, simple_spec(name))
    ddb, arn = dynamodb(target), describe(target, name)["TableArn"]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["services.k8s.aws/resource"])  # as ackflow 0.1 tagged it
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "ackflow.dev/resource", "Value": f"default/{name}"}])
    assert reconcile_table("default", name).state == "Synced"
    tags = live_tags(target, name)
    assert tags["services.k8s.aws/resource"] == f"default/{name}" and "ackflow.dev/resource" not in tags


# ------------------------------------------------------------------------- replicas and contributor insights


def in_region(target, region: str):
    import boto3
    return boto3.client("dynamodb", region_name=region, endpoint_url=target.aws_endpoint_url)


def replicas(target, name: str) -> dict[str, str]:
    return {r["RegionName"]: r["ReplicaStatus"] for r in describe(target, name).get("Replicas", [])}


def test_contributor_insights_are_enabled_and_disabled(target, sandbox, cluster):
    name = unique("insights")
    created(name, simple_spec(name))
    for action, statuses in (("ENABLE", ("ENABLING", "ENABLED")), ("DISABLE", ("DISABLING", "DISABLED"))):
        merge_patch(sandbox, name, {"spec": {"contributorInsights": action}})
        assert reconcile_table("default", name).state == "Synced"
        status = dynamodb(target).describe_contributor_insights(TableName=name)["ContributorInsightsStatus"]
        assert status in statuses


def test_replicas_are_created_added_removed_and_removed_before_the_table(target, sandbox, cluster):
    name = unique("replicas")
    stream = {"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"}
    created(name, simple_spec(name, streamSpecification=stream, tableReplicas=[{"regionName": "us-west-2"}]))
    assert replicas(target, name) == {"us-west-2": "ACTIVE"}
    assert in_region(target, "us-west-2").describe_table(TableName=name)["Table"]["TableName"] == name
    merge_patch(sandbox, name, {"spec": {"tableReplicas": [{"regionName": "us-west-2"}, {"regionName": "eu-west-1"}]}})
    assert reconcile_table("default", name).state == "Synced"
    assert replicas(target, name) == {"us-west-2": "ACTIVE", "eu-west-1": "ACTIVE"}
    # A replica the applied spec named and no longer names is removed without an opt-in.
    merge_patch(sandbox, name, {"spec": {"tableReplicas": [{"regionName": "eu-west-1"}]}})
    assert reconcile_table("default", name).state == "Synced"
    assert replicas(target, name) == {"eu-west-1": "ACTIVE"}
    assert name not in in_region(target, "us-west-2").list_tables()["TableNames"]
    cluster.delete(name)
    assert reconcile_table("default", name).state == "Deleted"
    assert name not in dynamodb(target).list_tables()["TableNames"]
    assert name not in in_region(target, "eu-west-1").list_tables()["TableNames"]  # the replica went first


def test_adopt_without_a_table_creates_nothing_and_adopts_it_once_it_exists(target, cluster):
    namespace, name = namespace_of(cluster), unique("adopt-later")
    [waiting] = apply([manifest(name, simple_spec(name), namespace, {"services.k8s.aws/adoption-policy": "adopt"})],
                      timeout_seconds=2)
    assert waiting.state == "Recoverable" and waiting.message.startswith("AdoptedResourceNotFound"), waiting
    recoverable = cluster.condition(name, "ACK.Recoverable", namespace)
    assert recoverable["status"] == "True" and recoverable["reason"] == "AdoptedResourceNotFound"
    assert name not in dynamodb(target).list_tables()["TableNames"]
    made_by_ack(target, name, namespace)
    assert reconcile_table(namespace, name).state == "Synced"
    assert cluster.get(name, namespace)["metadata"]["annotations"]["services.k8s.aws/adopted"] == "true"
    assert cluster.condition(name, "ACK.Recoverable", namespace) is None
