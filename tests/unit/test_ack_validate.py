from __future__ import annotations

from typing import Any

import pytest

from ack.model import TableSpec
from ack.validate import Problem, check_immutable, effective, unsupported, validate

BASE: dict[str, Any] = {
    "tableName": "orders",
    "billingMode": "PAY_PER_REQUEST",
    "attributeDefinitions": [
        {"attributeName": "pk", "attributeType": "S"},
        {"attributeName": "sk", "attributeType": "S"},
    ],
    "keySchema": [{"attributeName": "pk", "keyType": "HASH"}, {"attributeName": "sk", "keyType": "RANGE"}],
}


def spec(**changes: Any) -> TableSpec:
    return TableSpec.model_validate({**BASE, **changes})


def gsi(name: str, *keys: str, **extra: Any) -> dict[str, Any]:
    key_types = ["HASH", "RANGE"]
    return {
        "indexName": name,
        "keySchema": [{"attributeName": key, "keyType": key_types[i]} for i, key in enumerate(keys)],
        "projection": {"projectionType": "ALL"},
        **extra,
    }


def attributes(*names: str) -> list[dict[str, str]]:
    return [{"attributeName": name, "attributeType": "S"} for name in names]


def unused(position: int, name: str) -> str:
    reason = "is used by no key or index (AWS refuses unused definitions)"
    return f'spec.attributeDefinitions[{position}].attributeName: "{name}" {reason}'


def messages(table: TableSpec) -> list[str]:
    return [str(problem) for problem in validate(table)]


def test_a_valid_spec_has_no_problems() -> None:
    assert validate(spec()) == []


def test_index_attribute_missing_from_definitions_names_the_field() -> None:
    table = spec(globalSecondaryIndexes=[gsi("byCity", "pk"), gsi("byKey", "gsiKey")])
    assert messages(table) == [
        'spec.globalSecondaryIndexes[1].keySchema[0].attributeName: "gsiKey" is not in spec.attributeDefinitions'
    ]


def test_unused_attribute_definition() -> None:
    assert messages(spec(attributeDefinitions=attributes("pk", "sk", "city"))) == [unused(2, "city")]


def test_duplicate_attribute_definition() -> None:
    assert messages(spec(attributeDefinitions=attributes("pk", "sk", "pk"))) == [
        'spec.attributeDefinitions[2].attributeName: "pk" is defined twice'
    ]


@pytest.mark.parametrize(
    "keys, expected",
    [
        (
            [("sk", "RANGE"), ("pk", "HASH")],
            [
                "spec.keySchema[0].keyType: the first element must be HASH",
                "spec.keySchema[1].keyType: the second element must be RANGE",
            ],
        ),
        ([("pk", "HASH"), ("sk", "HASH")], ["spec.keySchema[1].keyType: the second element must be RANGE"]),
        (
            [("pk", "HASH"), ("pk", "RANGE")],
            [
                "spec.keySchema[1].attributeName: the RANGE key must differ from the HASH key",
                unused(1, "sk"),
            ],
        ),
        (
            [],
            [
                "spec.keySchema: needs one HASH element, then at most one RANGE element; found 0 elements",
                unused(0, "pk"),
                unused(1, "sk"),
            ],
        ),
    ],
)
def test_key_schema_shape(keys: list[tuple[str, str]], expected: list[str]) -> None:
    table = spec(keySchema=[{"attributeName": name, "keyType": kind} for name, kind in keys])
    assert messages(table) == expected


def test_local_index_must_share_the_tables_hash_key_and_have_a_range_key() -> None:
    table = spec(
        attributeDefinitions=attributes("pk", "sk", "other", "posted"),
        localSecondaryIndexes=[
            {**gsi("byPosted", "other", "posted")},
            {**gsi("hashOnly", "pk")},
        ],
    )
    assert messages(table) == [
        'spec.localSecondaryIndexes[0].keySchema[0].attributeName: must be the table\'s HASH key "pk"',
        "spec.localSecondaryIndexes[1].keySchema: a local secondary index needs the table's HASH key and a RANGE key",
    ]


def test_duplicate_index_names_across_global_and_local() -> None:
    table = spec(
        attributeDefinitions=attributes("pk", "sk", "posted"),
        globalSecondaryIndexes=[gsi("byPosted", "posted")],
        localSecondaryIndexes=[gsi("byPosted", "pk", "posted")],
    )
    assert messages(table) == [
        'spec.localSecondaryIndexes[0].indexName: "byPosted" is already the name of another index'
    ]


