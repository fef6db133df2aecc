"""The ConfigMaps and Secrets a FieldExport writes to: one key read and written, never the object created (as in ACK,
the target must exist: who may read it is its owner's choice, not the controller's)."""

from __future__ import annotations

import base64
from typing import Literal

from kubernetes import client

from tasks.connections import Target

TargetKind = Literal["configmap", "secret"]


def read_key(target: Target, kind: TargetKind, namespace: str, name: str, key: str) -> tuple[bool, str | None]:
    """(whether the ConfigMap or Secret exists, the text under `key` or None)."""
    core = client.CoreV1Api(target.kube_api())
    try:
        found = core.read_namespaced_config_map(name, namespace) if kind == "configmap" \
            else core.read_namespaced_secret(name, namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return False, None
        raise
    value = (found.data or {}).get(key)
    if value is not None and kind == "secret":
        value = base64.b64decode(value).decode()
    return True, value


def write_key(target: Target, kind: TargetKind, namespace: str, name: str, key: str, value: str) -> None:
    """Set `key` alone (a merge patch of it): the object's other keys are its owner's."""
    core = client.CoreV1Api(target.kube_api())
    if kind == "configmap":
        core.patch_namespaced_config_map(name, namespace, {"data": {key: value}})
    else:
        core.patch_namespaced_secret(name, namespace, {"data": {key: base64.b64encode(value.encode()).decode()}})
