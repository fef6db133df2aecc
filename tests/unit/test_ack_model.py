from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from ack.model import API_VERSION, CRD_NAME, FINALIZER, Table, TableSpec, TableStatus

MINIMAL = {
    "tableName": "orders",
    "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"}],
    "keySchema": [{"attributeName": "id", "keyType": "HASH"}],
}


def test_constants_are_acks() -> None:
    assert API_VERSION == "dynamodb.services.k8s.aws/v1alpha1"
    assert CRD_NAME == "tables.dynamodb.services.k8s.aws"
    assert FINALIZER == "finalizers.dynamodb.services.k8s.aws/Table"


def test_wire_names_are_acks_and_python_names_are_snake_case() -> None:
    spec = TableSpec.model_validate(
        {**MINIMAL, "sseSpecification": {"enabled": True, "sseType": "KMS", "kmsMasterKeyID": "alias/orders"}}
    )
    assert spec.sse_specification.kms_master_key_id == "alias/orders"
    assert spec.dump()["sseSpecification"] == {"enabled": True, "sseType": "KMS", "kmsMasterKeyID": "alias/orders"}
    status = TableStatus.model_validate(
        {"tableID": "x", "latestStreamARN": "arn:s", "ackResourceMetadata": {"ownerAccountID": "1", "region": "r"}}
    )
    assert (status.table_id, status.latest_stream_arn, status.ack_resource_metadata.owner_account_id) == (
        "x",
        "arn:s",
        "1",
    )
    assert set(status.dump()) == {"tableID", "latestStreamARN", "ackResourceMetadata"}


def test_snake_case_names_are_accepted_in_python() -> None:
    spec = TableSpec(
        table_name="orders",
        attribute_definitions=[{"attribute_name": "id", "attribute_type": "S"}],
        key_schema=[{"attribute_name": "id", "key_type": "HASH"}],
    )
    assert spec.dump() == MINIMAL


@pytest.mark.parametrize("missing", ["tableName", "attributeDefinitions", "keySchema"])
def test_required_spec_fields(missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        TableSpec.model_validate({k: v for k, v in MINIMAL.items() if k != missing})


@pytest.mark.parametrize(
    "field, value",
    [
        ("billingMode", "ON_DEMAND_PLEASE"),
        ("tableClass", "GLACIER"),
        ("contributorInsights", "MAYBE"),
        ("streamSpecification", {"streamEnabled": True, "streamViewType": "ALL_IMAGES"}),
        ("attributeDefinitions", [{"attributeName": "id", "attributeType": "STRING"}]),
    ],
)
def test_enums_refuse_what_aws_refuses(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        TableSpec.model_validate({**MINIMAL, field: value})


@pytest.mark.parametrize("value", ["ENABLE", "ENABLED", "DISABLE", "DISABLED"])
def test_contributor_insights_takes_acks_four_spellings(value: str) -> None:
    assert TableSpec.model_validate({**MINIMAL, "contributorInsights": value}).contributor_insights == value


def test_unknown_spec_field_is_refused_but_unknown_status_field_is_ignored() -> None:
    with pytest.raises(ValidationError, match="billingmode"):
        TableSpec.model_validate({**MINIMAL, "billingmode": "PROVISIONED"})
    status = TableStatus.model_validate({"tableStatus": "ACTIVE", "archivalSummary": {"archivalReason": "x"}})
    assert status.dump() == {"tableStatus": "ACTIVE"}


def test_table_resource_defaults_and_metadata_passthrough() -> None:
    table = Table.model_validate(
        {
            "metadata": {"name": "orders", "namespace": "shop", "managedFields": [{"manager": "kubectl"}]},
            "spec": MINIMAL,
        }
    )
    assert (table.api_version, table.kind, table.status) == (API_VERSION, "Table", None)
    assert table.dump()["metadata"] == {
        "name": "orders",
        "namespace": "shop",
        "managedFields": [{"manager": "kubectl"}],
    }


def test_timestamps_are_rfc3339_utc() -> None:
    when = datetime(2024, 5, 1, 14, 0, 0, 999, tzinfo=timezone(timedelta(hours=2)))
    status = TableStatus(
        creation_date_time=when,
        conditions=[{"type": "ACK.ResourceSynced", "status": "True", "lastTransitionTime": "2024-05-01T12:00:00Z"}],
        last_drift_check={"time": datetime(2024, 5, 1, 12, 0), "class": "InSync", "differences": []},
    )
    wire = status.dump()
    assert wire["creationDateTime"] == "2024-05-01T12:00:00Z"
    assert wire["conditions"][0]["lastTransitionTime"] == "2024-05-01T12:00:00Z"
    assert wire["lastDriftCheck"] == {"time": "2024-05-01T12:00:00Z", "class": "InSync", "differences": []}
