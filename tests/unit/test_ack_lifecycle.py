"""decide(): every lifecycle decision of the reconciler, case by case, without servers."""

from __future__ import annotations

import json

import pytest

from ack.lifecycle import (
    AWS, SANDBOX, Adopt, AwaitTable, Converge, Create, Delete, Observe, Refuse, Retain, decide, refusal,
)
from ack.tags import OWNER_TAG
from ack.plan import Plan
from tests.unit.resources import SPEC, live, resource


# ------------------------------------------------------------------------------------------- creating


def test_a_new_resource_creates_its_table_tagged_as_its_own():
    decision = decide(resource(), None)
    assert isinstance(decision, Create)
    assert decision.params["TableName"] == "orders"
    assert {"Key": OWNER_TAG, "Value": "shop/orders"} in decision.params["Tags"]


def test_a_table_deleted_outside_the_cluster_is_created_again_only_on_opt_in():
    refused = decide(resource(owned="orders"), None)
    assert isinstance(refused, Refuse) and refused.reason == "TableMissing"
    assert "ackflow.dev/recreate-missing" in refused.message
    assert isinstance(decide(resource(annotations={"ackflow.dev/recreate-missing": "true"}, owned="orders"), None),
                      Create)


# ------------------------------------------------------------------------------------------- ownership


def test_the_owners_table_converges():
    decision = decide(resource(), live())
    assert isinstance(decision, Converge) and decision.differences == []


def test_a_table_owned_by_another_resource_is_never_touched():
    decision = decide(resource(namespace="other"), live(owner="shop/orders"))
    assert decision == Refuse("OwnedElsewhere", "the table orders is managed by the resource shop/orders")


def test_a_foreign_table_is_refused_without_adoption():
    decision = decide(resource(), live(owner=None))
    assert isinstance(decision, Refuse) and decision.reason == "TableExists"
    assert "services.k8s.aws/adoption-policy: adopt" in decision.message


@pytest.mark.parametrize("policy", ["adopt", "adopt-or-create"])
def test_adoption_tags_the_foreign_table(policy):
    decision = decide(resource(annotations={"services.k8s.aws/adoption-policy": policy}), live(owner=None))
    assert isinstance(decision, Adopt)
    assert decision.step.api == "TagResource"
    assert decision.step.params["Tags"] == [{"Key": OWNER_TAG, "Value": "shop/orders"}]


def test_adopt_needs_a_table_and_adopt_or_create_makes_one():
    waiting = decide(resource(annotations={"services.k8s.aws/adoption-policy": "adopt"}), None)
    assert isinstance(waiting, AwaitTable) and "nothing is created" in waiting.message  # ACK retries, never creates
    assert isinstance(decide(resource(annotations={"services.k8s.aws/adoption-policy": "adopt-or-create"}), None),
                      Create)


def test_adoption_fields_must_name_the_specs_table():
    annotations = {"services.k8s.aws/adoption-policy": "adopt",
                   "services.k8s.aws/adoption-fields": json.dumps({"tableName": "other"})}
    decision = decide(resource(annotations=annotations), live(owner=None))
    assert isinstance(decision, Refuse) and decision.reason == "InvalidAnnotation"
    assert "services.k8s.aws/adoption-fields" in decision.message and "'other'" in decision.message


@pytest.mark.parametrize(("annotations", "field"), [
    ({"services.k8s.aws/adoption-policy": "take"}, "metadata.annotations[services.k8s.aws/adoption-policy]"),
    ({"services.k8s.aws/adoption-policy": "adopt", "services.k8s.aws/adoption-fields": "{not json"},
     "metadata.annotations[services.k8s.aws/adoption-fields]"),
    ({"services.k8s.aws/deletion-policy": "keep"}, "metadata.annotations[services.k8s.aws/deletion-policy]"),
])
def test_an_annotation_not_understood_is_refused_naming_it(annotations, field):
    decision = decide(resource(annotations=annotations), live())
    assert isinstance(decision, Refuse) and decision.reason == "InvalidAnnotation"
    assert decision.message.startswith(field)


# ------------------------------------------------------------------------------------------- the spec


def test_a_rename_needs_a_new_resource_and_creates_nothing():
    decision = decide(resource({**SPEC, "tableName": "orders-v2"}, owned="orders"), None)
    assert isinstance(decision, Refuse) and decision.reason == "RequiresReplacement"
    assert 'the table "orders" stays' in decision.message


