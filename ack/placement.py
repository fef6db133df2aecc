"""Where a resource's AWS calls go: its region and account, as ACK decides them. Pure: annotations and role maps in,
a placement (or the refusal naming what is wrong) out.

- Region: the resource's `services.k8s.aws/region`, else its namespace's `services.k8s.aws/default-region`, else
  the controller's region.
- Account (ACK's cross-account resource management): a namespace annotated `services.k8s.aws/team-id` is managed
  with the role its team has in the ConfigMap `ack-role-team-map`; else one annotated
  `services.k8s.aws/owner-account-id` with the role its account has in `ack-role-account-map` (both in the
  controller's namespace); else with the controller's own credentials. An account with no role is refused: no
  call is ever made for it with another account's credentials.
- A resource whose table (or backup) exists in one region or account and now names another is refused, as ACK
  refuses it: nothing is made in the new place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ack.lifecycle import Refuse

REGION = "services.k8s.aws/region"  # on the resource
DEFAULT_REGION = "services.k8s.aws/default-region"  # on its namespace
OWNER_ACCOUNT = "services.k8s.aws/owner-account-id"  # on the namespace
TEAM_ID = "services.k8s.aws/team-id"  # on the namespace
ACCOUNT_MAP = "ack-role-account-map"  # ConfigMaps in the controller's namespace: account id (team id) -> role ARN
TEAM_MAP = "ack-role-team-map"
DEFAULT_CONTROLLER_NAMESPACE = "ack-system"  # where ACK's chart installs the controller

_ACCOUNT = re.compile(r"^\d{12}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")


@dataclass(frozen=True)
class Placement:
    """The region and account of a resource's AWS calls; `role_arn` None: the controller's own credentials (whose
    account `account` is then None until AWS names it)."""

    region: str
    account: str | None = None
    role_arn: str | None = None


@dataclass(frozen=True)
class RoleMaps:
    """The ConfigMaps `ack-role-account-map` and `ack-role-team-map` as read (None: there is none)."""

    namespace: str = DEFAULT_CONTROLLER_NAMESPACE
    accounts: dict[str, str] | None = None
    teams: dict[str, str] | None = None


def _region(value: str, where: str, regions: frozenset[str]) -> Refuse | None:
    if value in regions:
        return None
    return Refuse("InvalidAnnotation", f"{where}: {value!r} is not an AWS region (e.g. us-east-1, eu-west-1)")


def needs_role_maps(namespace_annotations: dict[str, str]) -> bool:
    """Whether the namespace names an account or team, so that the role maps must be read."""
    return OWNER_ACCOUNT in namespace_annotations or TEAM_ID in namespace_annotations


def place(annotations: dict[str, str], namespace_annotations: dict[str, str], maps: RoleMaps, default_region: str,
          regions: frozenset[str]) -> Placement | Refuse:
    """Where the resource with `annotations`, in a namespace with `namespace_annotations`, is managed."""
    region = annotations.get(REGION)
    if region is not None:
        if refused := _region(region, f"metadata.annotations[{REGION}]", regions):
            return refused
    else:
        region = namespace_annotations.get(DEFAULT_REGION)
        if region is not None and (refused := _region(region, f"the namespace's {DEFAULT_REGION}", regions)):
            return refused
    region = region or default_region
    team = namespace_annotations.get(TEAM_ID)
    if team is not None:
        return _assume(region, team, f"the namespace's {TEAM_ID}", maps.teams, f"{maps.namespace}/{TEAM_MAP}", None)
    account = namespace_annotations.get(OWNER_ACCOUNT)
    if account is None:
        return Placement(region)
    if not _ACCOUNT.match(account):
        return Refuse("InvalidAnnotation", f"the namespace's {OWNER_ACCOUNT}: {account!r} is not a 12-digit AWS "
                                           "account id")
    return _assume(region, account, f"the namespace's {OWNER_ACCOUNT}", maps.accounts,
                   f"{maps.namespace}/{ACCOUNT_MAP}", account)


def _assume(region: str, key: str, named_by: str, role_map: dict[str, str] | None, map_name: str,
            account: str | None) -> Placement | Refuse:
    role = (role_map or {}).get(key)
    if role is None:
        where = "has no entry" if role_map is not None else "does not exist"
        return Refuse("AccountNotMapped", f"{named_by} is {key!r}, but the ConfigMap {map_name} {where} for it: add "
                                          f'"{key}": arn:aws:iam::ACCOUNT:role/NAME to its data; nothing is done '
                                          "with any other account's credentials")
    found = _ROLE_ARN.match(role.strip())
    if found is None:
        return Refuse("InvalidRoleMap", f"the ConfigMap {map_name}: data[{key!r}]: {role!r} is not an IAM role ARN "
                                        "(arn:aws:iam::ACCOUNT:role/NAME)")
    if account is not None and found.group(1) != account:
        return Refuse("InvalidRoleMap", f"the ConfigMap {map_name}: data[{key!r}]: the role {role!r} is in the "
                                        f"account {found.group(1)}, not {account}")
    return Placement(region, found.group(1), role.strip())


def moved(placement: Placement, recorded_region: str | None, recorded_account: str | None) -> Refuse | None:
    """ACK's refusal of a resource whose AWS resource exists (its status records where) but whose annotations now
    place it elsewhere."""
    if recorded_region and recorded_region != placement.region:
        return Refuse("RegionChanged", f"Resource already exists in region {recorded_region}, but the desired state "
                                       f"specifies region {placement.region}: set {REGION} back, or create a new "
                                       "resource for the new region")
    if recorded_account and placement.account and recorded_account != placement.account:
        return Refuse("AccountChanged", f"Resource already exists in account {recorded_account}, but its namespace "
                                        f"now places it in account {placement.account}")
    return None
