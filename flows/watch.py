"""`python -m flows.watch [-n NS | --all-namespaces] [--max-concurrent-reconciles N]
[--reconcile-default-resync-seconds S] [--enable-leader-election] [--metrics-addr HOST:PORT] [--emit-only]
[--drift-events [QUEUE]]`: the controller, as a long-running Prefect flow.

Table, Backup and FieldExport resources are listed, then watched (a watch per kind); each change that needs work
emits the Prefect event `ackflow.<kind>.changed` and is queued; a FieldExport is queued again whenever the resource
it reads changes, and N workers reconcile the queue through the one entrance, each
reconcile a task run of this flow. A resource comes back when its result says (AWS busy, a failure's backoff)
and at the resync period. With --enable-leader-election only the process holding the Lease works. With
--emit-only it only emits the events (the `reconcile-on-change` deployment reconciles). With --drift-events it also
reads DynamoDB's out-of-band changes from that SQS queue (`python -m flows.events setup` makes it) and checks each
changed table's resource at once (controller/drift_events.py). One line per change and
per result; SIGINT or SIGTERM stops it after the reconciles in flight (exit 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prefect import flow

from ack.resource import DELETION_POLICIES, DeletionPolicy
from ack.tags import ResourceTags
from ack.trail import DEFAULT_QUEUE
from controller.round import Options
from controller.controller import DEFAULT_RESYNC_SECONDS, Controller, Settings, default_lease_namespace
from controller.metrics import parse_address
from controller.workers import DEFAULT_WORKERS
from flows.cli import add_controller_namespace, add_scope, guarded, scope_of
from tasks.connections import Connection, resolve_target
from tasks.drift_queue import EventQueue
from tasks.kube_tables import ensure_crd


class LeadershipLost(RuntimeError):
    """Another process may lead now: this one stops (a Deployment restarts it, as a candidate)."""


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM stop the controller; the reconciles in flight finish first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, lambda *_: stop()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def tell(line: str) -> None:
    """A line per change and per result, to stdout only: sending each to Prefect's API as a log would cost its
    server more than the reconcile (each reconcile's task run already carries its outcome)."""
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


@flow(name="watch", log_prints=True)
def watch_tables(namespace: str | None = None, emit_only: bool = False, connection: Connection = Connection(),
                 max_concurrent_reconciles: int = DEFAULT_WORKERS,
                 reconcile_default_resync_seconds: int = DEFAULT_RESYNC_SECONDS,
                 enable_leader_election: bool = False, leader_election_namespace: str | None = None,
                 metrics_addr: str = "", deletion_policy: DeletionPolicy = "delete",
                 resource_tags: str | None = None, controller_namespace: str | None = None,
                 drift_events: str | None = None) -> int:
    """Watch Table, Backup and FieldExport resources and reconcile each change, until stopped; returns the changes
    that needed work.

    Args:
        namespace: Only this namespace; empty for every namespace.
        emit_only: Only emit `ackflow.table.changed` events (`ackflow.backup.changed`, ...) for the
            reconcile-on-change deployment.
        connection: Where the flow acts: the target and, optionally, credentials blocks.
        max_concurrent_reconciles: How many resources are reconciled at once.
        reconcile_default_resync_seconds: Every resource is reconciled again this often (0: never), spread over
            the period.
        enable_leader_election: Only the process holding the Lease reconciles; others wait to take over.
        leader_election_namespace: Where the Lease lives (default: the pod's namespace, else `default`).
        metrics_addr: HOST:PORT for /metrics, /healthz and /readyz; empty for none.
        deletion_policy: What happens to the table of a deleted resource when neither it nor its namespace says:
            delete or retain.
        resource_tags: The controller's tags on every table, ACK's syntax (KEY=VALUE,...; %K8S_NAMESPACE%,
            %K8S_RESOURCE_NAME%, %CONTROLLER_SERVICE%, %CONTROLLER_VERSION% expanded); empty for none; default:
            ACK_RESOURCE_TAGS, else ACK's two.
        controller_namespace: Where ACK's role maps are (default: ACK_SYSTEM_NAMESPACE, else ack-system).
        drift_events: The SQS queue of DynamoDB's out-of-band changes (`flows.events setup` makes
            ackflow-drift-events): each changed table's resource is checked at once, under its drift policy; empty
            for none (the periodic drift run still finds everything).
    """
    if drift_events and emit_only:
        raise ValueError("--drift-events: the drift events are checked and remediated by this controller's workers, "
                         "which --emit-only does not run")
    options = Options.from_environment(deletion_policy, None if resource_tags is None
                                       else ResourceTags.parse(resource_tags), controller_namespace)
    where = resolve_target(connection)
    ensure_crd(where)  # with the in-cluster role's read-only access, this checks that it is installed
    controller = Controller(where, Settings(
        namespace=namespace, max_concurrent_reconciles=max_concurrent_reconciles,
        resync_seconds=reconcile_default_resync_seconds, enable_leader_election=enable_leader_election,
        leader_election_namespace=leader_election_namespace or default_lease_namespace(),
        metrics_addr=metrics_addr, emit_only=emit_only, options=options, drift_events=drift_events or None),
        say=lambda line: print(line, flush=True), tell=tell)
    with stop_on_signals(controller.stop):
        changes = controller.run()
    if controller.lost_leadership:
        raise LeadershipLost("leader election lost: another process may lead now")
    print(f"watch stopped after {changes} changes", flush=True)
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.watch", description=__doc__.splitlines()[0])
    add_scope(parser)
    parser.add_argument("--max-concurrent-reconciles", type=int, default=DEFAULT_WORKERS,
                        help=f"resources reconciled at once (default {DEFAULT_WORKERS}; ACK's is 1)")
    parser.add_argument("--reconcile-default-resync-seconds", type=int, default=DEFAULT_RESYNC_SECONDS,
                        help=f"reconcile every resource again this often, spread over the period; 0 never "
                             f"(default {DEFAULT_RESYNC_SECONDS}, as ACK)")
    parser.add_argument("--enable-leader-election", action="store_true",
                        help="of several processes only the one holding the Lease reconciles")
    parser.add_argument("--leader-election-namespace", help="where the Lease lives (default: POD_NAMESPACE, "
                                                            "else default)")
    parser.add_argument("--metrics-addr", default="", metavar="HOST:PORT",
                        help="serve /metrics, /healthz and /readyz there (e.g. :8080); default: none")
    parser.add_argument("--deletion-policy", choices=DELETION_POLICIES, default="delete",
                        help="a deleted resource's table, when neither it nor its namespace says (default delete)")
    parser.add_argument("--resource-tags", metavar="KEY=VALUE,...",
                        help="the controller's tags on every table, as ACK's flag (empty: none; default: "
                             "ACK_RESOURCE_TAGS, else services.k8s.aws/controller-version and "
                             "services.k8s.aws/namespace)")
    parser.add_argument("--emit-only", action="store_true",
                        help="only emit ackflow.table.changed events; the reconcile-on-change deployment reconciles")
    parser.add_argument("--drift-events", nargs="?", const=DEFAULT_QUEUE, metavar="QUEUE",
                        help="also check at once each table changed out of band, from this SQS queue of CloudTrail's "
                             f"events (default {DEFAULT_QUEUE}; `python -m flows.events setup` makes it)")
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox")
    add_controller_namespace(parser)
    args = parser.parse_args(argv)
    if args.max_concurrent_reconciles < 1:
        parser.error("--max-concurrent-reconciles: at least 1")
    if args.reconcile_default_resync_seconds < 0:
        parser.error("--reconcile-default-resync-seconds: 0 (off) or more")
    if args.resource_tags is not None:  # ACK_RESOURCE_TAGS, the default, is checked by guarded()
        try:
            ResourceTags.parse(args.resource_tags)
        except ValueError as exc:
            parser.error(str(exc))
    if args.drift_events and args.emit_only:
        parser.error("--drift-events: not with --emit-only (the drift events are checked by this controller's workers)")
    if args.metrics_addr:
        try:
            parse_address(args.metrics_addr)
        except ValueError as exc:
            parser.error(str(exc))
    if args.drift_events and guarded("watch", lambda: EventQueue(resolve_target(Connection(target=args.target)),
                                                                 args.drift_events)) is None:
        return 1  # no such queue: said in one line, before the flow starts
    changes = guarded("watch", lambda: watch_tables(
        scope_of(args), args.emit_only, Connection(target=args.target), args.max_concurrent_reconciles,
        args.reconcile_default_resync_seconds, args.enable_leader_election, args.leader_election_namespace,
        args.metrics_addr, args.deletion_policy, args.resource_tags, args.controller_namespace, args.drift_events))
    return 1 if changes is None else 0


if __name__ == "__main__":
    sys.exit(main())
