"""A real Kubernetes control plane on loopback: etcd, kube-apiserver v1.20.2 with TLS and RBAC, and
kube-controller-manager (namespaces finalize, garbage collection follows ownerReferences, Deployments get
ReplicaSets, ServiceAccounts get tokens). There is no scheduler and no kubelet: pods stay Pending.

The binaries come from `get-control-plane.sh` (Debian's packages, the API server and controller manager built
from source, cached per user), Helm from `get-helm.sh`. Two users exist: `sandbox-admin` (group
system:masters) and `sandbox-viewer`, bound to a ClusterRole that can get, list and watch everything and change
nothing.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from sandbox.pki import CertificateAuthority, random_token, service_account_key, write_private
from sandbox.processes import ManagedProcess, SandboxError, ensure_port_free, free_port

GET_SCRIPT = Path(__file__).with_name("get-control-plane.sh")
GET_HELM = Path(__file__).with_name("get-helm.sh")
# What kube-controller-manager runs here: what a user of the API would miss, nothing that needs nodes.
CONTROLLERS = "namespace,garbagecollector,deployment,replicaset,serviceaccount,serviceaccount-token"
ADMIN_USER = "sandbox-admin"
VIEWER_USER = "sandbox-viewer"
VIEWER_ROLE = "sandbox-viewer"


@dataclass(frozen=True)
class Binaries:
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kubectl: Path
    helm: Path


def _run_script(script: Path, what: str) -> Path:
    """Run one of the project's scripts (a no-op once cached; its progress lines go straight to stderr); the
    path it prints last."""
    try:
        result = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, stderr=None, text=True)
    except OSError as exc:
        raise SandboxError(f"cannot run {script}: {exc}") from None
    if result.returncode != 0:
        raise SandboxError(f"{what} could not be obtained (see the lines above)")
    return Path(result.stdout.strip().splitlines()[-1])


def obtain_helm() -> Path:
    """The pinned Helm binary (downloaded and checked once, then cached)."""
    return _run_script(GET_HELM, "Helm")


def obtain_binaries() -> Binaries:
    bin_dir = _run_script(GET_SCRIPT, "the control plane's binaries")
    return Binaries(bin_dir / "etcd", bin_dir / "kube-apiserver", bin_dir / "kube-controller-manager",
                    bin_dir / "kubectl", obtain_helm())


class ControlPlane:
    """etcd, kube-apiserver and kube-controller-manager, started in `folder`; `stop()` ends them."""

    def __init__(self, folder: Path, binaries: Binaries, apiserver_port: int | None = None):
        self.folder = folder
        self.binaries = binaries
        self.apiserver_port = apiserver_port
        self.admin_token = random_token()
        self.viewer_token = random_token()
        self.processes: list[ManagedProcess] = []

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    def start(self) -> None:
        pki = self.folder / "pki"
        ca = CertificateAuthority(pki)
        self.ca_path = ca.cert_path
        etcd_pair = ca.issue("etcd")
        apiserver_pair = ca.issue("kube-apiserver")
        etcd_client = ca.issue("apiserver-etcd-client", server=False)
        sa_key = service_account_key(pki / "service-account.key")
        tokens = write_private(
            pki / "tokens.csv",
            f"{self.admin_token},{ADMIN_USER},{ADMIN_USER},system:masters\n"
            f"{self.viewer_token},{VIEWER_USER},{VIEWER_USER}\n",
        )
        self.apiserver_port = ensure_port_free(self.apiserver_port or free_port(), "kube-apiserver")
        etcd_port, etcd_peer_port = free_port(), free_port()

        etcd = ManagedProcess(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=sandbox",
                f"--data-dir={self.folder / 'etcd'}",
                f"--listen-client-urls=https://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=https://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=https://127.0.0.1:{etcd_peer_port}",
                f"--initial-advertise-peer-urls=https://127.0.0.1:{etcd_peer_port}",
                f"--initial-cluster=sandbox=https://127.0.0.1:{etcd_peer_port}",
                f"--cert-file={etcd_pair.cert}",
                f"--key-file={etcd_pair.key}",
                f"--trusted-ca-file={ca.cert_path}",
                "--client-cert-auth",
                f"--peer-cert-file={etcd_pair.cert}",
                f"--peer-key-file={etcd_pair.key}",
                f"--peer-trusted-ca-file={ca.cert_path}",
                "--peer-client-cert-auth",
                "--log-level=warn",
            ],
            self.folder / "logs" / "etcd.log",
        )
        self.processes.append(etcd)
        etcd.start()
        etcd_tls = ssl.create_default_context(cafile=str(ca.cert_path))
        etcd_tls.load_cert_chain(str(etcd_client.cert), str(etcd_client.key))
        etcd.wait_until(
            lambda: _get(f"https://127.0.0.1:{etcd_port}/health", etcd_tls) == 200, 30, "healthy"
        )

        apiserver = ManagedProcess(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--etcd-servers=https://127.0.0.1:{etcd_port}",
                f"--etcd-cafile={ca.cert_path}",
                f"--etcd-certfile={etcd_client.cert}",
                f"--etcd-keyfile={etcd_client.key}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.apiserver_port}",
                f"--tls-cert-file={apiserver_pair.cert}",
                f"--tls-private-key-file={apiserver_pair.key}",
                f"--cert-dir={self.folder / 'apiserver-certs'}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--anonymous-auth=false",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={sa_key}",
                f"--service-account-signing-key-file={sa_key}",
                "--service-cluster-ip-range=10.96.0.0/24",
                "--endpoint-reconciler-type=none",
                "--disable-admission-plugins=ServiceAccount",
                "--profiling=false",
                "--v=0",
            ],
            self.folder / "logs" / "kube-apiserver.log",
        )
        self.processes.append(apiserver)
        self._apiserver = apiserver
        self._tls = ssl.create_default_context(cafile=str(ca.cert_path))
        self._start_apiserver()
        self._grant_viewer()
        self._start_controller_manager(pki, sa_key)

    def _start_apiserver(self) -> None:
        self._apiserver.start()
        self._apiserver.wait_until(
            lambda: _get(f"{self.server}/readyz", self._tls, self.admin_token) == 200, 90, "ready"
        )

    def _start_controller_manager(self, pki: Path, sa_key: Path) -> None:
        admin = self.kubeconfig()
        admin.update(contexts=admin["contexts"][:1], users=admin["users"][:1])
        kubeconfig = write_private(pki / "controller-manager.kubeconfig", yaml.safe_dump(admin, sort_keys=False))
        manager = ManagedProcess(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                f"--kubeconfig={kubeconfig}",
                f"--controllers={CONTROLLERS}",
                f"--service-account-private-key-file={sa_key}",
                f"--root-ca-file={self.ca_path}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--port=0",
                "--v=0",
            ],
            self.folder / "logs" / "kube-controller-manager.log",
        )
        self.processes.append(manager)
        manager.start()
        manager.wait_until(self._default_service_account, 60, "serving (the default ServiceAccount made)")

    def _default_service_account(self) -> bool:
        """The serviceaccount controller's first work: it has synced and acts."""
        from kubernetes import client

        client.CoreV1Api(self.api_client()).read_namespaced_service_account("default", "default")
        return True

    def restart_apiserver(self) -> None:
        """Stop kube-apiserver and start it again on the same port and etcd (for the reliability tests)."""
        self._apiserver.stop()
        self._start_apiserver()

    def _grant_viewer(self) -> None:
        """The read-only user: get/list/watch on everything, nothing else."""
        from kubernetes import client

        api = client.RbacAuthorizationV1Api(self.api_client())
        api.create_cluster_role(
            {
                "metadata": {"name": VIEWER_ROLE},
                "rules": [
                    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                    {"nonResourceURLs": ["*"], "verbs": ["get"]},
                ],
            }
        )
        api.create_cluster_role_binding(
            {
                "metadata": {"name": VIEWER_ROLE},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": VIEWER_ROLE},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": VIEWER_USER}],
            }
        )

    def api_client(self, token: str | None = None):
        from kubernetes import client

        config = client.Configuration()
        config.host = self.server
        config.ssl_ca_cert = str(self.ca_path)
        config.api_key = {"authorization": f"Bearer {token or self.admin_token}"}
        return client.ApiClient(config)

    def kubeconfig(self) -> dict:
        """A kubeconfig with the contexts `sandbox` (admin) and `sandbox-viewer` (read-only)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "sandbox",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_path)},
                }
            ],
            "users": [
                {"name": ADMIN_USER, "user": {"token": self.admin_token}},
                {"name": VIEWER_USER, "user": {"token": self.viewer_token}},
            ],
            "contexts": [
                {"name": "sandbox", "context": {"cluster": "sandbox", "user": ADMIN_USER, "namespace": "default"}},
                {
                    "name": "sandbox-viewer",
                    "context": {"cluster": "sandbox", "user": VIEWER_USER, "namespace": "default"},
                },
            ],
            "current-context": "sandbox",
        }

    def write_kubeconfig(self, path: Path) -> Path:
        return write_private(path, yaml.safe_dump(self.kubeconfig(), sort_keys=False))

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


def _get(url: str, tls: ssl.SSLContext, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, context=tls, timeout=2) as response:
        return response.status


if __name__ == "__main__":  # `python -m sandbox.controlplane`: obtain (build) the binaries only
    try:
        print(obtain_binaries().kube_apiserver.parent)
    except SandboxError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
