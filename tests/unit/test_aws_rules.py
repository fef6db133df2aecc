"""The local AWS endpoint's rules, faults and request parsing, without HTTP (moto's backend in-process)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from botocore.parsers import create_parser
from moto.dynamodb.models import DynamoDBBackend
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sandbox.aws.faults import Fault, Faults, parse_faults
from sandbox.aws.rules import (
    Backups,
    Call,
    ChangeRateLimits,
    ContributorInsights,
    DocumentDb,
    IndexStatus,
    MissingIndex,
    MskActivation,
    NothingToUpdate,
    NoThroughputOnDemand,
    NoUpdateWhileBusy,
    OnDemandLimits,
    OneIndexAtATime,
    OneIndexChangePerCall,
    Replicas,
    StreamDisableDropsShard,
    StreamReenable,
    TableClassAndSse,
    TableStatus,
    TableTimeline,
    default_rules,
    kms_key_arn,
    table_key,
)
from sandbox.aws.server import Endpoint, Settings, error_response, parse_call

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
KEY = [{"AttributeName": "pk", "KeyType": "HASH"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ddb(operation: str, **params: Any) -> Call:
    return Call("dynamodb", operation, params={"TableName": "t", **params})


def answer(operation: str, gsis: tuple[str, ...] = ()) -> dict[str, Any]:
    """moto's answer: always ACTIVE."""
    table = {
        "TableName": "t",
        "TableArn": ARN,
        "TableStatus": "ACTIVE",
        "GlobalSecondaryIndexes": [{"IndexName": name, "IndexStatus": "ACTIVE"} for name in gsis],
    }
    return {"Table" if operation == "DescribeTable" else "TableDescription": table}


def run_after(rules: list[Any], call: Call, gsis: tuple[str, ...] = ()) -> dict[str, Any]:
    body = answer(call.operation, gsis)
    for rule in rules:
        if rule.applies(call):
            rule.after(call, body)
    return body.get("Table") or body["TableDescription"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timeline(clock: Clock) -> TableTimeline:
    return TableTimeline(table_delay=1.0, index_delay=5.0, clock=clock)


# --- rules 1-4 ---------------------------------------------------------------------------------------


def test_table_is_creating_then_active_updating_then_active_and_deleting(clock: Clock, timeline: TableTimeline) -> None:
    rules = [TableStatus(timeline)]
    assert run_after(rules, ddb("CreateTable"))["TableStatus"] == "CREATING"
    assert run_after(rules, ddb("DescribeTable"))["TableStatus"] == "CREATING"
    clock.now += 1.0
    assert run_after(rules, ddb("DescribeTable"))["TableStatus"] == "ACTIVE"
    assert run_after(rules, ddb("UpdateTable", BillingMode="PROVISIONED"))["TableStatus"] == "UPDATING"
    assert run_after(rules, ddb("DescribeTable"))["TableStatus"] == "UPDATING"
    clock.now += 1.0
    assert run_after(rules, ddb("DescribeTable"))["TableStatus"] == "ACTIVE"
    assert run_after(rules, ddb("DeleteTable"))["TableStatus"] == "DELETING"


def test_zero_delay_answers_aws_statuses_but_describes_active(clock: Clock) -> None:
    rules = [TableStatus(TableTimeline(0.0, 0.0, clock))]
    assert run_after(rules, ddb("CreateTable"))["TableStatus"] == "CREATING"
    assert run_after(rules, ddb("DescribeTable"))["TableStatus"] == "ACTIVE"


def test_new_gsi_is_creating_and_table_updating_until_index_delay(clock: Clock, timeline: TableTimeline) -> None:
    rules = [TableStatus(timeline), IndexStatus(timeline)]
    run_after(rules, ddb("CreateTable"), gsis=("old",))
    clock.now += 1.0
    create = ddb("UpdateTable", GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "new"}}])
    updated = run_after(rules, create, gsis=("old", "new"))
    assert updated["TableStatus"] == "UPDATING"
    statuses = {i["IndexName"]: i["IndexStatus"] for i in updated["GlobalSecondaryIndexes"]}
    assert statuses == {"old": "ACTIVE", "new": "CREATING"}
    clock.now += 4.0  # past the table delay, not the index delay
    described = run_after(rules, ddb("DescribeTable"), gsis=("old", "new"))
    assert described["TableStatus"] == "UPDATING"
    assert described["GlobalSecondaryIndexes"][1]["IndexStatus"] == "CREATING"
    clock.now += 1.0
    described = run_after(rules, ddb("DescribeTable"), gsis=("old", "new"))
    assert described["TableStatus"] == "ACTIVE"
    assert described["GlobalSecondaryIndexes"][1]["IndexStatus"] == "ACTIVE"


