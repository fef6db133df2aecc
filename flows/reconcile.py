"""`python -m flows.reconcile [-n NS | --all-namespaces] [--kind KIND] [NAME]`: reconcile the resources already in
the cluster (Tables, Backups, FieldExports).

Each resource goes through the one reconcile entrance (controller/reconciler.py) as the controller's workers
take it, round after round, until it is synced or terminal (or the timeout passes); a summary table ends it.
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow

from ack.kinds import KINDS, TABLE, Key
from ack.outcome import Outcome
from controller.round import Options
from controller.workers import DEFAULT_TIMEOUT_SECONDS, DEFAULT_WORKERS, settle
from flows.cli import add_controller_namespace, add_scope, guarded, outcomes_exit, scope_of
from flows.output import counts
from tasks.connections import Connection, resolve_target
from tasks.kube_tables import ensure_crd, list_resources, read_resource



@flow(name="reconcile", log_prints=True)
def reconcile(namespace: str | None = None, name: str | None = None, connection: Connection = Connection(),
              timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, workers: int = DEFAULT_WORKERS,
              kind: str | None = None, controller_namespace: str | None = None) -> list[Outcome]:
    """Reconcile the resources already in the cluster: one namespace (or all), or one by name.

    Args:
        namespace: Only this namespace; empty for every namespace (with a name: `default`).
        name: Only the resource of this name (of `kind`, a Table by default).
        connection: Where the flow acts: the target and, optionally, credentials blocks.
        timeout_seconds: How long to keep reconciling before reporting what is not synced yet.
        workers: How many resources are reconciled at once.
        kind: Only resources of this kind: Table, Backup or FieldExport; empty for every kind.
        controller_namespace: Where ACK's role maps are (default: ACK_SYSTEM_NAMESPACE, else ack-system).
    """
    if kind and kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    options = Options.from_environment(controller_namespace=controller_namespace)
    where = resolve_target(connection)
    ensure_crd(where)
    keys: dict[Key, str] = {}
    for served in [KINDS[kind]] if kind else [TABLE] if name else KINDS.values():
        if name:
            found = read_resource(where, namespace or "default", name, served)
            resources = [found] if found else [{"metadata": {"namespace": namespace or "default", "name": name}}]
        else:
            resources = list_resources(where, namespace, kind=served)
        keys |= {Key.of(r, served): str((r.get("spec") or {}).get("tableName", "")) for r in resources}
    outcomes = settle(where, keys, workers, timeout_seconds, options)
    print(f"reconcile: {counts(o.state for o in outcomes) or 'no resources'}")
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.reconcile", description=__doc__.splitlines()[0])
    add_scope(parser)
    parser.add_argument("name", nargs="?", help="one resource by name (a Table unless --kind says otherwise)")
    parser.add_argument("--kind", choices=list(KINDS), help="only resources of this kind (default: every kind)")
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS,
                        help="seconds to keep reconciling before reporting what is not synced yet")
    parser.add_argument("--max-concurrent-reconciles", dest="workers", type=int, default=DEFAULT_WORKERS,
                        help=f"resources reconciled at once (default {DEFAULT_WORKERS})")
    add_controller_namespace(parser)
    args = parser.parse_args(argv)
    if args.all_namespaces and args.name:
        parser.error("a NAME needs a namespace (-n), not --all-namespaces")
    if args.workers < 1:
        parser.error("--max-concurrent-reconciles: at least 1")
    namespace = scope_of(args)
    return outcomes_exit("reconcile", guarded("reconcile", lambda: reconcile(
        namespace, args.name, Connection(target=args.target), args.timeout, args.workers, args.kind,
        args.controller_namespace)))


if __name__ == "__main__":
    sys.exit(main())
