"""deploy/iam/: each policy is a well-formed IAM document that only allows, lists each action once, and
scopes the role-passing and service-linked-role rights to the services that need them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

POLICIES = sorted((Path(__file__).resolve().parents[2] / "deploy" / "iam").glob("*.json"))
ACTION = re.compile(r"^[a-z0-9-]+:([A-Z][A-Za-z0-9]+|GET|POST|PUT|PATCH|DELETE)$")
CONDITIONED = {"iam:PassRole": "iam:PassedToService", "iam:CreateServiceLinkedRole": "iam:AWSServiceName"}


@pytest.mark.parametrize("path", POLICIES, ids=[p.name for p in POLICIES])
def test_each_policy_is_a_least_privilege_allow_list(path):
    document = json.loads(path.read_text())
    assert document["Version"] == "2012-10-17"
    actions: list[str] = []
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow", statement["Sid"]
        assert statement["Resource"], statement["Sid"]
        malformed = [a for a in statement["Action"] if not ACTION.match(a)]
        assert not malformed, malformed
        for action, key in CONDITIONED.items():
            if action in statement["Action"]:
                assert statement["Action"] == [action] and statement["Condition"]["StringEquals"][key], statement["Sid"]
        actions += statement["Action"]
    assert len(actions) == len(set(actions)), sorted(a for a in actions if actions.count(a) > 1)
    assert not any("*" in a for a in actions)


def test_there_is_a_policy_for_the_tables_and_one_for_the_bootstrap():
    assert {p.name for p in POLICIES} == {"ackflow-tables-policy.json", "ackflow-bootstrap-policy.json"}
