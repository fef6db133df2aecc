"""Network: the account's default VPC and its subnets when present, else a VPC of our own with public subnets
in two zones (internet gateway, default route, DNS hostnames: what EKS nodes need); and security groups
that open each service's ports to the VPC's own CIDR only."""

from __future__ import annotations

import ipaddress
from functools import partial
from typing import Any, Literal, get_args

from bootstrap.config import ZONES, NetworkConfig
from tasks.aws import (
    OWNER_TAG, Found, ServiceResult, aws_task, ec2_filters, ensure, is_owned, owner_tags, remove, tag_list,
    wait_waiter,
)
from tasks.connections import Target

SecurityGroupPurpose = Literal["cluster", "database", "efs", "kafka"]
SECURITY_GROUPS: tuple[SecurityGroupPurpose, ...] = get_args(SecurityGroupPurpose)
INGRESS_PORTS: dict[str, tuple[int, ...]] = {
    "cluster": (443,),  # the EKS API from inside the VPC
    "database": (3306, 5432, 27017),  # MySQL, PostgreSQL, DocumentDB
    "efs": (2049,),  # NFS
    "kafka": (9092, 9094, 9098),  # MSK plaintext, TLS, IAM
}


def vpc_name(prefix: str) -> str:
    return f"{prefix}-vpc"


def _tag_spec(resource_type: str, prefix: str, name: str, **extra: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": tag_list(owner_tags(prefix, name) | extra)}]


def _default_vpc(ec2: Any) -> str | None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    return vpcs[0]["VpcId"] if vpcs else None


def _find_vpc(ec2: Any, prefix: str) -> Found | None:
    vpcs = ec2.describe_vpcs(Filters=ec2_filters(prefix, vpc_name(prefix)))["Vpcs"]
    return Found(vpcs[0]["VpcId"], vpcs[0]["State"]) if vpcs else None


@aws_task
def ensure_vpc(target: Target, prefix: str, settings: NetworkConfig, dry_run: bool = False) -> ServiceResult:
    """The default VPC (found, never changed) when it exists and is wanted, else our own VPC."""
    ec2 = target.client("ec2")
    if settings.use_default_vpc and (default := _default_vpc(ec2)):
        return ServiceResult(service="vpc", name="default", id=default, status="available (default VPC)",
                             action="found")
    name = vpc_name(prefix)
    find = partial(_find_vpc, ec2, prefix)

    def configure(apply: bool) -> bool:
        return _internet_access(ec2, prefix, find().id, apply)

    return ensure(
        "vpc", name, prefix, find=find, dry_run=dry_run, configure=configure,
        create=lambda: ec2.create_vpc(CidrBlock=settings.cidr, TagSpecifications=_tag_spec("vpc", prefix, name)),
        wait=lambda: wait_waiter(target, f"VPC {name}", ec2, "vpc_available", 300, 5,
                                 Filters=ec2_filters(prefix, name)),
    )


def _internet_access(ec2: Any, prefix: str, vpc_id: str, apply: bool) -> bool:
    """DNS hostnames on, an internet gateway attached, and a default route to it in the main route table."""
    changed = False
    if not ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]:
        changed = True
        if apply:
            ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    name = f"{prefix}-igw"
    # Found by tag, not by attachment: a gateway made by a run interrupted before attaching it is reused.
    gateways = ec2.describe_internet_gateways(Filters=ec2_filters(prefix, name))["InternetGateways"]
    if not gateways or not any(a["VpcId"] == vpc_id for a in gateways[0].get("Attachments", [])):
        changed = True
        if apply:
            gateway = gateways[0]["InternetGatewayId"] if gateways else ec2.create_internet_gateway(
                TagSpecifications=_tag_spec("internet-gateway", prefix, name))["InternetGateway"]["InternetGatewayId"]
            ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    if not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for t in tables for r in t["Routes"]):
        changed = True
        if apply:
            gateway = ec2.describe_internet_gateways(Filters=ec2_filters(prefix, name))["InternetGateways"][0]
            ec2.create_route(RouteTableId=tables[0]["RouteTableId"], DestinationCidrBlock="0.0.0.0/0",
                             GatewayId=gateway["InternetGatewayId"])
    return changed


@aws_task
def ensure_subnets(target: Target, prefix: str, vpc: ServiceResult, settings: NetworkConfig,
                   dry_run: bool = False) -> list[ServiceResult]:
    """Two subnets in two zones: the default VPC's own, or ours, carved from the first quarters of the CIDR."""
    ec2, vpc_id = target.client("ec2"), vpc.id
    if vpc_id and ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["IsDefault"]:
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                {"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
        chosen = sorted(subnets, key=lambda s: s["AvailabilityZone"])[:ZONES]
        return [ServiceResult(service="subnet", name=s["AvailabilityZone"], id=s["SubnetId"],
                              status=f"{s['State']} (default subnet)", action="found") for s in chosen]
    zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones(
        Filters=[{"Name": "state", "Values": ["available"]}, {"Name": "zone-type", "Values": ["availability-zone"]}]
    )["AvailabilityZones"])[:ZONES]
    blocks = ipaddress.IPv4Network(settings.cidr).subnets(prefixlen_diff=2)
    return [_ensure_subnet(target, ec2, prefix, vpc_id, zone, str(block), dry_run)
            for zone, block in zip(zones, blocks)]


def _find_subnet(ec2: Any, prefix: str, name: str, vpc_id: str) -> Found | None:
    subnets = ec2.describe_subnets(Filters=ec2_filters(prefix, name, **{"vpc-id": vpc_id}))["Subnets"]
    return Found(subnets[0]["SubnetId"], subnets[0]["State"]) if subnets else None