def test_a_key_schema_change_requires_replacement():
    spec = {**SPEC, "attributeDefinitions": [*SPEC["attributeDefinitions"], {"attributeName": "at",
                                                                              "attributeType": "N"}],
            "keySchema": [*SPEC["keySchema"], {"attributeName": "at", "keyType": "RANGE"}]}
    decision = decide(resource(spec), live())
    assert isinstance(decision, Refuse) and decision.reason == "RequiresReplacement"
    assert decision.message.startswith("spec.keySchema: requires replacement")


def test_an_invalid_spec_is_refused_before_aws_is_asked():
    spec = {**SPEC, "billingMode": "PROVISIONED"}  # no throughput
    refused = refusal(resource(spec), AWS)
    assert refused is not None and refused.reason == "InvalidSpec"
    assert "spec.provisionedThroughput" in refused.message


def test_what_the_endpoint_does_not_serve_is_refused_naming_the_field():
    spec = {**SPEC, "sseSpecification": {"enabled": True, "kmsMasterKeyRef": {"from": {"name": "key"}}}}
    refused = refusal(resource(spec), SANDBOX)
    assert refused.reason == "Unsupported"
    assert "spec.sseSpecification.kmsMasterKeyRef: is not served by the sandbox's AWS endpoint" in refused.message
    insights = {**SPEC, "contributorInsights": "ENABLED"}
    assert refusal(resource(insights), AWS) is None and refusal(resource(insights), SANDBOX) is None


def test_an_index_the_spec_never_named_is_kept_without_the_opt_in():
    extra = {"IndexName": "extra", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}, "IndexStatus": "ACTIVE"}
    decision = decide(resource(), live(GlobalSecondaryIndexes=[extra]))
    assert isinstance(decision, Refuse) and decision.reason == "DestructiveChange"
    assert "ackflow.dev/allow-destructive" in decision.message
    opted_in = decide(resource(annotations={"ackflow.dev/allow-destructive": "true"}),
                      live(GlobalSecondaryIndexes=[extra]))
    assert isinstance(opted_in, Converge) and opted_in.plan.steps[0].destructive
    removed_from_spec = decide(resource(managed_indexes=["extra"]), live(GlobalSecondaryIndexes=[extra]))
    assert isinstance(removed_from_spec, Converge) and not removed_from_spec.plan.steps[0].destructive


def test_a_busy_table_is_waited_for():
    decision = decide(resource({**SPEC, "tags": [{"key": "team", "value": "a"}], "tableClass":
                                "STANDARD_INFREQUENT_ACCESS"}), live(status="UPDATING"))
    assert isinstance(decision, Converge) and decision.plan.wait == "the table is UPDATING"
    assert [s.api for s in decision.plan.steps] == ["TagResource"]  # tags go whatever the status


def test_a_table_as_the_spec_says_is_synced_only_once_aws_is_done_with_it():
    index = {"IndexName": "by-id", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}, "IndexStatus": "CREATING"}
    spec = {**SPEC, "globalSecondaryIndexes": [{"indexName": "by-id", "projection": {"projectionType": "ALL"},
                                                "keySchema": [{"attributeName": "id", "keyType": "HASH"}]}]}
    decision = decide(resource(spec), live(status="UPDATING", GlobalSecondaryIndexes=[index]))
    assert decision == Converge(Plan(wait="the table is UPDATING"), [])
    decision = decide(resource(spec), live(GlobalSecondaryIndexes=[index]))
    assert decision == Converge(Plan(wait="index by-id is CREATING"), [])
    assert decide(resource(spec), live(GlobalSecondaryIndexes=[{**index, "IndexStatus": "ACTIVE"}])) == \
        Converge(Plan(), [])


def test_read_only_observes_and_changes_nothing():
    decision = decide(resource({**SPEC, "tableClass": "STANDARD_INFREQUENT_ACCESS"},
                               {"services.k8s.aws/read-only": "true"}), live(owner=None))
    assert isinstance(decision, Observe)
    assert [d.path for d in decision.differences] == ["spec.tableClass"]
    assert decide(resource(annotations={"services.k8s.aws/read-only": "true"}), None).reason == "TableMissing"


# ------------------------------------------------------------------------------------------- deleting


def test_deleting_deletes_the_owned_table():
    decision = decide(resource(deleting=True), live())
    assert isinstance(decision, Delete) and [s.api for s in decision.plan.steps] == ["DeleteTable"]


@pytest.mark.parametrize(("annotations", "namespace_policy"), [
    ({"services.k8s.aws/deletion-policy": "retain"}, None),
    ({}, "retain"),
    ({"services.k8s.aws/read-only": "true"}, None),
])
def test_retain_keeps_the_table(annotations, namespace_policy):
    decision = decide(resource(annotations=annotations, deleting=True), live(),
                      namespace_deletion_policy=namespace_policy)
    assert decision == Retain("the table orders was kept")


