"""`python -m flows.events setup|remove [--queue NAME] [--config FILE] [--plan] [--target sandbox|aws]`: the drift
events' rule and queues alone (the bootstrap's "drift events" step, run by itself).

setup makes the SQS dead-letter queue, the queue (its policy lets the rule send; a message received five times
unhandled moves to the dead-letter queue) and the EventBridge rule matching DynamoDB's mutating calls, each found
by name and ownership tag first; remove deletes what carries the tag. The controller reads the queue with
`python -m flows.watch --drift-events [QUEUE]`.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Literal

from prefect import flow

from bootstrap.config import DEFAULT_CONFIG, load_config
from flows.checklist import connect, summarise
from flows.cli import guarded, rows_exit
from flows.output import add_output
from tasks.aws import ServiceResult
from tasks.aws.drift_events import delete_drift_events, ensure_drift_events
from tasks.connections import Connection

Action = Literal["setup", "remove"]


@flow(name="drift-events", log_prints=True)
def drift_events(action: Action = "setup", queue: str | None = None, config_path: str = str(DEFAULT_CONFIG),
                 plan: bool = False, connection: Connection | None = None) -> list[ServiceResult]:
    """Make (setup) or delete (remove) the rule and queues that carry DynamoDB's out-of-band changes to the controller.

    Args:
        action: setup or remove.
        queue: The queue's name (default: the configuration's drift_events.queue, ackflow-drift-events).
        config_path: The bootstrap's configuration: its prefix tags what is made, its region places it.
        plan: Only say what would be done.
        connection: Where to act; default: the configuration's target.
    """
    config = load_config(config_path)
    where = connect(connection or Connection(target=config.target))
    name = queue or config.drift_events.queue
    step = ensure_drift_events if action == "setup" else delete_drift_events
    rows = step(where, config.prefix, name, plan)
    summarise(rows, f"drift-events-{action}", f"The drift events' rule and queues ({action})")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.events", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["setup", "remove"])
    parser.add_argument("--queue", help="the queue's name (default: the configuration's drift_events.queue)")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="the configuration (default: %(default)s)")
    parser.add_argument("--plan", action="store_true", help="only say what would be done")
    parser.add_argument("--target", choices=["sandbox", "aws"], help="default: the configuration's target")
    parser.add_argument("--yes", action="store_true", help="confirm removing from a real AWS account")
    add_output(parser)
    args = parser.parse_args(argv)
    if args.queue is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,76}", args.queue):
        parser.error(f"--queue: {args.queue!r} must be 1-76 letters, digits, hyphens or underscores (SQS's rule, "
                     "with room for the dead-letter queue's -dlq)")
    config = guarded("events", lambda: load_config(args.config))
    if config is None:
        return 1
    target = args.target or config.target
    if args.action == "remove" and target == "aws" and not (args.yes or args.plan):
        print("events: this deletes resources from a real AWS account; run again with --yes", file=sys.stderr)
        return 1
    rows = guarded("events", lambda: drift_events(args.action, args.queue, args.config, args.plan,
                                                   Connection(target=target)))
    return rows_exit(rows, args.plan, args.output)


if __name__ == "__main__":
    sys.exit(main())
