"""Any manifest, applied to the cluster with server-side apply: what `kubectl apply --server-side` does."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client, dynamic
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from kubernetes.client import ApiException
from prefect.cache_policies import NO_CACHE
from prefect import task

from tasks.aws import ServiceResult
from tasks.connections import Target
from tasks.kube_tables import FIELD_MANAGER, server_message


# A deleted namespace is gone once the namespace controller has emptied it; the bound for that.
NAMESPACE_GONE_SECONDS = 300


class ApplyError(RuntimeError):
    pass


def _describe(manifest: dict[str, Any]) -> str:
    meta = manifest["metadata"]
    return f"{manifest['kind']} {meta.get('namespace', '') + '/' if meta.get('namespace') else ''}{meta['name']}"


def locate(api: dynamic.DynamicClient, manifest: dict[str, Any]) -> tuple[Any, str | None, Any]:
    """The API resource a manifest names, its namespace (None when cluster-scoped), and the live object
    (None when there is none)."""
    resource = api.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
    namespace = manifest["metadata"].get("namespace") if resource.namespaced else None
    try:
        return resource, namespace, resource.get(name=manifest["metadata"]["name"], namespace=namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise
        return resource, namespace, None


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def apply_manifests(target: Target, manifests: list[dict[str, Any]], service: str,
                    dry_run: bool = False) -> list[ServiceResult]:
    """Apply each manifest in order; "created", "updated" or "found" (re-applying the same is a no-op)."""
    api = dynamic.DynamicClient(target.kube_api())
    results = []
    planned_namespaces = set()  # a dry run cannot put anything in a namespace it did not create
    for manifest in manifests:
        meta = manifest["metadata"]
        try:
            if meta.get("namespace") in planned_namespaces:
                raise ResourceNotFoundError
            resource, namespace, before = locate(api, manifest)
        except ResourceNotFoundError:  # a kind whose CRD a real run installs first
            if not dry_run:
                raise
            results.append(ServiceResult(service=service, name=_describe(manifest), id="", status="planned",
                                         action="would create"))
            continue
        try:
            after = resource.server_side_apply(body=manifest, name=meta["name"], namespace=namespace,
                                               field_manager=FIELD_MANAGER, force_conflicts=True,
                                               dry_run="All" if dry_run else None)
        except ApiException as exc:
            raise ApplyError(f"{_describe(manifest)}: {server_message(exc)}") from None
        if before is None:
            action = "would create" if dry_run else "created"
            if dry_run and manifest["kind"] == "Namespace":
                planned_namespaces.add(meta["name"])
        elif before.metadata.resourceVersion == after.metadata.resourceVersion:
            action = "found"
        else:
            action = "would update" if dry_run else "updated"
        results.append(ServiceResult(service=service, name=_describe(manifest), id=after.metadata.uid or "",
                                     status="applied" if not dry_run else "planned", action=action))
    return results


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def delete_manifests(target: Target, manifests: list[dict[str, Any]], service: str,
                     dry_run: bool = False) -> list[ServiceResult]:
    """Delete what `apply_manifests` made, in reverse order, and only objects this project manages."""
    api = dynamic.DynamicClient(target.kube_api())
    results = []
    for manifest in reversed(manifests):
        meta = manifest["metadata"]
        resource, namespace, live = locate(api, manifest)
        labels = dict(live.metadata.labels or {}) if live else {}
        if live is None:
            action = "absent"
        elif labels.get("app.kubernetes.io/managed-by") != "ackflow":
            action = "kept"  # same name, someone else's: never deleted
        elif dry_run:
            action = "would delete"
        else:
            resource.delete(name=meta["name"], namespace=namespace)
            if manifest["kind"] == "Namespace":
                _wait_namespace_gone(target, meta["name"])
            action = "deleted"
        results.append(ServiceResult(service=service, name=_describe(manifest), id=live.metadata.uid if live else "",
                                     status="", action=action))
    return results


def _wait_namespace_gone(target: Target, name: str) -> None:
    """A deleted namespace stays Terminating, refusing new objects, until the namespace controller has emptied and
    finalized it: wait, so that a bootstrap right after a teardown can make it again."""
    core = client.CoreV1Api(target.kube_api())
    deadline = time.monotonic() + NAMESPACE_GONE_SECONDS
    while True:
        try:
            live = core.read_namespace(name)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        if time.monotonic() >= deadline:
            raise ApplyError(f"Namespace {name}: still {live.status.phase} after {NAMESPACE_GONE_SECONDS} s")
        time.sleep(1 if target.kind == "sandbox" else 5)
