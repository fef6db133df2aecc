"""The generated CRD: structural, valid for a v1.20 API server, and the same shape as ACK's (when ACK's CRD is
found: tests/samples.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ack.crd import YAML11_BOOLEANS, crd, crd_file, crd_manifest
from ack.kinds import BACKUP, FIELD_EXPORT, KINDS, Kind
from tests.samples import ack_crd_path

FORBIDDEN = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "not", "title", "default", "const", "x-kubernetes-validations"}
# The enums ours adds (ACK's CRD has none); each a set of values AWS refuses to go beyond.
ENUMS = {
    "spec.attributeDefinitions[].attributeType": ["S", "N", "B"],
    "spec.keySchema[].keyType": ["HASH", "RANGE"],
    "spec.billingMode": ["PROVISIONED", "PAY_PER_REQUEST"],
    "spec.globalSecondaryIndexes[].keySchema[].keyType": ["HASH", "RANGE"],
    "spec.globalSecondaryIndexes[].projection.projectionType": ["ALL", "KEYS_ONLY", "INCLUDE"],
    "spec.localSecondaryIndexes[].keySchema[].keyType": ["HASH", "RANGE"],
    "spec.localSecondaryIndexes[].projection.projectionType": ["ALL", "KEYS_ONLY", "INCLUDE"],
    "spec.streamSpecification.streamViewType": ["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"],
    "spec.sseSpecification.sseType": ["AES256", "KMS"],
    "spec.tableClass": ["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    "spec.contributorInsights": ["ENABLE", "ENABLED", "DISABLE", "DISABLED"],
    "spec.tableReplicas[].tableClassOverride": ["STANDARD", "STANDARD_INFREQUENT_ACCESS"],
    "status.conditions[].status": ["True", "False", "Unknown"],
    "status.globalSecondaryIndexesDescriptions[].keySchema[].keyType": ["HASH", "RANGE"],
    "status.globalSecondaryIndexesDescriptions[].projection.projectionType": ["ALL", "KEYS_ONLY", "INCLUDE"],
}


def version(crd: dict[str, Any]) -> dict[str, Any]:
    [only] = crd["spec"]["versions"]
    return only


def root(crd: dict[str, Any]) -> dict[str, Any]:
    return version(crd)["schema"]["openAPIV3Schema"]


def nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path: `spec.globalSecondaryIndexes[].keySchema[].keyType`."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from nodes(sub, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return crd()


@pytest.fixture(scope="module")
def acks() -> dict[str, Any]:
    return yaml.safe_load(ack_crd_path().read_text())


def test_schema_is_structural(ours: dict[str, Any]) -> None:
    for path, node in nodes(root(ours)):
        assert node.get("type") in {"object", "array", "string", "integer", "boolean", "number"}, path
        assert not FORBIDDEN & node.keys(), (path, FORBIDDEN & node.keys())
        if node["type"] == "array":
            assert "items" in node, path
        if node["type"] == "integer":
            assert node["format"] == "int64", path
        assert set(node.get("required", [])) <= node.get("properties", {}).keys(), path
        if path.startswith("spec") and not (path.endswith("[]") and node["type"] != "object"):
            assert node.get("description"), f"{path} has no description"


def test_required_fields(ours: dict[str, Any]) -> None:
    spec = root(ours)["properties"]["spec"]
    assert spec["required"] == ["tableName", "attributeDefinitions", "keySchema"]
    assert root(ours)["required"] == ["spec"]


def test_enums_only_where_aws_refuses_other_values(ours: dict[str, Any]) -> None:
    found = {path: node["enum"] for path, node in nodes(root(ours)) if "enum" in node}
    assert found == ENUMS


def test_every_ack_spec_field_is_there_with_the_same_type(ours: dict[str, Any], acks: dict[str, Any]) -> None:
    mine = dict(nodes(root(ours)["properties"]["spec"], "spec"))
    theirs = list(nodes(root(acks)["properties"]["spec"], "spec"))
    assert len(theirs) > 60
    for path, node in theirs:
        assert path in mine, f"{path} is missing"
        assert mine[path]["type"] == node["type"], path
        assert mine[path].get("format") == node.get("format"), path


def test_status_fields_in_common_have_acks_type(ours: dict[str, Any], acks: dict[str, Any]) -> None:
    theirs = dict(nodes(root(acks)["properties"]["status"], "status"))
    mine = dict(nodes(root(ours)["properties"]["status"], "status"))
    for field in (
        "ackResourceMetadata.arn",
        "ackResourceMetadata.ownerAccountID",
        "ackResourceMetadata.region",
        "conditions[].type",
        "conditions[].status",
        "conditions[].reason",
        "conditions[].message",
        "conditions[].lastTransitionTime",
        "tableStatus",
        "tableID",
        "creationDateTime",
        "itemCount",
        "tableSizeBytes",
        "latestStreamARN",
        "latestStreamLabel",
        "globalSecondaryIndexesDescriptions[].indexStatus",
        "replicas[].regionName",
    ):
        assert f"status.{field}" in mine, field
    for path, node in mine.items():
        if path in theirs:
            assert (node["type"], node.get("format")) == (theirs[path]["type"], theirs[path].get("format")), path
    for extra in (
        "status.observedGeneration",
        "status.lastDriftCheck.time",
        "status.lastDriftCheck.class",
        "status.lastDriftCheck.differences[].path",
    ):
        assert extra in mine, extra


def test_served_like_acks_and_valid_on_v1_20(ours: dict[str, Any], acks: dict[str, Any]) -> None:
    assert ours["apiVersion"] == "apiextensions.k8s.io/v1"
    assert ours["metadata"]["name"] == acks["metadata"]["name"]
    assert ours["spec"]["names"] == acks["spec"]["names"]
    assert (ours["spec"]["group"], ours["spec"]["scope"]) == (acks["spec"]["group"], "Namespaced")
    assert version(ours)["subresources"] == {"status": {}}
    assert (version(ours)["name"], version(ours)["served"], version(ours)["storage"]) == ("v1alpha1", True, True)
    assert version(ours)["additionalPrinterColumns"] == version(acks)["additionalPrinterColumns"]
    assert "x-kubernetes-validations" not in yaml.safe_dump(ours)
    assert root(ours)["properties"]["metadata"] == {"type": "object"}


CHART_CRDS = Path(__file__).resolve().parents[2] / "deploy/charts/ackflow-controller/crds"
REGENERATE = f"run: python -m ack.crd {CHART_CRDS}"


@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda kind: kind.kind)
def test_the_controller_charts_crds_are_the_ones_generated_from_the_models(kind: Kind) -> None:
    """One source of truth: `python -m ack.crd` wrote the chart's CRDs; they must not have drifted from the models."""
    assert yaml.safe_load((CHART_CRDS / crd_file(kind)).read_text()) == crd_manifest(kind), REGENERATE
    assert sorted(path.name for path in CHART_CRDS.iterdir()) == sorted(map(crd_file, KINDS.values()))


