"""The resources of the kinds served (ack/kinds.py) on the Kubernetes API server: the CRDs, reads, server-side apply,
finalizers, status. Every function takes the kind (the Table by default) or reads it from the resource.

Every write carries the resourceVersion it was computed from, so a concurrent change answers 409 and
the caller re-reads instead of overwriting it. The steps a reconcile makes (finalizer, status, the namespace's
policy) are plain functions: a reconcile is one Prefect task run, and a task run per step would cost more
than the step.
"""

from __future__ import annotations

import json
import time
from typing import Any

from kubernetes import client
from prefect import task
from prefect.cache_policies import NO_CACHE

from ack.crd import SCHEMA_DIGEST, crd_manifest
from ack.kinds import KINDS, TABLE, Kind, kind_of
from ack.model import ADOPTED_ANNOTATION
from ack.placement import ACCOUNT_MAP, TEAM_MAP, RoleMaps
from tasks.connections import Target

FIELD_MANAGER = "ackflow"
CRD_WAIT_SECONDS = 30


class KubeError(RuntimeError):
    """A Kubernetes API answer a person must see, with the server's own message."""


class Conflict(KubeError):
    """The resource changed since it was read (409): read it again, never overwrite blindly."""


def server_message(exc: client.ApiException) -> str:
    """The API server's message (e.g. a 422's field errors or a 403's RBAC refusal), not the raw body."""
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError):
        return f"{exc.status} {exc.reason}"


# What ensure_crd did, the most telling first.
_INSTALLS = ("installed", "updated", "found")


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=1)
def ensure_crd(target: Target) -> str:
    """Install (or update) the CRD of every kind served, generated from the models, and wait until each is
    Established: "installed" or "updated" when any was, else "found"."""
    extensions = client.ApiextensionsV1Api(target.kube_api())
    done = [_ensure(extensions, kind) for kind in KINDS.values()]
    return min(done, key=_INSTALLS.index)


def _ensure(extensions: client.ApiextensionsV1Api, kind: Kind) -> str:
    desired = crd_manifest(kind)
    digest = desired["metadata"]["annotations"][SCHEMA_DIGEST]
    try:
        current = extensions.read_custom_resource_definition(kind.crd_name)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
        current = None
    if current is not None and (current.metadata.annotations or {}).get(SCHEMA_DIGEST) == digest:
        outcome = "found"
    else:
        outcome, current = _install(extensions, desired, current), None
    deadline = time.monotonic() + CRD_WAIT_SECONDS
    while current is None or not _established(current):
        if time.monotonic() > deadline:
            raise KubeError(f"the CRD {kind.crd_name} was not Established within {CRD_WAIT_SECONDS} s")
        time.sleep(0.2)
        current = extensions.read_custom_resource_definition(kind.crd_name)
    return outcome


def _install(extensions: client.ApiextensionsV1Api, desired: dict[str, Any], current: Any) -> str:
    """Create or replace the CRD; a clear error where this identity may only read it (the watch's role)."""
    name = desired["metadata"]["name"]
    try:
        if current is None:
            extensions.create_custom_resource_definition(desired)
            return "installed"
        desired["metadata"]["resourceVersion"] = current.metadata.resource_version
        extensions.replace_custom_resource_definition(name, desired)
        return "updated"
    except client.ApiException as exc:
        if exc.status != 403:
            raise
        raise KubeError(f"the CRD {name} is {'missing' if current is None else 'out of date'} and this identity "
                        "may not install it: run `python -m flows.reconcile` once as a cluster admin") from None


def _established(crd: Any) -> bool:
    return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []))


