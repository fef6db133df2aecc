"""The local AWS endpoint's CloudTrail events: boto3 clients call the endpoint in-process (no server), and an
EventBridge rule with ack/trail.py's pattern delivers what it publishes to an SQS queue, as on AWS."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.test import Client

from ack.trail import OWN_APP_ID, OWN_SESSION, TableEvent, event_pattern, parse_event
from sandbox.aws import trail
from sandbox.aws.server import Endpoint, Settings

KEY = "AKIATRAILTEST0000000"
DELAY = 0.05
OTHER_ACCOUNT = "210987654321"


class _Raw:
    """What botocore reads an answer's body from."""

    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


class InProcess:
    """boto3 clients whose requests the Endpoint answers in-process (botocore's before-send hook)."""

    def __init__(self, endpoint: Endpoint):
        self.wsgi = Client(endpoint)

    def send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()]
        answer = self.wsgi.open(url.path, method=request.method, query_string=url.query, headers=headers, data=body)
        return AWSResponse(request.url, answer.status_code, dict(answer.headers), _Raw(answer.get_data()))

    def client(self, service: str, region: str = "us-east-1", key: str = KEY, secret: str = "secret",
               token: str | None = None, app_id: str | None = None) -> Any:
        made = boto3.client(service, endpoint_url="http://aws.test", region_name=region, aws_access_key_id=key,
                            aws_secret_access_key=secret, aws_session_token=token,
                            config=Config(user_agent_appid=app_id, retries={"total_max_attempts": 1}))
        made.meta.events.register("before-send", self.send)
        return made


def endpoint(delay: float) -> InProcess:
    return InProcess(Endpoint(Settings(access_key_id=KEY, table_delay=0, index_delay=0, trail_delay=delay)))


@pytest.fixture(scope="module")
def aws() -> InProcess:
    return endpoint(DELAY)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def drift_queue(aws: InProcess, pattern: dict[str, Any] | None = None, **client: Any) -> str:
    """A queue fed by an EventBridge rule with `pattern` (the controller's by default), in the client's account and
    region."""
    sqs, events = aws.client("sqs", **client), aws.client("events", **client)
    url = sqs.create_queue(QueueName=unique("drift"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("drift-rule")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern or event_pattern()))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def table_events(aws: InProcess, url: str, tables: set[str], count: int, timeout: float = 5.0,
                 **client: Any) -> list[TableEvent]:
    """The events about `tables` on the queue, once `count` arrived (or `timeout` passed): other tests' tables share
    the account's bus, so only these tables' events count."""
    sqs, found = aws.client("sqs", **client), []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        found += [event for event in map(parse_event, (m["Body"] for m in messages)) if event.table in tables]
        if not messages:
            time.sleep(0.01)
    return found


def new_table(ddb: Any) -> tuple[str, str]:
    """(name, ARN) of a new on-demand table."""
    name = unique("t")
    described = ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    return name, described["TableDescription"]["TableArn"]


class UserAgents:
    """The User-Agent each request was sent with."""

    def __init__(self, client: Any):
        self.sent: list[str] = []
        client.meta.events.register("before-send", self.keep, unique_id=f"user-agents-{id(self)}")

    def keep(self, request: AWSPreparedRequest, **_: Any) -> None:
        agent = request.headers["User-Agent"]
        self.sent.append(agent.decode() if isinstance(agent, bytes) else agent)


def test_trail_delay_from_env() -> None:
    assert Settings.from_env({}).trail_delay == 1.0
    assert Settings.from_env({"SANDBOX_AWS_TRAIL_DELAY": "0.05"}).trail_delay == 0.05
    with pytest.raises(ValueError, match="SANDBOX_AWS_TRAIL_DELAY='soon'"):
        Settings.from_env({"SANDBOX_AWS_TRAIL_DELAY": "soon"})


def test_mutating_calls_reach_the_queue_as_cloudtrail_delivers_them(aws: InProcess) -> None:
    region = "eu-west-1"
    account = aws.client("sts").get_caller_identity()["Account"]
    url = drift_queue(aws, region=region)
    ddb = aws.client("dynamodb", region)
    agents = UserAgents(ddb)
    name, arn = new_table(ddb)
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}])
    ddb.update_table(TableName=name, DeletionProtectionEnabled=True)

    events = table_events(aws, url, {name}, 3, region=region)
    assert sorted(event.name for event in events) == ["TagResource", "UpdateTable", "UpdateTimeToLive"]
    assert {event.place for event in events} == {(account, region, name)}
    assert {event.user_agent for event in events} == set(agents.sent[1:])  # CreateTable is not a drift call
    assert all(not event.own and event.caller == f"arn:aws:iam::{account}:root" for event in events)
    assert len({event.event_id for event in events}) == 3 and all(event.time.endswith("Z") for event in events)