def test_the_controllers_default_policy_comes_last():
    retained = decide(resource(deleting=True), live(), default_deletion_policy="retain")
    assert retained == Retain("the table orders was kept")
    deleted = decide(resource(deleting=True), live(), namespace_deletion_policy="delete",
                     default_deletion_policy="retain")
    assert isinstance(deleted, Delete) and deleted.plan.steps


def test_the_resources_own_policy_overrides_the_namespaces():
    decision = decide(resource(annotations={"services.k8s.aws/deletion-policy": "delete"}, deleting=True), live(),
                      namespace_deletion_policy="retain")
    assert isinstance(decision, Delete) and decision.plan.steps


def test_deleting_never_deletes_a_table_it_does_not_own():
    decision = decide(resource(deleting=True), live(owner="other/orders"))
    assert isinstance(decision, Retain) and "not managed by this resource" in decision.message


def test_deleting_a_resource_whose_table_is_gone_releases_it():
    assert decide(resource(deleting=True), None) == Delete(Plan())
    assert decide(resource(deleting=True, finalizer=False), live()) == Delete(Plan())  # nothing of ours holds it


def test_a_protected_table_is_deleted_only_once_the_spec_lifts_the_protection():
    protected = live(DeletionProtectionEnabled=True)
    refused = decide(resource({**SPEC, "deletionProtectionEnabled": True}, deleting=True), protected)
    assert isinstance(refused, Refuse) and refused.reason == "DeletionProtected"
    assert "set spec.deletionProtectionEnabled to false" in refused.message
    allowed = decide(resource({**SPEC, "deletionProtectionEnabled": False}, deleting=True), protected)
    assert isinstance(allowed, Delete) and [s.api for s in allowed.plan.steps] == ["UpdateTable", "DeleteTable"]


def test_a_deletion_policy_not_understood_refuses_the_deletion():
    decision = decide(resource(annotations={"services.k8s.aws/deletion-policy": "keep"}, deleting=True), live())
    assert isinstance(decision, Refuse) and decision.reason == "InvalidAnnotation"
    decision = decide(resource(deleting=True), live(), namespace_deletion_policy="keep")
    assert isinstance(decision, Refuse) and "namespace" in decision.message


# ------------------------------------------------------------------------------------- what AWS would not use


def test_a_stream_switched_off_by_merge_patch_is_switched_off_its_view_type_ignored():
    """`kubectl patch --type merge -p '{"spec":{"streamSpecification":{"streamEnabled":false}}}'` leaves the view
    type in: ACK ignores it, and so do we (ACK.Advisory says so)."""
    patched = resource({**SPEC, "streamSpecification": {"streamEnabled": False, "streamViewType": "NEW_IMAGE"}})
    assert [str(p) for p in patched.advisories] == [
        "spec.streamSpecification.streamViewType: ignored: streamEnabled is false"]
    streaming = live(StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    decision = decide(patched, streaming)
    assert isinstance(decision, Converge)
    [step] = decision.plan.steps
    assert step.params["StreamSpecification"] == {"StreamEnabled": False}


def test_throughput_left_in_a_spec_switched_to_on_demand_is_ignored():
    patched = resource({**SPEC, "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5}})
    assert [p.field for p in patched.advisories] == ["spec.provisionedThroughput"]
    assert decide(patched, live()) == Converge(Plan())  # the on-demand table is as the spec says
    assert "ProvisionedThroughput" not in decide(patched, None).params


# ------------------------------------------------------------------------------------- the resource policy

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                                                             "Principal": {"AWS": "111122223333"}, "Resource": "*"}]})


def with_policy(policy: str | None) -> "object":
    table = live()
    from ack.normalize import LiveTable, observed_from_aws
    return LiveTable(table.describe, observed_from_aws(table.describe, [{"Key": OWNER_TAG, "Value": "shop/orders"}],
                                                       policy=policy), "shop/orders")


def test_a_policy_removed_from_the_spec_is_read_and_deleted():
    named = resource({**SPEC, "resourcePolicy": POLICY})
    assert named.reads_policy
    removed = resource(SPEC, status={"managedResourcePolicy": True})
    assert removed.reads_policy
    [step] = decide(removed, with_policy(POLICY)).plan.steps
    assert step.api == "DeleteResourcePolicy"


def test_a_policy_no_applied_spec_named_is_not_read():
    assert not resource(SPEC).reads_policy
    assert not resource(SPEC, status={"managedResourcePolicy": False}).reads_policy


# ----------------------------------------------------------------------------- ACK's tags and adoption

ACK_TAGS = {"services.k8s.aws/controller-version": "dynamodb-ackflow-0.1.0", "services.k8s.aws/namespace": "shop"}