def test_provisioned_or_absent_billing_needs_throughput() -> None:
    assert messages(spec(billingMode=None)) == [
        "spec.provisionedThroughput: required when billingMode is PROVISIONED (the default)"
    ]
    assert messages(spec(billingMode="PROVISIONED")) == [
        "spec.provisionedThroughput: required when billingMode is PROVISIONED (the default)"
    ]


def test_throughput_under_pay_per_request_is_ignored_for_table_and_index_as_ack_does() -> None:
    """A merge patch that switches to PAY_PER_REQUEST cannot remove provisionedThroughput: ACK ignores it."""
    throughput = {"readCapacityUnits": 5, "writeCapacityUnits": 5}
    table = spec(
        provisionedThroughput=throughput,
        attributeDefinitions=attributes("pk", "sk", "city"),
        globalSecondaryIndexes=[gsi("byCity", "city", provisionedThroughput=throughput)],
    )
    assert messages(table) == []
    used, ignored = effective(table)
    assert [str(p) for p in ignored] == [
        "spec.provisionedThroughput: ignored: billingMode is PAY_PER_REQUEST",
        "spec.globalSecondaryIndexes[0].provisionedThroughput: ignored: billingMode is PAY_PER_REQUEST",
    ]
    assert used.provisioned_throughput is None and used.global_secondary_indexes[0].provisioned_throughput is None
    assert effective(used)[1] == []


@pytest.mark.parametrize(
    "field, value, expected, used",
    [
        ("streamSpecification", {"streamEnabled": False, "streamViewType": "NEW_IMAGE"},
         ["spec.streamSpecification.streamViewType: ignored: streamEnabled is false"], {"streamEnabled": False}),
        ("sseSpecification", {"sseType": "KMS"},
         ["spec.sseSpecification.sseType: ignored: sseSpecification.enabled is false"], {}),
        ("sseSpecification", {"enabled": False, "sseType": "KMS", "kmsMasterKeyID": "alias/k"},
         ["spec.sseSpecification.sseType: ignored: sseSpecification.enabled is false",
          "spec.sseSpecification.kmsMasterKeyID: ignored: sseSpecification.enabled is false"], {"enabled": False}),
    ],
)
def test_settings_aws_would_not_use_are_ignored_not_refused(field: str, value: Any, expected: list[str],
                                                            used: dict[str, Any]) -> None:
    table = spec(**{field: value})
    effective_spec, ignored = effective(table)
    assert [str(p) for p in ignored] == expected
    assert {p.kind for p in ignored} == {"ignored"}
    assert effective_spec.dump()[field] == used
    assert validate(effective_spec) == []


def test_a_spec_with_nothing_to_ignore_is_used_as_written() -> None:
    table = spec(streamSpecification={"streamEnabled": True, "streamViewType": "NEW_IMAGE"},
                 sseSpecification={"enabled": True, "sseType": "KMS"})
    assert effective(table) == (table, []) and effective(table)[0] is table


def test_index_throughput_under_provisioned() -> None:
    table = spec(
        billingMode="PROVISIONED",
        provisionedThroughput={"readCapacityUnits": 0, "writeCapacityUnits": 5},
        attributeDefinitions=attributes("pk", "sk", "city"),
        globalSecondaryIndexes=[gsi("byCity", "city", onDemandThroughput={"maxReadRequestUnits": 10})],
    )
    assert messages(table) == [
        "spec.provisionedThroughput.readCapacityUnits: must be at least 1 when billingMode is PROVISIONED",
        "spec.globalSecondaryIndexes[0].provisionedThroughput: required when billingMode is PROVISIONED (the default)",
        "spec.globalSecondaryIndexes[0].onDemandThroughput: only allowed when billingMode is PAY_PER_REQUEST",
    ]


