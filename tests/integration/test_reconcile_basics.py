"""The Table workflow end to end, through the real API server: create, delete, refuse, retain, adopt."""

from __future__ import annotations

import pytest

from tests.integration.tables import (
    CallCounter, Cluster, apply, describe, dynamodb, manifest, reconcile_table, simple_spec, table_exists, unique,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(target):
    return Cluster(target)


@pytest.fixture
def aws_calls(target, sandbox):
    counter = CallCounter(target, sandbox.aws.access_key_id)
    counter.reset()
    return counter


def test_create_and_delete_with_a_local_secondary_index(target, cluster):
    name = unique("lsi")
    spec = {
        "tableName": name,
        "attributeDefinitions": [{"attributeName": "pk", "attributeType": "S"},
                                 {"attributeName": "sk", "attributeType": "S"},
                                 {"attributeName": "when", "attributeType": "N"}],
        "keySchema": [{"attributeName": "pk", "keyType": "HASH"}, {"attributeName": "sk", "keyType": "RANGE"}],
        "localSecondaryIndexes": [{"indexName": "by-when",
                                   "keySchema": [{"attributeName": "pk", "keyType": "HASH"},
                                                 {"attributeName": "when", "keyType": "RANGE"}],
                                   "projection": {"projectionType": "ALL"}}],
        "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5},
    }
    [outcome] = apply([manifest(name, spec)])
    assert outcome.state == "Synced", outcome.message
    table = describe(target, name)
    assert table["TableStatus"] == "ACTIVE"
    assert [i["IndexName"] for i in table["LocalSecondaryIndexes"]] == ["by-when"]
    resource = cluster.get(name)
    assert resource["status"]["ackResourceMetadata"]["arn"] == table["TableArn"]
    assert resource["status"]["tableStatus"] == "ACTIVE"
    assert resource["status"]["observedGeneration"] == resource["metadata"]["generation"]
    assert cluster.condition(name, "ACK.ResourceSynced")["status"] == "True"
    assert resource["metadata"]["finalizers"] == ["finalizers.dynamodb.services.k8s.aws/Table"]

    cluster.delete(name)
    outcome = reconcile_table("default", name)
    assert outcome.state == "Deleted"
    assert not table_exists(target, name)
    assert not cluster.exists(name)


def test_a_missing_required_field_is_refused_by_the_api_server(target, aws_calls):
    name = unique("bad")
    spec = simple_spec(name)
    del spec["keySchema"]
    [outcome] = apply([manifest(name, spec)])
    assert outcome.state == "Refused"
    assert "spec.keySchema: Required value" in outcome.message
    assert aws_calls.operations() == []


def test_a_wrong_enum_is_refused_by_the_api_server(target, aws_calls):
    name = unique("bad")
    [outcome] = apply([manifest(name, simple_spec(name, billingMode="ON_DEMAND_PLEASE"))])
    assert outcome.state == "Refused"
    assert 'spec.billingMode: Unsupported value: "ON_DEMAND_PLEASE"' in outcome.message
    assert aws_calls.operations() == []


def test_an_undefined_key_attribute_is_terminal_before_any_aws_call(target, cluster, aws_calls):
    name = unique("bad")
    spec = simple_spec(name, keySchema=[{"attributeName": "other", "keyType": "HASH"}])
    [outcome] = apply([manifest(name, spec)])
    assert outcome.state == "Terminal"
    assert "spec.keySchema[0].attributeName" in outcome.message
    terminal = cluster.condition(name, "ACK.Terminal")
    assert terminal["status"] == "True" and "spec.keySchema[0].attributeName" in terminal["message"]
    assert aws_calls.operations() == []


def test_retain_keeps_the_table(target, cluster):
    name = unique("keep")
    apply([manifest(name, simple_spec(name), annotations={"services.k8s.aws/deletion-policy": "retain"})])
    cluster.delete(name)
    assert reconcile_table("default", name).state == "Retained"
    assert not cluster.exists(name)
    assert describe(target, name)["TableStatus"] == "ACTIVE"


def test_an_existing_table_is_adopted_only_when_asked(target, cluster):
    name = unique("adopt")
    dynamodb(target).create_table(**{
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]})
    dynamodb(target).put_item(TableName=name, Item={"id": {"S": "kept"}})

    [refused] = apply([manifest(name, simple_spec(name))])
    assert refused.state == "Terminal" and "already exists" in refused.message

    # adopt-or-create: the spec (its tag) is applied to the adopted table (`adopt`: test_ack_parity.py)
    [adopted] = apply([manifest(name, simple_spec(name, tags=[{"key": "team", "value": "a"}]), annotations={
        "services.k8s.aws/adoption-policy": "adopt-or-create",
        "services.k8s.aws/adoption-fields": f'{{"tableName": "{name}"}}'})])
    assert adopted.state == "Synced", adopted.message
    assert cluster.condition(name, "ACK.Adopted")["status"] == "True"
    tags = dynamodb(target).list_tags_of_resource(ResourceArn=describe(target, name)["TableArn"])["Tags"]
    assert {"Key": "team", "Value": "a"} in tags
    assert dynamodb(target).get_item(TableName=name, Key={"id": {"S": "kept"}})["Item"]
