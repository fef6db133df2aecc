"""`python -m flows.teardown [--config FILE] [--yes] [--plan]`: remove what the bootstrap made, in reverse order.

Only resources that carry the bootstrap's ownership tag are deleted; a resource with the same name but not
the tag is kept. Tables follow their resource's deletion policy. Outside the sandbox it asks for --yes.
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow
from pydantic import Field

from bootstrap.config import DEFAULT_CONFIG, load_config
from controller.round import Options
from flows.checklist import Run, connect, summarise, tear_down
from flows.cli import add_controller_namespace, guarded, rows_exit
from flows.output import add_output
from tasks.aws import ServiceResult
from tasks.connections import Connection


@flow(name="teardown", log_prints=True)
def teardown(config_path: str = Field(str(DEFAULT_CONFIG), description="The configuration the bootstrap ran"),
             plan: bool = Field(False, description="Only say what would be deleted"),
             connection: Connection | None = Field(None, description="Where to act; default: the configuration's "
                                                                      "target"),
             controller_namespace: str | None = Field(None, description="Where ACK's role maps are (default: "
                                                                      "ACK_SYSTEM_NAMESPACE, else ack-system)"),
            ) -> list[ServiceResult]:
    """The checklist (flows/checklist.py) in reverse: what is on the cluster first, the network last; each step
    once everything that needs it is gone."""
    config = load_config(config_path)
    where = connect(connection or Connection(target=config.target))
    options = Options.from_environment(controller_namespace=controller_namespace)
    rows = tear_down(Run(where, config, dry_run=plan, options=options))
    summarise(rows, "teardown-summary", "What the teardown planned" if plan else "What the teardown removed")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.teardown", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="the configuration (default: %(default)s)")
    parser.add_argument("--yes", action="store_true", help="confirm deleting from a real AWS account")
    parser.add_argument("--plan", action="store_true", help="only say what would be deleted")
    parser.add_argument("--target", choices=["sandbox", "aws"], help="default: the configuration's target")
    add_controller_namespace(parser)
    add_output(parser)
    args = parser.parse_args(argv)
    config = guarded("teardown", lambda: load_config(args.config))
    if config is None:
        return 1
    target = args.target or config.target
    if target == "aws" and not (args.yes or args.plan):
        print("teardown: this deletes resources from a real AWS account; run again with --yes", file=sys.stderr)
        return 1
    rows = guarded("teardown", lambda: teardown(config_path=args.config, plan=args.plan,
                                                 connection=Connection(target=target),
                                                 controller_namespace=args.controller_namespace))
    return rows_exit(rows, args.plan, args.output)


if __name__ == "__main__":
    sys.exit(main())