def test_gsis_named_at_create_table_are_creating_with_the_table(clock: Clock, timeline: TableTimeline) -> None:
    created = run_after([TableStatus(timeline), IndexStatus(timeline)], ddb("CreateTable"), gsis=("g",))
    assert created["GlobalSecondaryIndexes"][0]["IndexStatus"] == "CREATING"


def test_update_refused_while_table_creating_or_updating(clock: Clock, timeline: TableTimeline) -> None:
    rule = NoUpdateWhileBusy(timeline)
    update = ddb("UpdateTable", DeletionProtectionEnabled=True)
    assert rule.before(update) is None  # a table this rule never saw: moto decides
    timeline.created(("us-east-1", "t"))
    refusal = rule.before(update)
    assert refusal is not None and refusal.code == "ResourceInUseException" and refusal.status == 400
    assert refusal.message == "Attempt to change a resource which is still in use: Table is being created: t"
    clock.now += 1.0
    assert rule.before(update) is None
    timeline.updated(("us-east-1", "t"))
    refusal = rule.before(update)
    assert refusal is not None and "Table is being updated: t" in refusal.message


def test_gsi_change_refused_while_another_gsi_is_creating(clock: Clock, timeline: TableTimeline) -> None:
    rule = OneIndexAtATime(timeline)
    timeline.index_created(("us-east-1", "t"), "first")
    delete = ddb("UpdateTable", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "other"}}])
    refusal = rule.before(delete)
    assert refusal is not None and refusal.code == "LimitExceededException"
    assert "Only 1 online index can be created or deleted simultaneously" in refusal.message
    assert rule.before(ddb("UpdateTable", BillingMode="PROVISIONED")) is None  # not a GSI change
    clock.now += 5.0
    assert rule.before(delete) is None


def test_several_gsi_changes_in_one_call_refused() -> None:
    rule = OneIndexChangePerCall()
    one = [{"Create": {"IndexName": "a"}}, {"Update": {"IndexName": "b"}}]
    assert rule.before(ddb("UpdateTable", GlobalSecondaryIndexUpdates=one)) is None
    two = [{"Create": {"IndexName": "a"}}, {"Delete": {"IndexName": "b"}}]
    refusal = rule.before(ddb("UpdateTable", GlobalSecondaryIndexUpdates=two))
    assert refusal is not None and refusal.code == "ValidationException"
    assert "Only one global secondary index update is allowed per UpdateTable call" in refusal.message


def test_update_with_nothing_to_change_refused() -> None:
    refusal = NothingToUpdate().before(ddb("UpdateTable", AttributeDefinitions=[]))
    assert refusal is not None and refusal.code == "ValidationException"
    assert NothingToUpdate().before(ddb("UpdateTable", TableClass="STANDARD")) is None


# --- rules against moto's own tables -----------------------------------------------------------------