def test_the_record_is_cloudtrails(aws: InProcess) -> None:
    account = aws.client("sts").get_caller_identity()["Account"]
    url = drift_queue(aws)
    ddb = aws.client("dynamodb")
    name, arn = new_table(ddb)
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}])
    sqs, bodies = aws.client("sqs"), []
    deadline = time.monotonic() + 5
    while not bodies and time.monotonic() < deadline:
        bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url).get("Messages", [])
                  if parse_event(m["Body"]).table == name]
    [message] = bodies
    assert (message["source"], message["detail-type"], message["region"]) == \
        ("aws.dynamodb", "AWS API Call via CloudTrail", "us-east-1")
    detail = message["detail"]
    assert detail["requestParameters"] == {"resourceArn": arn, "tags": [{"Key": "team", "Value": "a"}]}
    assert detail["userIdentity"] == {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root",
                                      "accountId": account, "accessKeyId": KEY}
    assert (detail["eventVersion"], detail["eventType"], detail["eventCategory"], detail["readOnly"],
            detail["managementEvent"], detail["recipientAccountId"], detail["sourceIPAddress"]) == \
        ("1.08", "AwsApiCall", "Management", False, True, account, "127.0.0.1")


def test_reads_refusals_and_failures_publish_nothing(aws: InProcess) -> None:
    url = drift_queue(aws, {"source": ["aws.dynamodb"]})  # any call's event, not only those the controller reads
    ddb = aws.client("dynamodb")
    name, arn = new_table(ddb)
    ddb.describe_table(TableName=name)
    with pytest.raises(ClientError, match="ValidationException"):  # refused by a rule: nothing to update
        ddb.update_table(TableName=name)
    with pytest.raises(ClientError, match="UnrecognizedClientException"):  # refused: not the sandbox's key
        aws.client("dynamodb", key="AKIAOTHER0000000000").tag_resource(ResourceArn=arn, Tags=[{"Key": "k",
                                                                                             "Value": "v"}])
    missing = unique("missing")
    with pytest.raises(ClientError, match="Table not found"):  # moto's own error
        ddb.update_time_to_live(TableName=missing, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    ddb.update_table(TableName=name, DeletionProtectionEnabled=True)  # the last call: its event comes last

    events = table_events(aws, url, {name, missing}, 1)
    time.sleep(4 * DELAY)  # anything published earlier than the last call's event has had its time too
    events += table_events(aws, url, {name, missing}, 1, timeout=0)
    assert [event.name for event in events] == ["UpdateTable"]


def test_the_projects_own_calls_tell_themselves_apart_by_app_id(aws: InProcess) -> None:
    url = drift_queue(aws)
    own, plain = aws.client("dynamodb", app_id=OWN_APP_ID), aws.client("dynamodb")
    own_table, _ = new_table(own)
    plain_table, _ = new_table(plain)
    own.update_time_to_live(TableName=own_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    plain.update_time_to_live(TableName=plain_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})

    events = {event.table: event for event in table_events(aws, url, {own_table, plain_table}, 2)}
    own_event, plain_event = events[own_table], events[plain_table]
    assert f"app/{OWN_APP_ID}" in own_event.user_agent and own_event.own
    assert f"app/{OWN_APP_ID}" not in plain_event.user_agent and not plain_event.own


def test_an_assumed_roles_calls_are_the_roles_session_in_the_roles_account(aws: InProcess) -> None:
    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/ack-dynamodb"
    credentials = aws.client("sts").assume_role(RoleArn=role, RoleSessionName=OWN_SESSION)["Credentials"]
    assumed = {"key": credentials["AccessKeyId"], "secret": credentials["SecretAccessKey"],
               "token": credentials["SessionToken"]}
    url = drift_queue(aws, **assumed)
    ddb = aws.client("dynamodb", **assumed)
    name, arn = new_table(ddb)
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "b"}])

    [event] = table_events(aws, url, {name}, 1, **assumed)
    assert event.place == (OTHER_ACCOUNT, "us-east-1", name)
    assert event.caller == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/ack-dynamodb/{OWN_SESSION}"
    assert event.own and f"app/{OWN_APP_ID}" not in event.user_agent  # told apart by its session alone


def test_events_wait_for_the_delay() -> None:
    delay = 0.5
    aws = endpoint(delay)
    url = drift_queue(aws)
    ddb = aws.client("dynamodb")
    name, _ = new_table(ddb)
    called = time.monotonic()
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    assert table_events(aws, url, {name}, 1, timeout=0) == []
    assert [event.name for event in table_events(aws, url, {name}, 1)] == ["UpdateTimeToLive"]
    assert time.monotonic() - called >= delay


def test_a_failed_publish_never_fails_the_call(aws: InProcess, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    region = "ca-central-1"  # a region of its own: moto stops delivering an event at the first target that fails
    url = drift_queue(aws, region=region)
    aws.client("sqs", region).delete_queue(QueueUrl=url)  # the rule's target is gone: moto raises delivering to it
    ddb = aws.client("dynamodb", region)
    name, arn = new_table(ddb)
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    deadline = time.monotonic() + 5
    while "could not publish the CloudTrail event for UpdateTimeToLive" not in caplog.text:
        assert time.monotonic() < deadline, "the failed publish was not logged"
        time.sleep(0.01)

    def broken(*_: Any) -> dict[str, Any]:
        raise RuntimeError("no identity")

    monkeypatch.setattr(trail, "identity", broken)
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}])
    assert "no CloudTrail event for dynamodb TagResource" in caplog.text
