"""Table manifests for the compatibility tests: the project's own (tests/data/tables, always), and ACK's
published samples and CRD when that reference corpus is found.

The corpus is ACK's DynamoDB controller's CRD and end-to-end samples, which this repository does not carry.
It is looked for in ACKFLOW_ACK_REFERENCE, else in ../shared/reference/ack beside the clone (where this
project's CI keeps it); without it, the checks against it are reported as skipped, with the reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
OWN_SAMPLES = REPO / "tests" / "data" / "tables"
REFERENCE_ENV = "ACKFLOW_ACK_REFERENCE"
DEFAULT_REFERENCE = REPO.parent / "shared" / "reference" / "ack"
ACK_SAMPLE_COUNT = 12  # the samples of ACK's dynamodb-controller at the commit its README names

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                   "Action": "dynamodb:GetItem", "Resource": "*"}],
}


def ack_reference() -> Path | None:
    """The folder of ACK's reference data, or None when it is not there."""
    folder = Path(os.environ.get(REFERENCE_ENV) or DEFAULT_REFERENCE)
    return folder if (folder / "samples").is_dir() else None


def missing_reason() -> str:
    where = os.environ.get(REFERENCE_ENV) or DEFAULT_REFERENCE
    return f"ACK's reference corpus is not at {where} (set {REFERENCE_ENV} to the folder holding samples/ and the CRD)"


def ack_crd_path() -> Path:
    """ACK's Table CRD; the calling test is skipped, with the reason, when the corpus is missing."""
    folder = ack_reference()
    if folder is None:
        pytest.skip(missing_reason())
    return folder / "dynamodb.services.k8s.aws_tables.yaml"


def sample_params() -> list[Any]:
    """pytest parameters: every own sample (`own/NAME`), then ACK's (`ack/NAME`), or one skipped parameter that
    says why ACK's are not checked."""
    own = [pytest.param(path, id=f"own/{path.stem}") for path in sorted(OWN_SAMPLES.glob("*.yaml"))]
    folder = ack_reference()
    if folder is None:
        return [*own, pytest.param(None, id="ack", marks=pytest.mark.skip(reason=missing_reason()))]
    theirs = sorted((folder / "samples").glob("*.yaml"))
    assert len(theirs) == ACK_SAMPLE_COUNT, theirs
    return [*own, *(pytest.param(path, id=f"ack/{path.stem}") for path in theirs)]


def load(path: Path, table_name: str = "sample-table") -> dict[str, Any]:
    """A sample with its placeholders filled in; substitute() fails on a placeholder the tests do not know."""
    text = Template(path.read_text()).substitute(
        TABLE_NAME=table_name, REPLICA_REGION_1="us-west-2", REPLICA_REGION_2="eu-west-1",
        RESOURCE_POLICY=json.dumps(POLICY))
    return yaml.safe_load(text)

# The samples that are invalid on purpose, and what AWS refuses them with once the table is made, as in ACK (its
# end-to-end test expects its own to fail: replicas need a stream with NEW_AND_OLD_IMAGES).
INVALID = {stem: "StreamViewType set to NEW_AND_OLD_IMAGES"
           for stem in ("table_with_replicas_invalid", "replicas_without_stream")}