@pytest.fixture
def moto_ddb() -> DynamoDBBackend:
    backend = DynamoDBBackend("us-east-1", "123456789012")
    backend.create_table(
        "t",
        schema=KEY,
        throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}],
        global_indexes=[{"IndexName": "g", "KeySchema": KEY, "Projection": {"ProjectionType": "ALL"}}],
        indexes=None,
        streams={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    return backend


def find_in(backend: DynamoDBBackend) -> Any:
    return lambda call: backend.tables.get(table_key(call)[1])


def test_time_to_live_changes_once_per_window() -> None:
    clock = Clock()
    rule = ChangeRateLimits(3600, 86400, lambda call: None, clock)
    change = ddb("UpdateTimeToLive", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    assert rule.before(change) is None
    clock.now += 3599
    refusal = rule.before(change)
    assert refusal is not None and refusal.code == "ValidationException"
    assert "modified multiple times within a fixed interval" in refusal.message
    clock.now += 2
    assert rule.before(change) is None


def test_switch_to_provisioned_once_per_window(moto_ddb: DynamoDBBackend) -> None:
    clock = Clock()
    rule = ChangeRateLimits(3600, 86400, find_in(moto_ddb), clock)
    switch = ddb("UpdateTable", BillingMode="PROVISIONED",
                 ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    assert rule.before(switch) is None
    assert rule.before(ddb("UpdateTable", BillingMode="PAY_PER_REQUEST")) is None  # the other way: no limit
    clock.now += 3600
    refusal = rule.before(switch)  # the table is still PAY_PER_REQUEST in moto: a second switch
    assert refusal is not None and refusal.code == "LimitExceededException"
    clock.now += 86400
    assert rule.before(switch) is None


def test_throughput_on_pay_per_request_table_only_with_the_switch(moto_ddb: DynamoDBBackend) -> None:
    rule = NoThroughputOnDemand(find_in(moto_ddb))
    throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    refusal = rule.before(ddb("UpdateTable", ProvisionedThroughput=throughput))
    assert refusal is not None and refusal.code == "ValidationException"
    assert rule.before(ddb("UpdateTable", ProvisionedThroughput=throughput, BillingMode="PROVISIONED")) is None
    elsewhere = Call("dynamodb", "UpdateTable", params={"TableName": "missing", "ProvisionedThroughput": throughput})
    assert rule.before(elsewhere) is None


def test_missing_gsi_delete_is_resource_not_found(moto_ddb: DynamoDBBackend) -> None:
    rule = MissingIndex(find_in(moto_ddb))
    refusal = rule.before(ddb("UpdateTable", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "nope"}}]))
    assert refusal is not None and refusal.code == "ResourceNotFoundException" and "nope" in refusal.message
    assert rule.before(ddb("UpdateTable", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "g"}}])) is None


def update_streams(backend: DynamoDBBackend, rules: list[Any], spec: dict[str, Any]) -> None:
    """What the endpoint does around moto's UpdateTable."""
    call = ddb("UpdateTable", StreamSpecification=spec)
    assert all(rule.before(call) is None for rule in rules)
    backend.update_table("t", None, [], {}, "", spec, None, None)
    for rule in rules:
        rule.after(call, {})


