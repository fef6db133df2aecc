"""The local AWS endpoint over HTTP, driven with boto3 as the flows drive AWS."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox.aws import AwsEndpoint, calls, reset_calls
from sandbox.processes import SandboxError

pytestmark = pytest.mark.integration

DELAYS = {"SANDBOX_AWS_TABLE_DELAY": "0.3", "SANDBOX_AWS_INDEX_DELAY": "0.3", "SANDBOX_AWS_MSK_DELAY": "0.3"}
FAULTS = (
    "dynamodb:DescribeTable=throttle:1.0,dynamodb:ListTables=error:1.0,sts:*=throttle:1,monitoring:*=throttle:1,"
    "s3:*=throttle:1,ec2:*=throttle:1,kafka:*=throttle:1"
)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEndpoint]:
    aws = AwsEndpoint(tmp_path_factory.mktemp("aws"), env={**DELAYS, "SANDBOX_AWS_FAULTS": ""})
    aws.start()
    yield aws
    aws.stop()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEndpoint]:
    aws = AwsEndpoint(tmp_path_factory.mktemp("aws-faults"), env={"SANDBOX_AWS_FAULTS": FAULTS})
    aws.start()
    yield aws
    aws.stop()


def client(aws: AwsEndpoint, service: str, key_id: str | None = None, attempts: int = 1) -> Any:
    return boto3.client(
        service,
        endpoint_url=aws.url,
        region_name=aws.region,
        aws_access_key_id=key_id or aws.access_key_id,
        aws_secret_access_key=aws.secret_access_key,
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def error_code(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"], error["Error"].get("Message", "")


def new_table(ddb: Any, **extra: Any) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return name


def status(ddb: Any, name: str) -> str:
    return ddb.describe_table(TableName=name)["Table"]["TableStatus"]


def wait_active(ddb: Any, name: str) -> None:
    def active() -> bool:
        table = ddb.describe_table(TableName=name)["Table"]
        gsis = table.get("GlobalSecondaryIndexes", [])
        return table["TableStatus"] == "ACTIVE" and all(g["IndexStatus"] == "ACTIVE" for g in gsis)

    wait_for(active, f"table {name} ACTIVE")


def gsi(name: str) -> dict[str, Any]:
    key = [{"AttributeName": "pk", "KeyType": "HASH"}]
    return {"Create": {"IndexName": name, "KeySchema": key, "Projection": {"ProjectionType": "ALL"}}}


def test_only_the_sandbox_key_gets_in(endpoint: AwsEndpoint) -> None:
    other = "AKIAOTHER0000000000"
    assert error_code(client(endpoint, "dynamodb", other).list_tables)[:2] == ("UnrecognizedClientException", 403)
    assert error_code(client(endpoint, "sts", other).get_caller_identity)[:2] == ("InvalidClientTokenId", 403)
    for path in ("/moto-api/data.json", "/_sandbox/calls"):
        with pytest.raises(urllib.error.HTTPError) as unsigned:
            urllib.request.urlopen(endpoint.url + path, timeout=5)
        assert unsigned.value.code == 403
    with pytest.raises(urllib.error.HTTPError):
        calls(endpoint.url, other)
    with urllib.request.urlopen(endpoint.url + "/_sandbox/health", timeout=5) as health:
        assert health.status == 200
    assert client(endpoint, "sts").get_caller_identity()["Account"]


def test_aws_env_points_boto3_at_the_endpoint(endpoint: AwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in endpoint.aws_env().items():
        monkeypatch.setenv(name, value)
    # A new session, as a new process would have: boto3's default one keeps the first credentials it saw.
    assert boto3.session.Session().client("sts").get_caller_identity()["Account"] == "123456789012"


def test_table_status_lifecycle(endpoint: AwsEndpoint) -> None:
    ddb = client(endpoint, "dynamodb")
    name = f"t-{uuid.uuid4().hex[:8]}"
    created = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert created["TableDescription"]["TableStatus"] == "CREATING"
    assert status(ddb, name) == "CREATING"
    code, http, message = error_code(lambda: ddb.update_table(TableName=name, DeletionProtectionEnabled=False))
    assert (code, http) == ("ResourceInUseException", 400) and message.endswith(f"Table is being created: {name}")
    wait_active(ddb, name)

    throughput = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    def set_throughput() -> Any:
        return ddb.update_table(TableName=name, ProvisionedThroughput=throughput)

    assert error_code(set_throughput)[0] == "ValidationException"
    assert error_code(lambda: ddb.update_table(TableName=name))[0] == "ValidationException"
    updated = ddb.update_table(TableName=name, BillingMode="PROVISIONED", ProvisionedThroughput=throughput)
    assert updated["TableDescription"]["TableStatus"] == "UPDATING"
    assert status(ddb, name) == "UPDATING"
    assert error_code(set_throughput)[0] == "ResourceInUseException"
    wait_active(ddb, name)
    assert ddb.describe_table(TableName=name)["Table"]["BillingModeSummary"]["BillingMode"] == "PROVISIONED"

    assert ddb.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"
    wait_for(lambda: error_code(lambda: status(ddb, name))[0] == "ResourceNotFoundException", "table gone")


def test_gsis_one_at_a_time(endpoint: AwsEndpoint) -> None:
    ddb = client(endpoint, "dynamodb")
    name = new_table(ddb)
    wait_active(ddb, name)
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]

    def change(*updates: dict[str, Any]) -> Any:
        return ddb.update_table(TableName=name, AttributeDefinitions=attrs, GlobalSecondaryIndexUpdates=list(updates))

    code, _, message = error_code(lambda: change(gsi("idx-a"), gsi("idx-b")))
    assert code == "ValidationException" and "Only one global secondary index update" in message

    updated = change(gsi("idx-a"))["TableDescription"]
    assert updated["TableStatus"] == "UPDATING"
    assert [(g["IndexName"], g["IndexStatus"]) for g in updated["GlobalSecondaryIndexes"]] == [("idx-a", "CREATING")]
    described = ddb.describe_table(TableName=name)["Table"]
    assert (described["TableStatus"], described["GlobalSecondaryIndexes"][0]["IndexStatus"]) == ("UPDATING", "CREATING")
    code, http, _ = error_code(lambda: change(gsi("idx-b")))
    assert (code, http) == ("LimitExceededException", 400)
    wait_active(ddb, name)

    missing = error_code(lambda: change({"Delete": {"IndexName": "no-such-index"}}))
    assert missing[:2] == ("ResourceNotFoundException", 400)
    change({"Delete": {"IndexName": "idx-a"}})
    wait_active(ddb, name)
    assert not ddb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes")


def test_table_class_and_sse_follow_updates(endpoint: AwsEndpoint) -> None:
    ddb = client(endpoint, "dynamodb")
    sse = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "alias/tables"}
    name = new_table(ddb, TableClass="STANDARD_INFREQUENT_ACCESS", SSESpecification=sse)
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert table["SSEDescription"]["Status"] == "ENABLED" and table["SSEDescription"]["SSEType"] == "KMS"
    assert table["SSEDescription"]["KMSMasterKeyArn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    wait_active(ddb, name)

    ddb.update_table(TableName=name, TableClass="STANDARD", SSESpecification={"Enabled": False})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableClassSummary"]["TableClass"] == "STANDARD" and "SSEDescription" not in table


def test_stream_disable_write_and_reenable(endpoint: AwsEndpoint) -> None:
    ddb = client(endpoint, "dynamodb")
    name = new_table(ddb, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    wait_active(ddb, name)
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    ddb.put_item(TableName=name, Item={"pk": {"S": "after-disable"}})
    assert "StreamSpecification" not in ddb.describe_table(TableName=name)["Table"]
    wait_active(ddb, name)
    enabled = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ddb.update_table(TableName=name, StreamSpecification=enabled)
    assert ddb.describe_table(TableName=name)["Table"]["StreamSpecification"] == enabled
    ddb.put_item(TableName=name, Item={"pk": {"S": "after-enable"}})


def test_msk_cluster_becomes_active(endpoint: AwsEndpoint) -> None:
    kafka = client(endpoint, "kafka")
    arn = kafka.create_cluster(
        ClusterName=f"c-{uuid.uuid4().hex[:8]}",
        KafkaVersion="3.6.0",
        NumberOfBrokerNodes=2,
        BrokerNodeGroupInfo={"InstanceType": "kafka.t3.small", "ClientSubnets": ["subnet-1", "subnet-2"]},
    )["ClusterArn"]
    assert kafka.describe_cluster(ClusterArn=arn)["ClusterInfo"]["State"] == "CREATING"
    wait_for(lambda: kafka.describe_cluster(ClusterArn=arn)["ClusterInfo"]["State"] == "ACTIVE", "MSK cluster ACTIVE")
    assert kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]["State"] == "ACTIVE"
    assert {c["ClusterArn"]: c["State"] for c in kafka.list_clusters()["ClusterInfoList"]}[arn] == "ACTIVE"
    assert {c["ClusterArn"]: c["State"] for c in kafka.list_clusters_v2()["ClusterInfoList"]}[arn] == "ACTIVE"


def test_call_log_records_and_resets(endpoint: AwsEndpoint) -> None:
    reset_calls(endpoint.url, endpoint.access_key_id)
    ddb = client(endpoint, "dynamodb")
    ddb.list_tables()
    error_code(lambda: ddb.describe_table(TableName="no-such-table"))
    client(endpoint, "kafka").list_clusters_v2()
    logged = calls(endpoint.url, endpoint.access_key_id)
    assert [(c["service"], c["operation"], c["status"]) for c in logged] == [
        ("dynamodb", "ListTables", 200),
        ("dynamodb", "DescribeTable", 400),
        ("kafka", "ListClustersV2", 200),
    ]
    reset_calls(endpoint.url, endpoint.access_key_id)
    assert calls(endpoint.url, endpoint.access_key_id) == []


def test_faults_are_retried_by_botocore_standard_mode(faulty: AwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    ddb = client(faulty, "dynamodb", attempts=3)
    reset_calls(faulty.url, faulty.access_key_id)
    with pytest.raises(ClientError) as throttled:
        ddb.describe_table(TableName="any")
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    with pytest.raises(ClientError) as failed:
        ddb.list_tables()
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    logged = [(c["operation"], c["status"]) for c in calls(faulty.url, faulty.access_key_id)]
    assert logged == [("DescribeTable", 400)] * 3 + [("ListTables", 500)] * 3
    ddb.create_table(  # operations without a fault rule reach moto
        TableName="ok",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.mark.parametrize(
    ("service", "call", "code"),
    [
        ("sts", lambda c: c.get_caller_identity(), "Throttling"),
        ("cloudwatch", lambda c: c.list_metrics(), "ThrottlingException"),
        ("s3", lambda c: c.list_buckets(), "SlowDown"),
        ("ec2", lambda c: c.describe_vpcs(), "RequestLimitExceeded"),
        ("kafka", lambda c: c.list_clusters_v2(), "ThrottlingException"),
    ],
)
def test_throttling_in_each_protocol(faulty: AwsEndpoint, service: str, call: Callable[[Any], Any], code: str) -> None:
    assert error_code(lambda: call(client(faulty, service)))[0] == code


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SANDBOX_AWS_FAULTS", "dynamodb:DescribeTable=slow:0.5"), ("SANDBOX_AWS_TABLE_DELAY", "soon")],
)
def test_malformed_configuration_stops_the_start(tmp_path: Path, variable: str, value: str) -> None:
    aws = AwsEndpoint(tmp_path, env={variable: value})
    with pytest.raises(SandboxError, match="exited with code 1") as failed:
        aws.start()
    assert repr(value) in str(failed.value)
    assert not aws.process or not aws.process.running()
