"""`python -m flows.bootstrap [--config FILE] [--plan] [--target sandbox|aws]`: the getting-started checklist.

One idempotent DAG: each step finds its resource by name and ownership tag and creates it only if missing,
so a second run creates nothing and a run interrupted midway is finished by the next. Independent services
run concurrently. `--plan` reads and reports, touching nothing. Ends with a summary table.
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow
from pydantic import Field

from bootstrap.config import DEFAULT_CONFIG, load_config
from controller.round import Options
from flows.checklist import Run, build, connect, summarise
from flows.cli import add_controller_namespace, guarded, rows_exit
from flows.output import add_output
from tasks.aws import ServiceResult
from tasks.connections import Connection

# What costs money on a real account, said before anything is created there.
BILLED = ("EKS cluster and nodes", "RDS/Aurora", "DocumentDB", "MSK brokers", "EBS volume", "EFS", "NAT-free VPC",
          "CloudWatch logs, alarms and dashboard", "S3 and ECR storage", "CodePipeline and CodeBuild", "DynamoDB")


@flow(name="bootstrap", log_prints=True)
def bootstrap(config_path: str = Field(str(DEFAULT_CONFIG), description="The YAML configuration to run"),
              plan: bool = Field(False, description="Only read and report what would be created"),
              connection: Connection | None = Field(None, description="Where to act; default: the configuration's "
                                                                       "target"),
              controller_namespace: str | None = Field(None, description="Where ACK's role maps are (default: "
                                                                       "ACK_SYSTEM_NAMESPACE, else ack-system)"),
             ) -> list[ServiceResult]:
    """The getting-started checklist (flows/checklist.py), from the account to the sample application on the
    cluster, each step as soon as what it needs exists."""
    config = load_config(config_path)
    where = connect(connection or Connection(target=config.target))
    if where.kind == "aws":
        print("target aws: this creates billed resources: " + ", ".join(BILLED))
    options = Options.from_environment(controller_namespace=controller_namespace)
    rows = build(Run(where, config, dry_run=plan, options=options))
    summarise(rows, "bootstrap-summary",
              "What the bootstrap planned" if plan else "What the bootstrap created or found")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="the YAML configuration (default: %(default)s)")
    parser.add_argument("--plan", action="store_true", help="read and report what would be created; touch nothing")
    parser.add_argument("--target", choices=["sandbox", "aws"],
                        help="sandbox or aws (default: the configuration's target, else sandbox)")
    add_controller_namespace(parser)
    add_output(parser)
    args = parser.parse_args(argv)
    config = guarded("bootstrap", lambda: load_config(args.config))  # a bad file: a clear error, at once
    if config is None:
        return 1
    connection = Connection(target=args.target or config.target)
    rows = guarded("bootstrap", lambda: bootstrap(config_path=args.config, plan=args.plan, connection=connection,
                                                   controller_namespace=args.controller_namespace))
    return rows_exit(rows, args.plan, args.output)


if __name__ == "__main__":
    sys.exit(main())