def test_stream_disabled_then_writes_and_reenable_work(moto_ddb: DynamoDBBackend) -> None:
    find = find_in(moto_ddb)
    rules = [StreamReenable(find), StreamDisableDropsShard(find)]
    update_streams(moto_ddb, rules, {"StreamEnabled": False})
    moto_ddb.put_item("t", {"pk": {"S": "a"}})  # moto alone: KeyError, HTTP 500
    old_label = moto_ddb.tables["t"].latest_stream_label
    # moto alone: refused with ResourceInUseException
    update_streams(moto_ddb, rules, {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    table = moto_ddb.tables["t"]
    assert table.stream_specification == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table.latest_stream_label and table.latest_stream_label != old_label
    moto_ddb.put_item("t", {"pk": {"S": "b"}})
    assert table.stream_shard is not None and len(table.stream_shard.items) == 1


def test_moto_still_has_the_stream_bugs(moto_ddb: DynamoDBBackend) -> None:
    """When this fails, moto fixed the bugs and StreamReenable/StreamDisableDropsShard can go."""
    update_streams(moto_ddb, [], {"StreamEnabled": False})
    with pytest.raises(KeyError):
        moto_ddb.put_item("t", {"pk": {"S": "a"}})
    with pytest.raises(Exception, match="Cannot enable stream"):
        update_streams(moto_ddb, [], {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})


# --- rules 5 and 6 -----------------------------------------------------------------------------------


def test_table_class_and_sse_follow_create_and_update() -> None:
    rules = [TableClassAndSse()]
    sse = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/mine"}
    created = run_after(rules, ddb("CreateTable", TableClass="STANDARD_INFREQUENT_ACCESS", SSESpecification=sse))
    assert created["TableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    assert created["SSEDescription"]["Status"] == "ENABLED" and created["SSEDescription"]["SSEType"] == "KMS"
    assert created["SSEDescription"]["KMSMasterKeyArn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    run_after(rules, ddb("UpdateTable", TableClass="STANDARD", SSESpecification={"Enabled": False}))
    described = run_after(rules, ddb("DescribeTable"))
    assert described["TableClassSummary"] == {"TableClass": "STANDARD"}
    assert "SSEDescription" not in described


def test_on_demand_limits_follow_create_and_update() -> None:
    rules = [OnDemandLimits()]
    gsi = {"IndexName": "g", "KeySchema": KEY, "Projection": {"ProjectionType": "ALL"},
           "OnDemandThroughput": {"MaxReadRequestUnits": 50, "MaxWriteRequestUnits": 50}}
    created = run_after(rules, ddb("CreateTable", GlobalSecondaryIndexes=[gsi],
                                   OnDemandThroughput={"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 100}),
                        gsis=("g",))
    assert created["OnDemandThroughput"] == {"MaxReadRequestUnits": 100, "MaxWriteRequestUnits": 100}
    assert created["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == gsi["OnDemandThroughput"]

    run_after(rules, ddb("UpdateTable", OnDemandThroughput={"MaxReadRequestUnits": 200}), gsis=("g",))
    update = {"IndexName": "g", "OnDemandThroughput": {"MaxReadRequestUnits": 60, "MaxWriteRequestUnits": -1}}
    run_after(rules, ddb("UpdateTable", GlobalSecondaryIndexUpdates=[{"Update": update}]), gsis=("g",))
    described = run_after(rules, ddb("DescribeTable"), gsis=("g",))
    assert described["OnDemandThroughput"] == {"MaxReadRequestUnits": 200, "MaxWriteRequestUnits": 100}
    assert described["GlobalSecondaryIndexes"][0]["OnDemandThroughput"] == update["OnDemandThroughput"]

    run_after(rules, ddb("UpdateTable", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "g"}}]))
    recreated = {**gsi, "OnDemandThroughput": None}
    run_after(rules, ddb("UpdateTable", GlobalSecondaryIndexUpdates=[{"Create": recreated}]), gsis=("g",))
    assert "OnDemandThroughput" not in run_after(rules, ddb("DescribeTable"), gsis=("g",))["GlobalSecondaryIndexes"][0]
    run_after(rules, ddb("DeleteTable"))
    assert "OnDemandThroughput" not in run_after(rules, ddb("DescribeTable"))


def test_kms_key_arn_forms() -> None:
    arn = "arn:aws:kms:eu-west-1:111111111111:key/1234"
    assert kms_key_arn(arn, "us-east-1", "123456789012") == arn
    assert kms_key_arn("1234", "us-east-1", "123456789012") == "arn:aws:kms:us-east-1:123456789012:key/1234"
    by_alias = kms_key_arn("alias/mine", "us-east-1", "123456789012")
    assert by_alias == kms_key_arn("arn:aws:kms:us-east-1:123456789012:alias/mine", "us-east-1", "123456789012")
    assert by_alias != kms_key_arn(None, "us-east-1", "123456789012")


def test_msk_cluster_becomes_active_after_delay(clock: Clock) -> None:
    rule = MskActivation(delay=2.0, clock=clock)
    arn = "arn:aws:kafka:us-east-1:123456789012:cluster/c/1"
    rule.after(Call("kafka", "CreateCluster"), {"clusterArn": arn, "state": "CREATING"})

    def states() -> tuple[str, str]:
        described = {"clusterInfo": {"clusterArn": arn, "state": "CREATING"}}
        listed = {"clusterInfoList": [{"clusterArn": arn, "state": "CREATING"}]}
        rule.after(Call("kafka", "DescribeClusterV2"), described)
        rule.after(Call("kafka", "ListClusters"), listed)
        return described["clusterInfo"]["state"], listed["clusterInfoList"][0]["state"]

    assert states() == ("CREATING", "CREATING")
    clock.now += 2.0
    assert states() == ("ACTIVE", "ACTIVE")


def test_default_rules_only_validate_before_changing_moto() -> None:
    names = [type(rule).__name__ for rule in default_rules(0, 0, 0, lambda call: None, lambda call, region: None)]
    refusing = ("NothingToUpdate", "OneIndexChangePerCall", "MissingIndex", "OneIndexAtATime", "NoUpdateWhileBusy",
                "Replicas")
    assert names.index("StreamReenable") > max(names.index(name) for name in refusing)
    # ChangeRateLimits records a change when it lets it through: no other refusal may follow it.
    assert names.index("ChangeRateLimits") > max(names.index(name) for name in refusing)


# --- faults ------------------------------------------------------------------------------------------


def test_parse_faults() -> None:
    assert parse_faults("dynamodb:DescribeTable=throttle:0.3, dynamodb:*=error:1,") == [
        Fault("dynamodb", "DescribeTable", "throttle", 0.3),
        Fault("dynamodb", "*", "error", 1.0),
    ]
    assert parse_faults("") == []


@pytest.mark.parametrize(
    "bad",
    ["dynamodb:DescribeTable=slow:0.5", "dynamodb:*=throttle:1.5", "dynamodb=throttle:0.1", "x:y=error:abc"],
)
def test_malformed_fault_rule_is_quoted(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"bad rule '{bad}'")):
        parse_faults(f"kafka:*=error:0.1,{bad}")


def test_faults_strike_at_their_rate_deterministically() -> None:
    describe = Call("dynamodb", "DescribeTable")
    always = Faults(parse_faults("dynamodb:DescribeTable=throttle:1,dynamodb:*=error:1"))
    refusal = always.pick(describe)
    assert refusal is not None and refusal.code == "ThrottlingException" and refusal.status == 400
    refusal = always.pick(Call("dynamodb", "ListTables"))
    assert refusal is not None and refusal.status == 500
    assert always.pick(Call("kafka", "ListClusters")) is None
    assert Faults(parse_faults("*:*=error:0")).pick(describe) is None

    def draws(seed: str) -> list[bool]:
        faults = Faults(parse_faults("dynamodb:*=throttle:0.5"), seed)
        return [faults.pick(describe) is not None for _ in range(200)]

    assert draws("7") == draws("7")
    assert 60 < sum(draws("7")) < 140


@pytest.mark.parametrize(
    ("protocol", "service", "code"),
    [
        ("json", "dynamodb", "ThrottlingException"),
        ("rest-json", "kafka", "ThrottlingException"),
        ("cbor", "monitoring", "ThrottlingException"),
        ("query", "sts", "Throttling"),
        ("ec2", "ec2", "RequestLimitExceeded"),
        ("rest-xml", "s3", "SlowDown"),
    ],
)
def test_throttling_reads_as_throttling_to_botocore(protocol: str, service: str, code: str) -> None:
    call = Call(service, "Op", protocol=protocol)
    refusal = Fault(service, "*", "throttle", 1.0).refusal(call)
    status, headers, body = error_response(call, refusal)
    parser = create_parser("smithy-rpc-v2-cbor" if protocol == "cbor" else protocol)
    parsed = parser.parse({"status_code": status, "headers": dict(headers), "body": body}, None)
    assert parsed["Error"]["Code"] == code == refusal.code


# --- settings and request parsing --------------------------------------------------------------------


def test_settings_from_env() -> None:
    settings = Settings.from_env({"SANDBOX_AWS_TABLE_DELAY": "0", "SANDBOX_AWS_FAULTS": "sts:*=error:0.5",
                                  "SANDBOX_AWS_LATENCY": "0.02"})
    assert (settings.table_delay, settings.index_delay, settings.msk_delay) == (0.0, 0.5, 1.0)
    assert (settings.latency, Settings.from_env({}).latency) == (0.02, 0.0)
    assert settings.faults == (Fault("sts", "*", "error", 0.5),) and settings.access_key_id is None
    for bad in ("-1", "soon", "inf"):
        with pytest.raises(ValueError, match=f"SANDBOX_AWS_MSK_DELAY='{bad}'"):
            Settings.from_env({"SANDBOX_AWS_MSK_DELAY": bad})


def auth(service: str, key: str = "AKIATEST") -> dict[str, str]:
    scope = f"{key}/20240101/eu-west-1/{service}/aws4_request"
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=abc"}


def call_of(method: str = "POST", path: str = "/", data: bytes = b"", **kwargs: Any) -> Call:
    environ = EnvironBuilder(method=method, path=path, data=data, **kwargs).get_environ()
    return parse_call(environ, data)


def test_parse_json_protocol_call() -> None:
    headers = {**auth("dynamodb"), "X-Amz-Target": "DynamoDB_20120810.UpdateTable"}
    call = call_of(data=b'{"TableName": "t"}', headers=headers, content_type="application/x-amz-json-1.0")
    assert call == Call("dynamodb", "UpdateTable", "eu-west-1", "json", {"TableName": "t"}, "AKIATEST")


def test_parse_query_protocol_call() -> None:
    form = "application/x-www-form-urlencoded; charset=utf-8"
    call = call_of(data=b"Action=GetCallerIdentity&Version=2011-06-15", headers=auth("sts"), content_type=form)
    assert (call.service, call.operation, call.protocol) == ("sts", "GetCallerIdentity", "query")
    assert call_of(data=b"Action=DescribeVpcs", headers=auth("ec2"), content_type=form).protocol == "ec2"


def test_parse_rest_calls_by_request_uri() -> None:
    arn = "arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3Acluster%2Fc%2F1"
    call = call_of("GET", f"/api/v2/clusters/{arn}", headers=auth("kafka"))
    assert (call.operation, call.protocol) == ("DescribeClusterV2", "rest-json")
    assert call_of("GET", "/v2/apis", headers=auth("apigateway")).operation == "GetApis"
    assert call_of("PUT", "/bucket/some/key", headers=auth("s3")).operation == "PutObject"
    unknown = call_of("GET", "/nowhere/at/all", headers=auth("kafka"))
    assert (unknown.service, unknown.operation) == ("kafka", "")


def test_parse_cbor_and_presigned_and_unsigned_calls() -> None:
    path = "/service/GraniteServiceVersion20100801/operation/ListMetrics"
    cbor = call_of(path=path, headers={**auth("monitoring"), "Smithy-Protocol": "rpc-v2-cbor"})
    assert (cbor.operation, cbor.protocol) == ("ListMetrics", "cbor")
    credential = "X-Amz-Credential=AKIAPRE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
    presigned = call_of("GET", "/bucket/key", query_string=credential)
    assert (presigned.access_key_id, presigned.service, presigned.operation) == ("AKIAPRE", "s3", "GetObject")
    sigv2 = call_of("GET", "/bucket/key", query_string="AWSAccessKeyId=AKIAV2&Signature=x&Expires=1")
    assert (sigv2.access_key_id, sigv2.service, sigv2.protocol) == ("AKIAV2", "s3", "rest-xml")
    assert call_of("GET", "/moto-api/").access_key_id is None


def test_latency_holds_each_answer_back() -> None:
    latency = 0.2
    endpoint = Endpoint(Settings(latency=latency))
    environ = EnvironBuilder(method="POST", path="/", data=b"{}", headers={
        **auth("dynamodb"), "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0"}).get_environ()
    started = time.monotonic()
    body = b"".join(run_wsgi_app(endpoint, environ, buffered=True)[0])
    assert time.monotonic() - started >= latency
    assert json.loads(body) == {"TableNames": []}


def test_documentdb_is_asked_of_moto_as_neptune_and_answered_as_docdb() -> None:
    rule = DocumentDb()
    create = Call("rds", "CreateDBCluster", protocol="query",
                  params={"Action": "CreateDBCluster", "DBClusterIdentifier": "p-docdb", "Engine": "docdb"})
    assert rule.request(create) == {**create.params, "Engine": "neptune"}
    other = Call("rds", "CreateDBCluster", protocol="query",
                 params={"Action": "CreateDBCluster", "DBClusterIdentifier": "graph", "Engine": "neptune"})
    assert rule.request(other) is None
    answer = ("<DescribeDBClustersResult><DBClusters>"
              "<DBCluster><DBClusterIdentifier>p-docdb</DBClusterIdentifier><Engine>neptune</Engine></DBCluster>"
              "<DBCluster><DBClusterIdentifier>graph</DBClusterIdentifier><Engine>neptune</Engine></DBCluster>"
              "</DBClusters></DescribeDBClustersResult>")
    relabelled = rule.after_text(Call("rds", "DescribeDBClusters", protocol="query"), answer)
    assert relabelled.count("<Engine>docdb</Engine>") == 1 and relabelled.count("<Engine>neptune</Engine>") == 1
    assert relabelled.index("<Engine>docdb</Engine>") < relabelled.index("graph")


# --- contributor insights and replicas: what moto does not serve ---------------------------------------


def test_contributor_insights_are_enabling_then_enabled_and_forgotten_with_the_table(moto_ddb) -> None:
    clock = Clock()
    rule = ContributorInsights(2.0, find_in(moto_ddb), clock)
    describe = ddb("DescribeContributorInsights")
    assert rule.before(describe) is None and rule.answer(describe)["ContributorInsightsStatus"] == "DISABLED"
    enable = ddb("UpdateContributorInsights", ContributorInsightsAction="ENABLE")
    assert rule.before(enable) is None
    assert rule.answer(enable) == {"TableName": "t", "ContributorInsightsStatus": "ENABLING"}
    clock.now += 2.0
    described = rule.answer(describe)
    assert described["ContributorInsightsStatus"] == "ENABLED" and len(described["ContributorInsightsRuleList"]) == 4
    assert rule.before(ddb("UpdateContributorInsights", ContributorInsightsAction="MAYBE")).code == \
        "ValidationException"
    assert rule.before(ddb("DescribeContributorInsights", IndexName="nope")).code == "ResourceNotFoundException"
    missing = Call("dynamodb", "DescribeContributorInsights", params={"TableName": "missing"})
    assert rule.before(missing).code == "ResourceNotFoundException"
    rule.after(ddb("DeleteTable"), {})
    assert rule.answer(describe)["ContributorInsightsStatus"] == "DISABLED"


def test_a_backup_is_creating_then_available_and_refused_as_aws_refuses(moto_ddb) -> None:
    clock = Clock()
    timeline = TableTimeline(2.0, 2.0, clock)
    rule = Backups(timeline, find_in(moto_ddb), lambda call, region: moto_ddb, clock)
    create = ddb("CreateBackup", BackupName="nightly")
    timeline.created(("us-east-1", "t"))
    assert rule.before(create).code == "TableInUseException"  # AWS: not while the table is being created
    assert rule.before(Call("dynamodb", "CreateBackup", params={"TableName": "nope", "BackupName": "b"})).code == \
        "TableNotFoundException"
    clock.now += 2.0
    assert rule.before(create) is None
    backup = moto_ddb.create_backup("t", "nightly")  # what moto does for the call
    answer = {"BackupDetails": dict(backup.details)}
    rule.after(create, answer)
    assert answer["BackupDetails"]["BackupStatus"] == "CREATING"
    describe = Call("dynamodb", "DescribeBackup", params={"BackupArn": backup.arn})
    delete = Call("dynamodb", "DeleteBackup", params={"BackupArn": backup.arn})
    assert rule.before(describe) is None and rule.before(delete).code == "BackupInUseException"
    clock.now += 2.0
    described = {"BackupDescription": {"BackupDetails": dict(backup.details)}}
    rule.after(describe, described)
    assert described["BackupDescription"]["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    assert rule.before(delete) is None
    unknown = Call("dynamodb", "DescribeBackup", params={"BackupArn": backup.arn + "x"})
    assert rule.before(unknown).code == "BackupNotFoundException"


def replica_update(action: str, region: str = "eu-west-1") -> Call:
    return ddb("UpdateTable", ReplicaUpdates=[{action: {"RegionName": region}}])


def test_a_replica_needs_a_new_and_old_images_stream(moto_ddb) -> None:
    rule = Replicas(1.0, find_in(moto_ddb), lambda call, region: DynamoDBBackend(region, "123456789012"), Clock())
    refusal = rule.before(replica_update("Create"))  # the fixture's stream is NEW_IMAGE
    assert refusal.code == "ValidationException" and "NEW_AND_OLD_IMAGES" in refusal.message


def test_a_replica_is_created_one_change_at_a_time_listed_then_deleted(moto_ddb) -> None:
    moto_ddb.tables["t"].stream_specification = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    clock, regions = Clock(), {}
    rule = Replicas(1.0, find_in(moto_ddb),
                    lambda call, region: regions.setdefault(region, DynamoDBBackend(region, "123456789012")), clock)

    def described() -> list[dict[str, Any]]:
        body = {"Table": {"TableName": "t"}}
        rule.after(ddb("DescribeTable"), body)
        return body["Table"].get("Replicas", [])

    create = replica_update("Create")
    assert rule.before(create) is None
    assert rule.request(create) == {"TableName": "t"}  # moto is asked the rest of the call
    rule.after(create, {"TableDescription": {"TableName": "t"}})
    assert "t" in regions["eu-west-1"].tables  # the table, in the replica's region
    assert described() == [{"RegionName": "eu-west-1", "ReplicaStatus": "CREATING"}]
    assert rule.before(replica_update("Create", "ap-south-1")).code == "LimitExceededException"
    clock.now += 1.0
    assert described() == [{"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"}]
    assert rule.before(create).code == "ValidationException"  # there already
    assert rule.before(replica_update("Delete", "ap-south-1")).code == "ValidationException"  # not a replica
    assert rule.before(replica_update("Create", "us-east-1")).code == "ValidationException"  # the table's region
    two = ddb("UpdateTable", ReplicaUpdates=[{"Create": {"RegionName": "a"}}, {"Create": {"RegionName": "b"}}])
    assert rule.before(two).code == "ValidationException"
    delete = replica_update("Delete")
    assert rule.before(delete) is None
    rule.after(delete, {"TableDescription": {"TableName": "t"}})
    assert described() == [{"RegionName": "eu-west-1", "ReplicaStatus": "DELETING"}]
    assert "t" not in regions["eu-west-1"].tables
    clock.now += 1.0
    assert described() == []
