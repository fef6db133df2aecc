"""`python -m flows.apply -f FILE [-f FILE ...]`: apply Table manifests and reconcile them until synced.

Every file is read and checked before anything is sent; the API server then validates each resource
against the CRD (and the caller's permissions) before any AWS call.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from prefect import flow

from ack.manifests import ManifestError, parse_manifests
from ack.outcome import Outcome, summary
from flows.cli import guarded, outcomes_exit
from flows.reconcile import DEFAULT_TIMEOUT_SECONDS, reconcile_subflow
from tasks.connections import AWS_RETRIES, Connection, resolve_target
from tasks.kube_tables import apply_resource, ensure_crd


def read_manifests(files: list[str]) -> list[dict[str, Any]]:
    """The Table manifests of every file, in order; the first bad file stops everything."""
    manifests = []
    for name in files:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{name}: cannot be read: {exc}") from None
        manifests += parse_manifests(text, name)
    return manifests


@flow(name="apply", log_prints=True)
def apply(manifests: list[dict[str, Any]], connection: Connection = Connection(),
          timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> list[Outcome]:
    """Apply each Table manifest to the cluster (server-side apply), then reconcile each one.

    Args:
        manifests: Table manifests as JSON objects (apiVersion, kind, metadata, spec), as `kubectl apply` takes
            them; metadata.namespace defaults to `default`.
        connection: Where the flow acts: the target and, optionally, credentials blocks.
        timeout_seconds: How long to wait for each table to converge.
    """
    where = resolve_target(connection)
    ensure_crd(where)
    for manifest in manifests:
        manifest["metadata"].setdefault("namespace", "default")
    # The API server judges every manifest (schema, permissions) before any is stored: one bad manifest
    # stops the whole run, so nothing is half-applied.
    refusals = [apply_resource(where, manifest, dry_run=True) for manifest in manifests]
    if any(refusals):
        outcomes = [_outcome(m, "Refused", r or "not applied: another manifest of this run was refused")
                    for m, r in zip(manifests, refusals)]
    else:
        for manifest in manifests:
            if refusal := apply_resource(where, manifest):  # e.g. a change made meanwhile
                raise RuntimeError(f"{manifest['metadata']['name']}: {refusal}")
        outcomes = [reconcile_subflow(m["metadata"]["namespace"], m["metadata"]["name"], where, timeout_seconds)
                    for m in manifests]
    print("\n" + summary(outcomes) + f"\n\nAWS calls retried (throttling, 5xx): {AWS_RETRIES.value}")
    return outcomes


def _outcome(manifest: dict[str, Any], state: str, message: str) -> Outcome:
    meta = manifest["metadata"]
    return Outcome(namespace=meta["namespace"], name=meta["name"], state=state, message=message,
                   table=str((manifest.get("spec") or {}).get("tableName", "")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.apply", description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--filename", dest="files", action="append", required=True,
                        help="a YAML file of Table manifests (repeatable)")
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                        help="seconds to wait for each table to converge")
    args = parser.parse_args(argv)
    return outcomes_exit("apply", guarded("apply", lambda: apply(
        read_manifests(args.files), Connection(target=args.target), args.timeout)))


if __name__ == "__main__":
    sys.exit(main())
