"""A corpus of malformed Table manifests, manifest files and bootstrap configurations: each gets a clear
message naming the field (from the API server, or before any AWS call) and nothing is created."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ack.manifests import ManifestError
from bootstrap.config import ConfigError, load_config
from flows.cli import read_manifests
from tests.integration.tables import CallCounter, apply, manifest, simple_spec, unique

pytestmark = pytest.mark.integration
Spec = dict[str, Any]


def _set(path: str, value: Any) -> Callable[[Spec], None]:
    def change(spec: Spec) -> None:
        *parents, last = path.split(".")
        node = spec
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


_DELETE = object()
GSI = {"indexName": "by-id", "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
       "projection": {"projectionType": "ALL"}}

# (case, change to a valid PAY_PER_REQUEST spec, the field the API server's 422 must name)
REFUSED_BY_THE_API_SERVER = [
    ("no table name", _set("tableName", _DELETE), "spec.tableName"),
    ("no attribute definitions", _set("attributeDefinitions", _DELETE), "spec.attributeDefinitions"),
    ("no key schema", _set("keySchema", _DELETE), "spec.keySchema"),
    ("unknown billing mode", _set("billingMode", "ON_DEMAND_PLEASE"), "spec.billingMode"),
    ("unknown attribute type", _set("attributeDefinitions.0.attributeType", "X"), "attributeType"),
    ("unknown key type", _set("keySchema.0.keyType", "PRIMARY"), "keyType"),
    ("unknown table class", _set("tableClass", "GLACIER"), "spec.tableClass"),
    ("unknown contributor insights", _set("contributorInsights", "MAYBE"), "spec.contributorInsights"),
    ("unknown stream view", _set("streamSpecification", {"streamEnabled": True, "streamViewType": "ALL"}),
     "spec.streamSpecification.streamViewType"),
    ("unknown SSE type", _set("sseSpecification", {"enabled": True, "sseType": "ROT13"}),
     "spec.sseSpecification.sseType"),
    ("unknown projection", _set("globalSecondaryIndexes", [{**GSI, "projection": {"projectionType": "SOME"}}]),
     "projectionType"),
    ("table name too short", _set("tableName", "ab"), "spec.tableName"),
    ("table name too long", _set("tableName", "t" * 256), "spec.tableName"),
    ("table name with spaces", _set("tableName", "my table!"), "spec.tableName"),
    ("table name in unicode", _set("tableName", "tablé-ünicode"), "spec.tableName"),
    ("index name too short", _set("globalSecondaryIndexes", [{**GSI, "indexName": "ab"}]), "indexName"),
    ("empty attribute name", _set("attributeDefinitions.0.attributeName", ""), "attributeName"),
    ("capacity as a word", _set("provisionedThroughput", {"readCapacityUnits": "five", "writeCapacityUnits": 1}),
     "spec.provisionedThroughput.readCapacityUnits"),
    ("throughput as a list", _set("provisionedThroughput", [5, 5]), "spec.provisionedThroughput"),
    ("attribute definitions as a map", _set("attributeDefinitions", {"id": "S"}), "spec.attributeDefinitions"),
    ("deletion protection as a word", _set("deletionProtectionEnabled", "yes"), "spec.deletionProtectionEnabled"),
    ("TTL switch as a word", _set("timeToLive", {"attributeName": "exp", "enabled": "sometimes"}),
     "spec.timeToLive.enabled"),
    ("stream without its switch", _set("streamSpecification", {"streamViewType": "NEW_IMAGE"}),
     "spec.streamSpecification.streamEnabled"),
    ("index without a name", _set("globalSecondaryIndexes", [{k: v for k, v in GSI.items() if k != "indexName"}]),
     "indexName"),
    ("index without a projection type", _set("globalSecondaryIndexes", [{**GSI, "projection": {}}]),
     "projectionType"),
    ("tag key empty", _set("tags", [{"key": "", "value": "x"}]), "key"),
    ("tag value too long", _set("tags", [{"key": "team", "value": "v" * 257}]), "value"),
    ("tag without a value", _set("tags", [{"key": "team"}]), "value"),
    ("huge capacity", _set("provisionedThroughput", {"readCapacityUnits": 10**30, "writeCapacityUnits": 1}),
     "readCapacityUnits"),
]

PROVISIONED = {"billingMode": "PROVISIONED", "provisionedThroughput": {"readCapacityUnits": 1, "writeCapacityUnits": 1}}
# (case, change, the field the terminal condition must name): checks the schema cannot express
TERMINAL_BEFORE_ANY_AWS_CALL = [
    ("key attribute not defined", _set("keySchema", [{"attributeName": "other", "keyType": "HASH"}]),
     "spec.keySchema[0].attributeName"),
    ("unused attribute definition", _set("attributeDefinitions", [{"attributeName": "id", "attributeType": "S"},
                                                                  {"attributeName": "x", "attributeType": "S"}]),
     "spec.attributeDefinitions[1]"),
    ("provisioned without throughput", _set("billingMode", "PROVISIONED"), "spec.provisionedThroughput"),
    ("on-demand limits on a provisioned table", lambda spec: spec.update(
        billingMode="PROVISIONED", provisionedThroughput={"readCapacityUnits": 1, "writeCapacityUnits": 1},
        onDemandThroughput={"maxReadRequestUnits": 5}), "spec.onDemandThroughput"),
    ("index attribute not defined", _set("globalSecondaryIndexes", [{**GSI, "keySchema": [
        {"attributeName": "missing", "keyType": "HASH"}]}]), "spec.globalSecondaryIndexes[0].keySchema[0]"),
    ("two indexes of one name", _set("globalSecondaryIndexes", [GSI, GSI]), "spec.globalSecondaryIndexes[1]"),
    ("two partition keys", _set("keySchema", [{"attributeName": "id", "keyType": "HASH"},
                                              {"attributeName": "id", "keyType": "HASH"}]), "spec.keySchema"),
    ("sort key first", _set("keySchema", [{"attributeName": "id", "keyType": "RANGE"}]), "spec.keySchema"),
    ("TTL without an attribute", _set("timeToLive", {"enabled": True}), "spec.timeToLive.attributeName"),
    ("stream without a view type", _set("streamSpecification", {"streamEnabled": True}),
     "spec.streamSpecification.streamViewType"),
    ("index throughput missing under PROVISIONED", lambda s: s.update(PROVISIONED, globalSecondaryIndexes=[GSI]),
     "spec.globalSecondaryIndexes[0].provisionedThroughput"),
    ("a replica region twice", _set("tableReplicas", [{"regionName": "eu-west-1"}, {"regionName": "eu-west-1"}]),
     "spec.tableReplicas[1].regionName"),
    ("resource policy not JSON", _set("resourcePolicy", '{"Version": "2012-10-17",'), "spec.resourcePolicy"),
    ("KMS key reference on the sandbox", _set("sseSpecification", {"enabled": True, "kmsMasterKeyRef": {
        "from": {"name": "key"}}}), "spec.sseSpecification.kmsMasterKeyRef"),
]

FILES = [
    ("not YAML", "spec: [unclosed\n", "not valid YAML at line"),
    ("a list", "- a\n- b\n", "a manifest must be a mapping, not a list"),
    ("a plain string", "just words\n", "a manifest must be a mapping, not a str"),
    ("empty", "\n", "no manifest in it"),
    ("another kind", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "only dynamodb.services.k8s.aws/v1alpha1/Table"),
    ("another version", "apiVersion: dynamodb.services.k8s.aws/v1\nkind: Table\nmetadata: {name: x}\nspec: {}\n",
     "only dynamodb.services.k8s.aws/v1alpha1/Table"),
    ("no name", "apiVersion: dynamodb.services.k8s.aws/v1alpha1\nkind: Table\nmetadata: {}\nspec: {}\n",
     "metadata.name: Required value"),
    ("spec not a mapping", "apiVersion: dynamodb.services.k8s.aws/v1alpha1\nkind: Table\nmetadata: {name: x}\n"
     "spec: [1]\n", "spec: Required value (a mapping)"),
    ("several documents, one bad", "apiVersion: dynamodb.services.k8s.aws/v1alpha1\nkind: Table\n"
     "metadata: {name: fine}\nspec: {tableName: fine}\n---\n- not a manifest\n", "(document 2): a manifest must be"),
]

CONFIGS = [
    ("unknown engine", "rds:\n  engine: oracle\n", "rds.engine"),
    ("prefix in capitals", "prefix: Demo\n", "prefix"),
    ("nodes below one", "eks:\n  desired_size: 0\n", "eks.desired_size"),
    ("unknown setting", "colour: blue\n", "colour"),
    ("retention AWS does not offer", "cloudwatch:\n  log_retention_days: 13\n", "cloudwatch.log_retention_days"),
    ("not a mapping", "- prefix\n", "must be a mapping"),
    ("manifest missing", "dynamodb:\n  manifests: [no/such/file.yaml]\n", "dynamodb.manifests[0]"),
]


def _bad_manifest(case: str, change: Callable[[Spec], None]) -> dict[str, Any]:
    name = unique("bad")
    spec = copy.deepcopy(simple_spec(name))
    change(spec)
    return manifest(name, spec, annotations={"case": case})


def test_the_corpus_is_large_enough():
    total = len(REFUSED_BY_THE_API_SERVER) + len(TERMINAL_BEFORE_ANY_AWS_CALL) + len(FILES) + len(CONFIGS)
    assert total >= 50


def test_the_api_server_refuses_each_with_the_field_named_and_nothing_is_created(target, sandbox):
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    manifests = [_bad_manifest(case, change) for case, change, _ in REFUSED_BY_THE_API_SERVER]
    good = manifest(unique("good"), simple_spec(unique("good")))
    outcomes = apply([*manifests, good])  # one bad manifest keeps the good one from being applied too
    for (case, _, field), outcome in zip(REFUSED_BY_THE_API_SERVER, outcomes):
        assert outcome.state == "Refused", case
        assert field in outcome.message, f"{case}: {outcome.message}"
    assert outcomes[-1].state == "Refused" and "another manifest of this run was refused" in outcomes[-1].message
    assert [c for c in calls.entries() if c["app"] == "ackflow" and c["service"] == "dynamodb"] == []


@pytest.mark.parametrize("case, change, field", TERMINAL_BEFORE_ANY_AWS_CALL, ids=[c[0] for c in TERMINAL_BEFORE_ANY_AWS_CALL])
def test_checks_the_schema_cannot_express_are_terminal_before_any_aws_call(case, change, field, target, sandbox):
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    [outcome] = apply([_bad_manifest(case, change)])
    assert outcome.state == "Terminal"
    assert field in outcome.message, outcome.message
    assert [c for c in calls.entries() if c["app"] == "ackflow" and c["service"] == "dynamodb"] == []


@pytest.mark.parametrize("case, text, message", FILES, ids=[c[0] for c in FILES])
def test_files_that_are_not_table_manifests_get_a_clear_error(case, text, message, tmp_path):
    path = tmp_path / "manifest.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as refused:
        read_manifests([str(path)])
    assert str(refused.value).startswith(str(path)) and message in str(refused.value)


@pytest.mark.parametrize("case, text, field", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_bad_bootstrap_configurations_name_the_field(case, text, field, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(text if "prefix" in text or text.startswith("-") else f"prefix: demo\n{text}")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert field in str(refused.value)
