"""Regions and accounts, as ACK's annotations and role maps set them (ack/placement.py), on the sandbox: its STS issues
credentials that act in the assumed role's account, and its call log says, for every call, the account and region it
acted in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from ack.model import TERMINAL
from ack.placement import ACCOUNT_MAP, DEFAULT_REGION, OWNER_ACCOUNT, REGION, TEAM_ID, TEAM_MAP
from flows.apply import apply
from flows.drift import drift
from flows.reconcile import reconcile
from tests.integration.tables import CallCounter, kubectl, manifest, simple_spec, unique

pytestmark = pytest.mark.integration

OWN = "123456789012"  # the sandbox's own credentials' account
ACCOUNT_B, ACCOUNT_C = "111122223333", "444455556666"


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/ack-dynamodb"


@pytest.fixture(scope="module")
def core(target) -> client.CoreV1Api:
    return client.CoreV1Api(target.kube_api())


@pytest.fixture(scope="module")
def controller_namespace(core) -> str:
    """A controller namespace of this module's own, with ACK's two role maps."""
    name = unique("ack-system")
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, {"metadata": {"name": ACCOUNT_MAP},
                                             "data": {ACCOUNT_B: role(ACCOUNT_B), ACCOUNT_C: role(ACCOUNT_C)}})
    core.create_namespaced_config_map(name, {"metadata": {"name": TEAM_MAP}, "data": {"payments": role(ACCOUNT_C)}})
    return name


def namespace(core, **annotations: str) -> str:
    name = unique("placed")
    core.create_namespace({"metadata": {"name": name, "annotations": annotations}})
    return name


def table_status(target, namespace_: str, name: str) -> dict[str, Any]:
    return client.CustomObjectsApi(target.kube_api()).get_namespaced_custom_object(
        "dynamodb.services.k8s.aws", "v1alpha1", namespace_, "tables", name).get("status") or {}


def test_each_table_is_made_in_its_own_account_and_region_with_that_accounts_credentials(
        target, sandbox, core, controller_namespace):
    own = namespace(core)
    team_b = namespace(core, **{OWNER_ACCOUNT: ACCOUNT_B, DEFAULT_REGION: "eu-west-1"})
    team_c = namespace(core, **{TEAM_ID: "payments"})
    where = {  # table -> (namespace, annotations, account, region)
        unique("own"): (own, {}, OWN, "us-east-1"),
        unique("own-eu"): (own, {REGION: "eu-west-1"}, OWN, "eu-west-1"),
        unique("b"): (team_b, {}, ACCOUNT_B, "eu-west-1"),
        unique("b-us"): (team_b, {REGION: "us-east-1"}, ACCOUNT_B, "us-east-1"),
        unique("c"): (team_c, {}, ACCOUNT_C, "us-east-1"),
    }
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    outcomes = apply([manifest(table, simple_spec(table), ns, annotations or None)
                      for table, (ns, annotations, _, _) in where.items()], controller_namespace=controller_namespace)
    assert [o.state for o in outcomes] == ["Synced"] * len(where), outcomes
    for table, (ns, _, account, region) in where.items():
        metadata = table_status(target, ns, table)["ackResourceMetadata"]
        assert (metadata["ownerAccountID"], metadata["region"]) == (account, region), table
        assert metadata["arn"] == f"arn:aws:dynamodb:{region}:{account}:table/{table}"
    # Every call about a table acted in that table's account and region, and nowhere else.
    about = [c for c in calls.entries() if c.get("table") in where]
    assert about and {c["table"] for c in about} == set(where)
    wrong = [c for c in about if (c["account"], c["region"]) != where[c["table"]][2:]]
    assert wrong == []
    assert {c["account"] for c in calls.entries() if c["operation"] == "AssumeRole"} == {OWN}  # with our own key

    # Drift reads each where it is, and says where in the report.
    result = drift(namespace=team_b, controller_namespace=controller_namespace)
    assert result.counts["IN_SYNC"] == 2 and result.failures == 0


def test_a_region_changed_under_an_existing_table_is_terminal_and_nothing_is_made_there(
        target, sandbox, core, controller_namespace):
    ns, table = namespace(core), unique("moved")
    apply([manifest("t", simple_spec(table), ns, {REGION: "eu-west-1"})], controller_namespace=controller_namespace)
    moved = kubectl(sandbox, "annotate", "tables.dynamodb.services.k8s.aws", "t", "-n", ns,
                    f"{REGION}=ap-south-1", "--overwrite")
    assert moved.returncode == 0, moved.stderr
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    [outcome] = reconcile(namespace=ns, name="t", controller_namespace=controller_namespace)
    assert outcome.state == "Terminal" and outcome.message.startswith(
        "Resource already exists in region eu-west-1, but the desired state specifies region ap-south-1")
    assert [c for c in calls.entries() if c.get("table") == table] == []  # not even read there
    terminal = next(c for c in table_status(target, ns, "t")["conditions"] if c["type"] == TERMINAL)
    assert terminal["reason"] == "RegionChanged"


@pytest.mark.parametrize("annotations, on, reason, named", [
    ({OWNER_ACCOUNT: "999988887777"}, "namespace", "AccountNotMapped",
     "owner-account-id is '999988887777', but the ConfigMap"),
    ({OWNER_ACCOUNT: "12345"}, "namespace", "InvalidAnnotation", "'12345' is not a 12-digit AWS account id"),
    ({DEFAULT_REGION: "moon-1"}, "namespace", "InvalidAnnotation", "default-region: 'moon-1' is not an AWS region"),
    ({REGION: "mars-1"}, "resource", "InvalidAnnotation", "metadata.annotations[services.k8s.aws/region]: 'mars-1'"),
])
def test_what_cannot_be_placed_is_terminal_naming_the_field_and_no_aws_call_is_made(
        target, sandbox, core, controller_namespace, annotations, on, reason, named):
    ns = namespace(core, **(annotations if on == "namespace" else {}))
    table = unique("unplaced")
    calls = CallCounter(target, sandbox.aws.access_key_id)
    calls.reset()
    [outcome] = apply([manifest("t", simple_spec(table), ns, annotations if on == "resource" else None)],
                      controller_namespace=controller_namespace)
    assert outcome.state == "Terminal" and named in outcome.message, outcome
    assert next(c for c in table_status(target, ns, "t")["conditions"] if c["type"] == TERMINAL)["reason"] == reason
    assert [c for c in calls.entries() if c.get("table") == table] == []


def test_a_malformed_role_map_is_terminal_naming_its_entry(target, core):
    controller = namespace(core)
    core.create_namespaced_config_map(controller, {"metadata": {"name": ACCOUNT_MAP},
                                                   "data": {ACCOUNT_B: "admin"}})
    ns = namespace(core, **{OWNER_ACCOUNT: ACCOUNT_B})
    [outcome] = apply([manifest("t", simple_spec(unique("badmap")), ns)], controller_namespace=controller)
    assert outcome.state == "Terminal"
    assert f"the ConfigMap {controller}/{ACCOUNT_MAP}: data['{ACCOUNT_B}']: 'admin' is not an IAM role ARN" \
        in outcome.message


def test_drift_looks_for_unmanaged_tables_in_each_account_and_region_in_use(target, sandbox, core,
                                                                           controller_namespace, tmp_path):
    ns = namespace(core, **{OWNER_ACCOUNT: ACCOUNT_C, DEFAULT_REGION: "eu-west-1"})
    table = unique("left")
    apply([manifest("t", simple_spec(table), ns, {"services.k8s.aws/deletion-policy": "retain"})],
          controller_namespace=controller_namespace)
    deleted = kubectl(sandbox, "delete", "tables.dynamodb.services.k8s.aws", "t", "-n", ns, "--wait=false")
    assert deleted.returncode == 0, deleted.stderr
    [outcome] = reconcile(namespace=ns, name="t", controller_namespace=controller_namespace)
    assert outcome.state == "Retained"
    report = tmp_path / "report.json"
    result = drift(namespace=ns, detect_only=True, report_path=str(report), controller_namespace=controller_namespace)
    assert result.counts["UNMANAGED"] == 1
    [row] = json.loads(report.read_text())
    assert (row["class"], row["table"], row["account"], row["region"]) == ("UNMANAGED", table, ACCOUNT_C, "eu-west-1")
