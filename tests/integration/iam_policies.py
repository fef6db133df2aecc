"""The IAM actions behind the calls the local endpoint recorded, checked against the policies in deploy/iam/.

Most AWS calls need the IAM action of the same name under the service's prefix; the exceptions are named here:
CloudWatch signs as `monitoring`, the tagging API as `tagging`, S3 names several permissions differently from its
operations, and API Gateway's HTTP APIs are authorised by HTTP method.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

POLICIES = Path(__file__).resolve().parents[2] / "deploy" / "iam"
TABLES_POLICY = POLICIES / "ackflow-tables-policy.json"
BOOTSTRAP_POLICY = POLICIES / "ackflow-bootstrap-policy.json"

IAM_PREFIX = {"monitoring": "cloudwatch", "tagging": "tag"}
S3_PERMISSION = {
    "HeadBucket": "ListBucket", "ListObjectVersions": "ListBucketVersions",
    "GetBucketEncryption": "GetEncryptionConfiguration", "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock", "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteObjects": "DeleteObject",
}
HTTP_METHOD = {"Get": "GET", "Create": "POST", "Delete": "DELETE", "Update": "PATCH"}


def iam_action(call: dict[str, Any]) -> str:
    """The IAM action a recorded call needs, e.g. `s3:ListBucket` for HeadBucket."""
    service, operation = call["service"], call["operation"]
    if service == "s3":
        return f"s3:{S3_PERMISSION.get(operation, operation)}"
    if service == "apigateway":
        verb = next(method for prefix, method in HTTP_METHOD.items() if operation.startswith(prefix))
        return f"apigateway:{verb}"
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


def allowed(*policies: Path) -> set[str]:
    return {action for policy in policies for statement in json.loads(policy.read_text())["Statement"]
            for action in statement["Action"]}


def outside(calls: list[dict[str, Any]], *policies: Path) -> list[str]:
    """The project's calls (app id `ackflow`) whose IAM action none of `policies` allows, with the call."""
    permitted = allowed(*policies)
    return sorted({f"{iam_action(c)} ({c['service']}:{c['operation']})" for c in calls
                   if c.get("app") == "ackflow" and iam_action(c) not in permitted})
