"""AWS's own rate limits (one Time to Live change an hour, one switch to PROVISIONED a day) are respected and
reported as "retry later", and the run goes on with the other tables. A sandbox of its own keeps the limits."""

from __future__ import annotations

import json
import time

import pytest

from flows.drift import drift
from tests.integration.tables import Cluster, apply, describe, dynamodb, manifest, own_sandbox, simple_spec, unique

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def limited(tmp_path_factory, prefect_api):
    """A sandbox with AWS's windows in force."""
    with own_sandbox(tmp_path_factory.mktemp("limited"), {}) as target:
        yield target


def test_rate_limited_fixes_are_reported_as_retry_later(limited, tmp_path):
    cluster, ddb = Cluster(limited), dynamodb(limited)
    namespace = unique("limits")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    ttl, billing, plain = unique("ttl"), unique("billing"), unique("plain")
    provisioned = {"billingMode": "PROVISIONED",
                   "provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5}}
    outcomes = apply([manifest("ttl", simple_spec(ttl), namespace),
                      manifest("billing", simple_spec(billing, **provisioned), namespace),
                      manifest("plain", simple_spec(plain, **provisioned), namespace)])
    assert [o.state for o in outcomes] == ["Synced"] * 3

    # Out of band: TTL switched on (its first change); billing switched away, back and away again (the
    # switch back was the day's one switch to PROVISIONED); throughput changed on the third table.
    ddb.update_time_to_live(TableName=ttl, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    for mode in ("PAY_PER_REQUEST", "PROVISIONED", "PAY_PER_REQUEST"):
        extra = {"ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}} \
            if mode == "PROVISIONED" else {}
        _wait_active(limited, billing)
        ddb.update_table(TableName=billing, BillingMode=mode, **extra)
    ddb.update_table(TableName=plain, ProvisionedThroughput={"ReadCapacityUnits": 8, "WriteCapacityUnits": 8})
    for table in (billing, plain):
        _wait_active(limited, table)

    report = tmp_path / "report.json"
    result = drift(namespace=namespace, report_path=str(report))
    rows = {(row["resource"], row["field"]): row for row in json.loads(report.read_text())}

    assert rows[("ttl", "spec.timeToLive.enabled")]["action"] == "retry later"
    assert "modified multiple times within a fixed interval" in rows[("ttl", "spec.timeToLive.enabled")]["message"]
    assert rows[("billing", "spec.billingMode")]["action"] == "retry later"
    assert "once every 24 hours" in rows[("billing", "spec.billingMode")]["message"]
    assert {row["action"] for (resource, _), row in rows.items() if resource == "plain"} == {"remediated"}
    assert describe(limited, plain)["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert result.failures == 0
    recoverable = cluster.condition("ttl", "ACK.Recoverable", namespace)
    assert recoverable["status"] == "True" and recoverable["reason"] == "RetryLater"


def _wait_active(target, table: str) -> None:
    deadline = time.monotonic() + 30
    while describe(target, table)["TableStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, f"{table} stayed busy"
        time.sleep(0.1)