def _custom(target: Target) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(target.kube_api())


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def read_resource(target: Target, namespace: str, name: str, kind: Kind = TABLE) -> dict[str, Any] | None:
    try:
        return _custom(target).get_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural, name)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def list_resources(target: Target, namespace: str | None = None, label_selector: str | None = None,
                   kind: Kind = TABLE) -> list[dict]:
    """All resources of `kind` in a namespace (or every namespace), page by page."""
    items: list[dict] = []
    token = None
    while True:
        kwargs = {"limit": 500, "_continue": token, "label_selector": label_selector or ""}
        if namespace:
            page = _custom(target).list_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural,
                                                                 **kwargs)
        else:
            page = _custom(target).list_cluster_custom_object(kind.group, kind.version, kind.plural, **kwargs)
        items.extend(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            return items


@task(cache_policy=NO_CACHE)
def apply_resource(target: Target, manifest: dict[str, Any], dry_run: bool = False) -> str:
    """Server-side apply, as `kubectl apply --server-side` does: re-applying the same manifest is a no-op.
    Returns "" when applied (or, with dry_run, when it would be), else the API server's refusal (schema
    422, permissions 403) for a person."""
    meta, kind = manifest["metadata"], kind_of(manifest)
    try:
        _custom(target).patch_namespaced_custom_object(
            kind.group, kind.version, meta.get("namespace", "default"), kind.plural, meta["name"], manifest,
            field_manager=FIELD_MANAGER, force=True, _content_type="application/apply-patch+yaml",
            dry_run="All" if dry_run else None,
        )
    except client.ApiException as exc:
        message = server_message(exc)
        # v1.20's server-side apply answers a value of the wrong type with a 500 that names the field.
        if exc.status in (400, 403, 404, 422) or message.startswith("failed to create typed patch object"):
            return message
        raise
    return ""


def _merge_patch(target: Target, resource: dict[str, Any], body: dict[str, Any], status: bool = False) -> dict:
    """A merge patch that carries the resourceVersion it was computed from: stale means 409, not overwrite."""
    meta, kind = resource["metadata"], kind_of(resource)
    body = {**body, "metadata": {**body.get("metadata", {}), "resourceVersion": meta["resourceVersion"]}}
    api = _custom(target)
    patch = api.patch_namespaced_custom_object_status if status else api.patch_namespaced_custom_object
    try:
        return patch(kind.group, kind.version, meta["namespace"], kind.plural, meta["name"], body,
                     _content_type="application/merge-patch+json")
    except client.ApiException as exc:
        if exc.status == 409:
            raise Conflict(f"{kind.kind} {meta['namespace']}/{meta['name']} changed while it was reconciled") from None
        raise


def set_finalizer(target: Target, resource: dict[str, Any], present: bool) -> dict[str, Any]:
    finalizer = kind_of(resource).finalizer
    finalizers = [f for f in resource["metadata"].get("finalizers", []) if f != finalizer]
    if present:
        finalizers.append(finalizer)
    if finalizers == resource["metadata"].get("finalizers", []):
        return resource
    return _merge_patch(target, resource, {"metadata": {"finalizers": finalizers}})


def mark_adopted(target: Target, resource: dict[str, Any], spec: dict[str, Any] | None) -> dict[str, Any]:
    """ACK's mark of an adopted resource (`services.k8s.aws/adopted: "true"`), and, when `spec` is given (ACK's
    `adopt`), that spec in place of the resource's own."""
    body: dict[str, Any] = {"metadata": {"annotations": {ADOPTED_ANNOTATION: "true"}}}
    if spec is not None:
        body["spec"] = {**{key: None for key in resource.get("spec", {}) if key not in spec}, **spec}
    return _merge_patch(target, resource, body)


def write_status(target: Target, resource: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """Replace the status through the /status subresource, guarded by the resource's resourceVersion."""
    removed = {key: None for key in resource.get("status", {}) if key not in status}  # merge-patch deletes
    return _merge_patch(target, resource, {"status": {**removed, **status}}, status=True)


def record_status(target: Target, namespace: str, name: str, fields: dict[str, Any],
                  kind: Kind = TABLE) -> dict[str, Any] | None:
    """Set these status keys alone (the flows' own records: lastDriftCheck, managedIndexes, ...): a merge patch of
    just them, so it overwrites nothing another writer wrote meanwhile, and needs no resourceVersion (nor a read to
    learn it). The resource as it is now; None when it is gone."""
    try:
        return _custom(target).patch_namespaced_custom_object_status(
            kind.group, kind.version, namespace, kind.plural, name, {"status": fields},
            _content_type="application/merge-patch+json")
    except client.ApiException as exc:
        if exc.status != 404:  # deleted meanwhile: nothing to record
            raise
        return None


def namespace_annotations(target: Target, namespace: str) -> dict[str, str]:
    return client.CoreV1Api(target.kube_api()).read_namespace(namespace).metadata.annotations or {}


def role_maps(target: Target, controller_namespace: str) -> RoleMaps:
    """ACK's ConfigMaps `ack-role-account-map` and `ack-role-team-map` in the controller's namespace."""
    core = client.CoreV1Api(target.kube_api())

    def read(name: str) -> dict[str, str] | None:
        try:
            return core.read_namespaced_config_map(name, controller_namespace).data or {}
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            return None

    return RoleMaps(controller_namespace, read(ACCOUNT_MAP), read(TEAM_MAP))


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def delete_resource(target: Target, namespace: str, name: str, kind: Kind = TABLE) -> bool:
    """Ask the API server to delete a resource (its finalizer then waits for the reconcile); False if absent."""
    try:
        _custom(target).delete_namespaced_custom_object(kind.group, kind.version, namespace, kind.plural, name)
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
