"""`python -m flows.apply -f FILE [-f FILE ...]`: apply Table, Backup and FieldExport manifests and reconcile them
until synced.

Every file is read and checked before anything is sent; the API server then validates each resource
against the CRD (and the caller's permissions) before any AWS call.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from prefect import flow

from ack.kinds import Key
from ack.outcome import Outcome
from controller.round import Options
from controller.workers import DEFAULT_TIMEOUT_SECONDS, DEFAULT_WORKERS, settle
from flows.cli import add_controller_namespace, guarded, outcomes_exit, read_manifests
from flows.output import counts
from tasks.connections import Connection, resolve_target
from tasks.kube_tables import apply_resource, ensure_crd



@flow(name="apply", log_prints=True)
def apply(manifests: list[dict[str, Any]], connection: Connection = Connection(),
          timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, workers: int = DEFAULT_WORKERS,
          controller_namespace: str | None = None) -> list[Outcome]:
    """Apply each manifest (Table, Backup, FieldExport) to the cluster (server-side apply), then reconcile them until
    synced or terminal.

    Args:
        manifests: Manifests as JSON objects (apiVersion, kind, metadata, spec), as `kubectl apply` takes
            them; metadata.namespace defaults to `default`.
        connection: Where the flow acts: the target and, optionally, credentials blocks.
        timeout_seconds: How long to keep reconciling before reporting what is not synced yet.
        workers: How many resources are reconciled at once.
        controller_namespace: Where ACK's role maps are (default: ACK_SYSTEM_NAMESPACE, else ack-system).
    """
    options = Options.from_environment(controller_namespace=controller_namespace)
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
        outcomes = settle(where, {Key.of(m): _table(m) for m in manifests}, workers, timeout_seconds, options)
    print(f"apply: {counts(o.state for o in outcomes) or 'no resources'}")
    return outcomes


def _table(manifest: dict[str, Any]) -> str:
    """The table a manifest concerns (a Table's or a Backup's tableName), for the summary."""
    return str((manifest.get("spec") or {}).get("tableName", ""))


def _outcome(manifest: dict[str, Any], state: str, message: str) -> Outcome:
    meta = manifest["metadata"]
    return Outcome(namespace=meta["namespace"], name=meta["name"], kind=manifest["kind"], state=state,
                   message=message, table=_table(manifest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.apply", description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--filename", dest="files", action="append", required=True,
                        help="a YAML file of Table, Backup or FieldExport manifests (repeatable)")
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                        help="seconds to keep reconciling before reporting what is not synced yet")
    parser.add_argument("--max-concurrent-reconciles", dest="workers", type=int, default=DEFAULT_WORKERS,
                        help=f"resources reconciled at once (default {DEFAULT_WORKERS})")
    add_controller_namespace(parser)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--max-concurrent-reconciles: at least 1")
    return outcomes_exit("apply", guarded("apply", lambda: apply(
        read_manifests(args.files), Connection(target=args.target), args.timeout, args.workers,
        args.controller_namespace)))


if __name__ == "__main__":
    sys.exit(main())
