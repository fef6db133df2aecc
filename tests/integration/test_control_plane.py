"""The sandbox's control plane is a real kube-apiserver with etcd: objects, RBAC, watches, loopback only."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client, watch

from sandbox.controlplane import VIEWER_USER

pytestmark = pytest.mark.integration


def _core(sandbox, token=None) -> client.CoreV1Api:
    return client.CoreV1Api(sandbox.control_plane.api_client(token))


def test_admin_creates_a_namespace_and_a_configmap(sandbox):
    core = _core(sandbox)
    ns = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "settings"}, "data": {"colour": "blue"}})
    assert core.read_namespaced_config_map("settings", ns).data == {"colour": "blue"}
    assert ns in {n.metadata.name for n in core.list_namespace().items}


def test_viewer_reads_but_cannot_write(sandbox):
    viewer = _core(sandbox, sandbox.control_plane.viewer_token)
    assert "default" in {n.metadata.name for n in viewer.list_namespace().items}
    with pytest.raises(client.ApiException) as refused:
        viewer.create_namespace({"metadata": {"name": "viewer-made"}})
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert f'User "{VIEWER_USER}" cannot create resource "namespaces"' in message


def test_requests_without_a_token_are_refused(sandbox):
    anonymous = client.ApiClient(sandbox.control_plane.api_client().configuration)
    anonymous.configuration.api_key = {}
    with pytest.raises(client.ApiException) as refused:
        client.CoreV1Api(anonymous).list_namespace()
    assert refused.value.status == 401


def test_a_watch_sees_a_new_configmap(sandbox):
    core = _core(sandbox)
    version = core.list_namespaced_config_map("default").metadata.resource_version
    name = f"watched-{uuid.uuid4().hex[:8]}"
    seen: list[tuple[str, str]] = []

    def observe():
        for event in watch.Watch().stream(
            core.list_namespaced_config_map, "default", resource_version=version, timeout_seconds=20
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if event["object"].metadata.name == name:
                return

    watcher = threading.Thread(target=observe)
    watcher.start()
    core.create_namespaced_config_map("default", {"metadata": {"name": name}})
    watcher.join(25)
    assert ("ADDED", name) in seen


def test_kubectl_uses_the_sandbox_contexts(sandbox):
    kubectl = str(sandbox.kubectl_path)
    env = {**os.environ, **sandbox.environ()}
    listed = subprocess.run([kubectl, "get", "namespaces", "-o", "name"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "namespace/default" in listed.stdout
    refused = subprocess.run(
        [kubectl, "--context", "sandbox-viewer", "create", "namespace", "x"], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "Forbidden" in refused.stderr


def test_secret_files_are_readable_by_the_owner_alone(sandbox):
    secrets = [sandbox.env_file, sandbox.kubeconfig_path, *Path(sandbox.state, "pki").iterdir()]
    assert len(secrets) > 5
    for path in secrets:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def _listening_addresses(pid: int) -> set[str]:
    """Local addresses of the listening TCP sockets a process holds, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                addresses.add(fields[1].split(":")[0])
    return addresses


def test_every_listener_binds_to_loopback_only(sandbox):
    processes = [*sandbox.control_plane.processes, sandbox.aws.process]
    for process in processes:
        addresses = _listening_addresses(process.pid)
        if process.name == "kube-controller-manager":  # it serves nothing (--secure-port=0 --port=0): it only calls
            assert addresses == set(), f"{process.name} listens on {addresses}"
            continue
        assert addresses, f"{process.name} listens nowhere?"
        assert addresses == {"0100007F"}, f"{process.name} listens on {addresses}"  # 127.0.0.1, little-endian hex


def test_a_deleted_namespace_is_finalized_by_the_controller_manager(sandbox):
    """kube-controller-manager empties and finalizes it: nothing of the project's has to."""
    core = client.CoreV1Api(sandbox.control_plane.api_client())
    name = f"gone-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_config_map(name, {"metadata": {"name": "inside"}})
    core.delete_namespace(name)
    deadline = time.monotonic() + 120
    while True:
        try:
            core.read_namespace(name)
        except client.ApiException as exc:
            assert exc.status == 404
            break
        assert time.monotonic() < deadline, "the namespace stayed Terminating"
        time.sleep(0.5)


def test_garbage_collection_follows_owner_references(sandbox):
    core = client.CoreV1Api(sandbox.control_plane.api_client())
    owner = core.create_namespaced_config_map("default", {"metadata": {"name": f"owner-{uuid.uuid4().hex[:8]}"}})
    owned = core.create_namespaced_config_map("default", {"metadata": {
        "name": f"owned-{uuid.uuid4().hex[:8]}",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name,
                             "uid": owner.metadata.uid}]}})
    core.delete_namespaced_config_map(owner.metadata.name, "default")
    deadline = time.monotonic() + 120
    while True:
        try:
            core.read_namespaced_config_map(owned.metadata.name, "default")
        except client.ApiException as exc:
            assert exc.status == 404
            return
        assert time.monotonic() < deadline, "the owned object outlived its owner"
        time.sleep(0.5)