def tagged_live(tags: dict[str, str], owner: str | None) -> "object":
    from ack.normalize import LiveTable, observed_from_aws
    table = live().describe
    return LiveTable(table, observed_from_aws(table, [{"Key": k, "Value": v} for k, v in tags.items()]), owner)


def test_a_new_table_carries_the_resource_tags_and_ownership():
    decision = decide(resource({**SPEC, "tags": [{"key": "team", "value": "a"}]}), None, resource_tags=ACK_TAGS)
    assert {t["Key"]: t["Value"] for t in decision.params["Tags"]} == {
        "team": "a", **ACK_TAGS, OWNER_TAG: "shop/orders"}


def test_a_table_acks_controller_made_shows_no_drift_and_is_retagged_as_ours_once_adopted():
    by_ack = {"services.k8s.aws/controller-version": "dynamodb-v1.4.0", "services.k8s.aws/namespace": "shop"}
    adopter = resource(annotations={"services.k8s.aws/adoption-policy": "adopt-or-create"})
    adopt = decide(adopter, tagged_live(by_ack, None), resource_tags=ACK_TAGS)
    assert isinstance(adopt, Adopt) and adopt.spec is None
    assert {t["Key"]: t["Value"] for t in adopt.step.params["Tags"]} == {
        "services.k8s.aws/controller-version": "dynamodb-ackflow-0.1.0", OWNER_TAG: "shop/orders"}
    ours = decide(adopter, tagged_live({**ACK_TAGS, OWNER_TAG: "shop/orders"}, "shop/orders"),
                  resource_tags=ACK_TAGS)
    assert ours == Converge(Plan())


def test_a_table_with_the_former_ownership_tag_is_still_ours_and_retagged():
    from ack.tags import LEGACY_OWNER_TAG
    decision = decide(resource(), tagged_live({LEGACY_OWNER_TAG: "shop/orders"}, "shop/orders"),
                      resource_tags=ACK_TAGS)
    assert isinstance(decision, Converge) and decision.differences == []
    assert [(s.api, s.params.get("TagKeys") or sorted(t["Key"] for t in s.params["Tags"]))
            for s in decision.plan.steps] == [
        ("UntagResource", [LEGACY_OWNER_TAG]), ("TagResource", sorted([*ACK_TAGS, OWNER_TAG]))]


def test_adopt_takes_the_table_as_it_is_into_the_spec():
    """ACK's `adopt`: the resource's spec becomes the table's (its user tags only); nothing is pushed to AWS."""
    asked = {**SPEC, "billingMode": "PROVISIONED",
             "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5}}
    found = tagged_live({"team": "data", "services.k8s.aws/namespace": "shop"}, None)
    decision = decide(resource(asked, {"services.k8s.aws/adoption-policy": "adopt"}), found)
    assert isinstance(decision, Adopt)
    assert decision.spec["billingMode"] == "PAY_PER_REQUEST" and "provisionedThroughput" not in decision.spec
    assert decision.spec["tags"] == [{"key": "team", "value": "data"}]


# ------------------------------------------------------------------------ what an applied spec named


def test_an_index_a_spec_named_stays_managed_until_it_is_gone_even_if_never_synced():
    """The soak's race: spec B adds an index (the round creates it), spec C drops it before B was ever synced. The
    round that acted on B recorded the index, so C deletes it without the opt-in, and only then is it forgotten."""
    from ack.lifecycle import managed_by
    index = {"indexName": "by-kind", "keySchema": [{"attributeName": "kind", "keyType": "HASH"}],
             "projection": {"projectionType": "KEYS_ONLY"}}
    kinds = [{"attributeName": "id", "attributeType": "S"}, {"attributeName": "kind", "attributeType": "S"}]
    spec_b = {**SPEC, "attributeDefinitions": kinds, "globalSecondaryIndexes": [index]}
    assert managed_by(resource(spec_b), live())["managedIndexes"] == ["by-kind"]  # recorded before acting
    live_index = live(AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                            {"AttributeName": "kind", "AttributeType": "S"}],
                      GlobalSecondaryIndexes=[{"IndexName": "by-kind", "IndexStatus": "ACTIVE",
                                               "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                                               "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    spec_c = resource(SPEC, status={"managedIndexes": ["by-kind"]})
    [step] = decide(spec_c, live_index).plan.steps
    assert step.params["GlobalSecondaryIndexUpdates"] == [{"Delete": {"IndexName": "by-kind"}}]
    assert managed_by(spec_c, live_index)["managedIndexes"] == ["by-kind"]  # still there
    assert managed_by(spec_c, live())["managedIndexes"] == []  # gone: forgotten