@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda kind: kind.kind)
def test_every_kinds_crd_is_structural_with_a_status_subresource(kind: Kind) -> None:
    generated = crd(kind)
    for path, node in nodes(root(generated)):
        assert node.get("type") in {"object", "array", "string", "integer", "boolean", "number"}, (kind, path)
        assert not FORBIDDEN & node.keys(), (kind, path, FORBIDDEN & node.keys())
    assert version(generated)["subresources"] == {"status": {}}
    assert generated["metadata"]["name"] == kind.crd_name
    assert root(generated)["required"] == ["spec"]


def test_backup_and_field_export_schemas_are_acks() -> None:
    """The fields ACK's Backup and FieldExport CRDs have, required where ACK requires them."""
    backup = root(crd(BACKUP))["properties"]
    assert backup["spec"]["required"] == ["backupName", "tableName"]
    assert {"ackResourceMetadata", "conditions", "backupCreationDateTime", "backupExpiryDateTime", "backupSizeBytes",
            "backupStatus", "backupType"} <= backup["status"]["properties"].keys()
    assert backup["status"]["properties"]["backupStatus"]["enum"] == ["CREATING", "AVAILABLE", "DELETED"]
    export = crd(FIELD_EXPORT)
    assert export["spec"]["group"] == "services.k8s.aws"
    assert export["metadata"]["name"] == "fieldexports.services.k8s.aws"
    spec = root(export)["properties"]["spec"]
    assert spec["required"] == ["from", "to"]
    assert spec["properties"]["from"]["required"] == ["path", "resource"]
    assert spec["properties"]["from"]["properties"]["resource"]["required"] == ["group", "kind", "name"]
    assert spec["properties"]["to"]["required"] == ["kind", "name"]
    assert spec["properties"]["to"]["properties"]["kind"]["enum"] == ["configmap", "secret"]


@pytest.mark.parametrize("kind", KINDS.values(), ids=lambda kind: kind.kind)
def test_the_charts_crds_read_the_same_to_helm_no_bare_yaml11_boolean(kind: Kind) -> None:
    """Helm reads YAML 1.1, where a bare N (attributeType's number) is false: such words must be quoted."""
    chart_crd = CHART_CRDS / crd_file(kind)
    def strings(node: yaml.Node) -> list[yaml.ScalarNode]:
        if isinstance(node, yaml.ScalarNode):
            return [node] if node.tag == "tag:yaml.org,2002:str" else []
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
        return [found for child in children for found in strings(child)]

    bare = [node.value for node in strings(yaml.compose(chart_crd.read_text()))
            if node.style is None and node.value in YAML11_BOOLEANS]
    assert bare == [], REGENERATE
