"""Where a resource's AWS calls go (ack/placement.py): ACK's region and cross-account annotations, pure."""

from __future__ import annotations

import pytest

from ack.lifecycle import Refuse
from ack.placement import (
    DEFAULT_REGION,
    OWNER_ACCOUNT,
    REGION,
    TEAM_ID,
    Placement,
    RoleMaps,
    moved,
    needs_role_maps,
    place,
)

REGIONS = frozenset({"us-east-1", "eu-west-1", "ap-south-1"})
ROLE_B = "arn:aws:iam::111122223333:role/ack-dynamodb"
ROLE_C = "arn:aws:iam::444455556666:role/ack-dynamodb"
MAPS = RoleMaps("ack-system", accounts={"111122223333": ROLE_B, "444455556666": ROLE_C},
                teams={"payments": ROLE_C})


def placed(annotations: dict[str, str] | None = None, namespace: dict[str, str] | None = None,
           maps: RoleMaps = MAPS) -> Placement | Refuse:
    return place(annotations or {}, namespace or {}, maps, "us-east-1", REGIONS)


def test_the_region_is_the_resources_else_its_namespaces_else_the_controllers() -> None:
    assert placed() == Placement("us-east-1")
    assert placed(namespace={DEFAULT_REGION: "eu-west-1"}) == Placement("eu-west-1")
    assert placed({REGION: "ap-south-1"}, {DEFAULT_REGION: "eu-west-1"}) == Placement("ap-south-1")


def test_a_namespaces_account_is_managed_with_its_role_and_a_team_with_its_own() -> None:
    assert placed(namespace={OWNER_ACCOUNT: "111122223333"}) == Placement("us-east-1", "111122223333", ROLE_B)
    assert placed({REGION: "eu-west-1"}, {OWNER_ACCOUNT: "444455556666"}) == Placement("eu-west-1", "444455556666",
                                                                                      ROLE_C)
    assert placed(namespace={TEAM_ID: "payments", OWNER_ACCOUNT: "111122223333"}) == Placement(
        "us-east-1", "444455556666", ROLE_C)  # the team's role wins, as ACK's team-level CARM
    assert needs_role_maps({OWNER_ACCOUNT: "1"}) and needs_role_maps({TEAM_ID: "t"}) and not needs_role_maps({})


@pytest.mark.parametrize("annotations, namespace, maps, reason, named", [
    ({REGION: "mars-1"}, {}, MAPS, "InvalidAnnotation", "metadata.annotations[services.k8s.aws/region]: 'mars-1'"),
    ({}, {DEFAULT_REGION: "us-east"}, MAPS, "InvalidAnnotation", "the namespace's services.k8s.aws/default-region"),
    ({}, {OWNER_ACCOUNT: "1234"}, MAPS, "InvalidAnnotation", "'1234' is not a 12-digit AWS account id"),
    ({}, {OWNER_ACCOUNT: "999988887777"}, MAPS, "AccountNotMapped",
     "the ConfigMap ack-system/ack-role-account-map has no entry for it"),
    ({}, {OWNER_ACCOUNT: "999988887777"}, RoleMaps(), "AccountNotMapped", "ack-role-account-map does not exist"),
    ({}, {TEAM_ID: "nobody"}, MAPS, "AccountNotMapped", "ack-role-team-map has no entry"),
    ({}, {OWNER_ACCOUNT: "111122223333"}, RoleMaps(accounts={"111122223333": "admin"}), "InvalidRoleMap",
     "data['111122223333']: 'admin' is not an IAM role ARN"),
    ({}, {OWNER_ACCOUNT: "111122223333"}, RoleMaps(accounts={"111122223333": ROLE_C}), "InvalidRoleMap",
     "is in the account 444455556666, not 111122223333"),
])
def test_what_cannot_be_placed_is_refused_naming_the_field(annotations, namespace, maps, reason, named) -> None:
    refused = placed(annotations, namespace, maps)
    assert isinstance(refused, Refuse) and refused.reason == reason and named in refused.message, refused


def test_a_resource_whose_table_exists_elsewhere_is_refused_as_ack_refuses_it() -> None:
    here = Placement("eu-west-1", "111122223333", ROLE_B)
    assert moved(here, None, None) is None  # nothing made yet: anywhere
    assert moved(here, "eu-west-1", "111122223333") is None
    region = moved(here, "us-east-1", "111122223333")
    assert region.reason == "RegionChanged" and region.message.startswith(
        "Resource already exists in region us-east-1, but the desired state specifies region eu-west-1")
    assert moved(here, "eu-west-1", "444455556666").reason == "AccountChanged"