def _ensure_subnet(target: Target, ec2: Any, prefix: str, vpc_id: str, zone: str, cidr: str,
                   dry_run: bool) -> ServiceResult:
    name = f"{prefix}-{zone}"
    find = partial(_find_subnet, ec2, prefix, name, vpc_id)

    def configure(apply: bool) -> bool:
        # Public subnets: managed node groups there need public IPs to reach EKS and ECR.
        subnet = ec2.describe_subnets(SubnetIds=[find().id])["Subnets"][0]
        if subnet["MapPublicIpOnLaunch"]:
            return False
        if apply:
            ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": True})
        return True

    return ensure(
        "subnet", name, prefix, find=find, configure=configure, dry_run=dry_run,
        create=lambda: ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone,
            # The role tag lets the cluster's load balancers find the subnet.
            TagSpecifications=_tag_spec("subnet", prefix, name, **{"kubernetes.io/role/elb": "1"})),
        wait=lambda: wait_waiter(target, f"subnet {name}", ec2, "subnet_available", 300, 5,
                                 Filters=ec2_filters(prefix, name, **{"vpc-id": vpc_id})),
    )


def _find_security_group(ec2: Any, prefix: str, name: str, vpc_id: str) -> Found | None:
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]},
                                                   {"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    return Found(groups[0]["GroupId"], "available", is_owned(groups[0].get("Tags"), prefix)) if groups else None


@aws_task
def ensure_security_group(target: Target, prefix: str, vpc: ServiceResult, purpose: SecurityGroupPurpose,
                          dry_run: bool = False) -> ServiceResult:
    ec2, vpc_id = target.client("ec2"), vpc.id
    name = f"{prefix}-{purpose}"
    find = partial(_find_security_group, ec2, prefix, name, vpc_id)

    def configure(apply: bool) -> bool:
        group = ec2.describe_security_groups(GroupIds=[find().id])["SecurityGroups"][0]
        cidr = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlock"]
        have = {(p.get("FromPort"), p.get("IpProtocol")) for p in group["IpPermissions"]
                if any(r["CidrIp"] == cidr for r in p.get("IpRanges", []))}
        missing = [port for port in INGRESS_PORTS[purpose] if (port, "tcp") not in have]
        if missing and apply:
            ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                 "IpRanges": [{"CidrIp": cidr, "Description": f"{purpose} from the VPC"}]} for port in missing])
        return bool(missing)

    return ensure(
        "security group", name, prefix, find=find, configure=configure, dry_run=dry_run,
        create=lambda: ec2.create_security_group(
            GroupName=name, Description=f"ackflow {prefix}: {purpose}", VpcId=vpc_id,
            TagSpecifications=_tag_spec("security-group", prefix, name)),
    )


# --- teardown --------------------------------------------------------------------------------------


@aws_task
def delete_security_group(target: Target, prefix: str, vpc_id: str, purpose: SecurityGroupPurpose,
                          dry_run: bool = False) -> ServiceResult:
    ec2 = target.client("ec2")
    name = f"{prefix}-{purpose}"
    find = partial(_find_security_group, ec2, prefix, name, vpc_id)
    return remove(target, "security group", name, find=find, dry_run=dry_run, timeout=300, delay=5,
                  delete=lambda found: ec2.delete_security_group(GroupId=found.id))


@aws_task
def delete_subnets(target: Target, prefix: str, vpc_id: str, dry_run: bool = False) -> list[ServiceResult]:
    """Every subnet of `vpc_id` carrying our tag (the default VPC's subnets carry none and are kept)."""
    ec2 = target.client("ec2")
    owned = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                          {"Name": f"tag:{OWNER_TAG}", "Values": [prefix]}])
    results = []
    for subnet in owned["Subnets"]:
        name = next((t["Value"] for t in subnet.get("Tags", []) if t["Key"] == "Name"), subnet["SubnetId"])
        find = partial(_find_subnet, ec2, prefix, name, vpc_id)
        results.append(remove(target, "subnet", name, find=find, dry_run=dry_run, timeout=300, delay=5,
                              delete=lambda found: ec2.delete_subnet(SubnetId=found.id)))
    return results or [ServiceResult(service="subnet", name=f"{prefix}-*", id="", status="absent", action="absent")]


@aws_task
def delete_vpc(target: Target, prefix: str, dry_run: bool = False) -> ServiceResult:
    """Our VPC and its internet gateway (after its subnets and security groups are gone); never the default VPC."""
    ec2 = target.client("ec2")
    name = vpc_name(prefix)
    find = partial(_find_vpc, ec2, prefix)

    def delete(found: Found) -> None:
        for gateway in ec2.describe_internet_gateways(Filters=ec2_filters(prefix, f"{prefix}-igw"))["InternetGateways"]:
            for attachment in gateway.get("Attachments", []):
                ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=attachment["VpcId"])
            ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
        ec2.delete_vpc(VpcId=found.id)

    return remove(target, "vpc", name, find=find, delete=delete, dry_run=dry_run, timeout=300, delay=5)


def vpc_id_of(target: Target, prefix: str, settings: NetworkConfig) -> str | None:
    """The VPC the bootstrap used: the default one (when configured and present) or its own, if any."""
    ec2 = target.client("ec2")
    if settings.use_default_vpc and (default := _default_vpc(ec2)):
        return default
    found = _find_vpc(ec2, prefix)
    return found.id if found else None
