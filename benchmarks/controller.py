"""Helpers of the controller benchmarks: the controller (`python -m flows.watch`) as a measured process, and
waiting for Table resources to be Synced without polling (a watch of the API server, as a user's tool would)."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from kubernetes import client, watch

from ack.conditions import is_synced
from ack.model import API_VERSION, GROUP, PLURAL, VERSION
from benchmarks import flow_env
from controller.controller import WATCHING
from sandbox.processes import ManagedProcess
from sandbox.stack import Sandbox


def table(name: str, namespace: str) -> dict:
    return {"apiVersion": API_VERSION, "kind": "Table", "metadata": {"name": name, "namespace": namespace},
            "spec": {"tableName": f"{namespace}-{name}", "billingMode": "PAY_PER_REQUEST",
                     "attributeDefinitions": [{"attributeName": "id", "attributeType": "S"}],
                     "keySchema": [{"attributeName": "id", "keyType": "HASH"}]}}


def synced(resource: dict) -> bool:
    status = resource.get("status") or {}
    return status.get("observedGeneration") == resource["metadata"]["generation"] and is_synced(
        status.get("conditions"))


def wait_synced(sandbox: Sandbox, namespace: str, names: Iterable[str], timeout: float = 1200) -> None:
    """Until every named resource in `namespace` is Synced at its generation."""
    api = client.CustomObjectsApi(sandbox.control_plane.api_client())
    waiting = set(names)
    listing = api.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    waiting -= {r["metadata"]["name"] for r in listing["items"] if synced(r)}
    stream = watch.Watch()
    for event in stream.stream(api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                               resource_version=listing["metadata"]["resourceVersion"], timeout_seconds=timeout):
        if synced(event["object"]):
            waiting.discard(event["object"]["metadata"]["name"])
        if not waiting:
            stream.stop()
    if waiting:
        raise RuntimeError(f"{len(waiting)} resources in {namespace} were not Synced within {timeout:.0f} s")


def start_controller(sandbox: Sandbox, folder: Path, namespace: str, *flags: str) -> ManagedProcess:
    """The controller for `namespace`, once it watches (its Prefect API is a temporary one of its own)."""
    folder.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess("the controller", [sys.executable, "-m", "flows.watch", "-n", namespace, *flags],
                             folder / "watch.log", flow_env(sandbox, folder / "prefect"))
    process.start()
    process.wait_until(lambda: WATCHING in process.log_path.read_text(errors="replace"), 240,
                       "watching")
    return process


def rss_mb(pid: int) -> float:
    """A process's resident memory now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for pid {pid}")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def scrape(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        return response.read().decode()