def test_projection_include_and_non_key_attributes() -> None:
    table = spec(
        attributeDefinitions=attributes("pk", "sk", "city"),
        globalSecondaryIndexes=[
            gsi("aaa", "city", projection={"projectionType": "INCLUDE"}),
            gsi("bbb", "city", projection={"projectionType": "ALL", "nonKeyAttributes": ["x"]}),
        ],
    )
    assert messages(table) == [
        "spec.globalSecondaryIndexes[0].projection.nonKeyAttributes: required when projectionType is INCLUDE",
        "spec.globalSecondaryIndexes[1].projection.nonKeyAttributes: only allowed when projectionType is INCLUDE",
    ]


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("timeToLive", {"enabled": True}, "spec.timeToLive.attributeName: required when timeToLive.enabled is true"),
        (
            "streamSpecification",
            {"streamEnabled": True},
            "spec.streamSpecification.streamViewType: required when streamEnabled is true",
        ),
        (
            "sseSpecification",
            {"enabled": True, "sseType": "AES256", "kmsMasterKeyID": "alias/k"},
            "spec.sseSpecification.kmsMasterKeyID: needs sseType KMS",
        ),
        (
            "resourcePolicy",
            "[",
            "spec.resourcePolicy: is not a JSON document (Expecting value: line 1 column 2 (char 1))",
        ),
        ("tags", [{"key": "aws:owner", "value": "x"}], 'spec.tags[0].key: the "aws:" prefix is reserved for AWS'),
        (
            "tags",
            [{"key": "team", "value": "x"}, {"key": "team", "value": "y"}],
            'spec.tags[1].key: "team" is given twice',
        ),
    ],
)
def test_settings_aws_would_refuse(field: str, value: Any, expected: str) -> None:
    assert messages(spec(**{field: value})) == [expected]


def test_valid_switches() -> None:
    table = spec(
        timeToLive={"enabled": False},
        streamSpecification={"streamEnabled": False},
        sseSpecification={"enabled": True, "sseType": "KMS", "kmsMasterKeyID": "alias/k"},
        resourcePolicy='{"Version": "2012-10-17", "Statement": []}',
    )
    assert validate(table) == []


def test_kms_key_reference_is_reported_unsupported() -> None:
    [problem] = validate(spec(sseSpecification={"enabled": True, "kmsMasterKeyRef": {"from": {"name": "key"}}}))
    assert (problem.field, problem.kind) == ("spec.sseSpecification.kmsMasterKeyRef", "unsupported")


def test_replicas_need_known_indexes_and_distinct_regions() -> None:
    """The stream a replica needs is AWS's to refuse, once the table is made (as in ACK)."""
    table = spec(
        tableReplicas=[
            {"regionName": "us-west-2", "globalSecondaryIndexes": [{"indexName": "nope"}]},
            {"regionName": "us-west-2"},
        ]
    )
    assert messages(table) == [
        'spec.tableReplicas[0].globalSecondaryIndexes[0].indexName: "nope" is not in spec.globalSecondaryIndexes',
        'spec.tableReplicas[1].regionName: "us-west-2" is given twice',
    ]


def test_unsupported_features_are_reported_by_field() -> None:
    table = spec(
        contributorInsights="ENABLED",
        streamSpecification={"streamEnabled": True, "streamViewType": "NEW_AND_OLD_IMAGES"},
        tableReplicas=[{"regionName": "us-west-2"}],
    )
    problems = unsupported(table, {"tableReplicas", "resourcePolicy", "contributorInsights"})
    assert problems == [
        Problem("spec.contributorInsights", "is not served by this AWS endpoint", "unsupported"),
        Problem("spec.tableReplicas", "is not served by this AWS endpoint", "unsupported"),
    ]
    assert unsupported(spec(), {"tableReplicas", "sseSpecification.kmsMasterKeyRef"}) == []


def test_check_immutable() -> None:
    created = spec(
        attributeDefinitions=attributes("pk", "sk", "posted"),
        localSecondaryIndexes=[gsi("byPosted", "pk", "posted")],
    )
    assert check_immutable(created, created) == []
    # Everything that can change after creation may change.
    changed = created.model_copy(
        update={
            "billing_mode": "PROVISIONED",
            "tags": [],
            "deletion_protection_enabled": True,
            "table_class": "STANDARD_INFREQUENT_ACCESS",
        }
    )
    assert check_immutable(changed, created) == []

    renamed = created.model_copy(update={"table_name": "orders-v2"})
    renaming = 'renaming needs a new resource: the table "orders" stays; create a new Table resource for "orders-v2"'
    assert [str(p) for p in check_immutable(renamed, created)] == [f"spec.tableName: {renaming}"]
    rekeyed = spec(
        attributeDefinitions=[{"attributeName": "pk", "attributeType": "N"}, *attributes("sk", "posted")],
        keySchema=[{"attributeName": "pk", "keyType": "HASH"}],
        localSecondaryIndexes=[gsi("byPosted", "pk", "sk")],
    )
    problems = check_immutable(rekeyed, created)
    assert {p.kind for p in problems} == {"requires_replacement"}
    assert [p.field for p in problems] == [
        "spec.keySchema",
        "spec.attributeDefinitions[byName:pk].attributeType",
        "spec.localSecondaryIndexes[byName:byPosted].keySchema",
    ]
    assert problems[0].message.startswith("requires replacement")
