"""`python -m flows.sandbox [--dir DIR]`: the embedded sandbox in the foreground.

Starts a real kube-apiserver with etcd and the local AWS endpoint on loopback, writes DIR/env,
DIR/kubeconfig and DIR/bin/kubectl, prints a line with `ready`, and stops everything on SIGINT/SIGTERM.
`--stop` stops the sandbox that runs from DIR (for example the one a flow started in the background).
`--faults SPEC` changes the AWS faults of the sandbox running from DIR (the SANDBOX_AWS_FAULTS syntax, e.g.
`dynamodb:CreateTable=error:1.0`; an empty SPEC clears them), in force at once, and exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

from sandbox.processes import SandboxError
from sandbox.aws import set_faults
from sandbox.stack import DEFAULT_DIR, Sandbox, read_env_file, running_pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where to write env, kubeconfig and bin/kubectl")
    parser.add_argument("--apiserver-port", type=int, help="kube-apiserver's port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--aws-port", type=int, help="the AWS endpoint's port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--stop", action="store_true", help="stop the sandbox running from DIR and exit")
    parser.add_argument("--faults", metavar="SPEC", help="set the running sandbox's AWS faults (SANDBOX_AWS_FAULTS "
                                                         "syntax; '' clears them) and exit")
    args = parser.parse_args(argv)

    if args.stop:
        return stop_running(args.dir)
    if args.faults is not None:
        return change_faults(args.dir, args.faults)

    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())

    sandbox = Sandbox(args.dir, apiserver_port=args.apiserver_port, aws_port=args.aws_port)
    try:
        print(f"starting the sandbox in {sandbox.folder} ...", flush=True)
        sandbox.start()
        print(
            f"sandbox ready: kube-apiserver {sandbox.control_plane.server}, AWS endpoint {sandbox.aws.url}\n"
            f"  source {sandbox.env_file}   # points boto3, kubectl and the flows at it\n"
            f"  {sandbox.kubectl_path} get namespaces\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        while not stop_requested.wait(1):
            if not sandbox.alive():
                print("sandbox: a part stopped unexpectedly; shutting down", file=sys.stderr)
                return 1
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    finally:
        sandbox.stop()
    print("sandbox stopped", flush=True)
    return 0


def change_faults(folder: Path, spec: str) -> int:
    env = read_env_file(folder.resolve())
    if not env:
        print(f"sandbox: none is running from {folder}", file=sys.stderr)
        return 1
    try:
        faults = set_faults(env["AWS_ENDPOINT_URL"], env.get("AWS_ACCESS_KEY_ID"), spec)
    except ValueError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    rules = ", ".join(f"{f['service']}:{f['operation']}={f['fault']}:{f['rate']:g}" for f in faults)
    print(f"sandbox faults: {rules or 'none'}")
    return 0


def stop_running(folder: Path) -> int:
    pid = running_pid(folder.resolve())
    if pid is None:
        print(f"sandbox: none is running from {folder}", file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while running_pid(folder.resolve()) == pid and time.monotonic() < deadline:
        time.sleep(0.2)
    print(f"sandbox (pid {pid}) stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
