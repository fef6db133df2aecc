"""Helm releases on the cluster, as the checklist's last step says: "deploy your applications with kubectl or Helm".

`helm upgrade --install` always makes a new revision; a release is only upgraded when what the chart renders
with the given values differs from what the release holds, so a second bootstrap finds it unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml
from prefect import task
from prefect.cache_policies import NO_CACHE

from sandbox.controlplane import obtain_helm
from tasks.aws import PermanentError, ServiceResult
from tasks.connections import Target, kubeconfig_of_block

CHARTS = Path(__file__).resolve().parents[1] / "deploy" / "charts"
HELM_SECONDS = 300


class HelmError(PermanentError):
    """Helm refused; its own message, for a person."""


def helm_binary() -> str:
    """`helm` on the PATH (as `source .sandbox/env` puts the sandbox's), else the project's pinned one."""
    return shutil.which("helm") or str(obtain_helm())


@contextlib.contextmanager
def _kubeconfig(target: Target) -> Iterator[str]:
    """The target's kubeconfig as a file Helm can read (a credentials block's, written 0600 for the call)."""
    if not target.kubernetes_credentials_block:
        yield target.kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig") as file:
        os.chmod(file.name, 0o600)
        yaml.safe_dump(kubeconfig_of_block(target.kubernetes_credentials_block), file)
        file.flush()
        yield file.name


def _helm(kubeconfig: str, *args: str) -> str:
    """Helm's output; HelmError with Helm's own message when it refuses."""
    done = subprocess.run([helm_binary(), "--kubeconfig", kubeconfig, *args], capture_output=True, text=True,
                          timeout=HELM_SECONDS)
    if done.returncode != 0:
        raise HelmError(f"helm {' '.join(args[:2])}: {done.stderr.strip()}")
    return done.stdout


def _settings(values: dict[str, str]) -> list[str]:
    return [option for key, value in sorted(values.items()) for option in ("--set-string", f"{key}={value}")]


def _release(kubeconfig: str, release: str, namespace: str) -> dict[str, str] | None:
    """The release as `helm list` shows it ({name, chart, revision, status, ...}; `chart` without its version),
    or None when there is none."""
    found = json.loads(_helm(kubeconfig, "list", "-n", namespace, "--filter", f"^{release}$", "-o", "json") or "[]")
    if not found:
        return None
    return {**found[0], "chart": found[0]["chart"].rsplit("-", 1)[0]}


def _documents(manifest: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


@task(cache_policy=NO_CACHE, task_run_name="helm release {namespace}/{release}")
def ensure_release(target: Target, release: str, chart: str, namespace: str, values: dict[str, str],
                   dry_run: bool) -> ServiceResult:
    """The release of `chart` (a folder under deploy/charts) with `values`: installed, upgraded when what it would
    render differs from what it holds, or found as it is."""
    path = str(CHARTS / chart)
    with _kubeconfig(target) as kubeconfig:
        current = _release(kubeconfig, release, namespace)
        if current is not None:
            if current["chart"] != chart:
                raise HelmError(f"helm release {namespace}/{release} is of the chart {current['chart']}, not "
                                f"{chart}: left as it is")
            rendered = _helm(kubeconfig, "template", release, path, "-n", namespace, *_settings(values))
            held = _helm(kubeconfig, "get", "manifest", release, "-n", namespace)
            if _documents(rendered) == _documents(held):
                return ServiceResult(service="helm release", name=f"{namespace}/{release}",
                                     id=f"{chart} revision {current['revision']}", status=current["status"],
                                     action="found")
        if dry_run:
            return ServiceResult(service="helm release", name=f"{namespace}/{release}", id="", status="planned",
                                 action="would create" if current is None else "would update")
        made = json.loads(_helm(kubeconfig, "upgrade", "--install", release, path, "-n", namespace,
                                "--create-namespace", *_settings(values), "-o", "json"))
    return ServiceResult(service="helm release", name=f"{namespace}/{release}",
                         id=f"{chart} revision {made['version']}", status=made["info"]["status"],
                         action="created" if current is None else "updated")


@task(cache_policy=NO_CACHE, task_run_name="helm uninstall {namespace}/{release}")
def uninstall_release(target: Target, release: str, chart: str, namespace: str, dry_run: bool) -> ServiceResult:
    """Uninstall the release, only if it is of `chart` (a release of that name from another chart is kept)."""
    with _kubeconfig(target) as kubeconfig:
        current = _release(kubeconfig, release, namespace)
        row = {"service": "helm release", "name": f"{namespace}/{release}", "status": ""}
        if current is None:
            return ServiceResult(**row, id="", action="absent")
        row["id"] = f"{current['chart']} revision {current['revision']}"
        if current["chart"] != chart:
            return ServiceResult(**row, action="kept")
        if dry_run:
            return ServiceResult(**row, action="would delete")
        _helm(kubeconfig, "uninstall", release, "-n", namespace)
    return ServiceResult(**row, action="deleted")
