"""`python -m flows.bootstrap`: the getting-started checklist on the sandbox (or AWS, when asked)."""

from __future__ import annotations

import argparse
import sys

import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_table_artifact

from tasks.account import check_aws_identity
from tasks.cluster import check_cluster
from tasks.connections import Connection, Target, resolve_target


@task
def connect(target: TargetKind) -> Target:
    return resolve_target(connection)


@flow(name="bootstrap", log_prints=True)
def bootstrap(connection: Connection = Connection()) -> pd.DataFrame:
    """Check the AWS identity and the cluster, then summarise."""
    where = connect(connection)
    identity = check_aws_identity(where)
    cluster = check_cluster(where)
    summary = pd.DataFrame(
        [
            {"service": "AWS account", "name": identity["arn"], "id": identity["account"],
             "status": f"reachable ({identity['region']})"},
            {"service": "Kubernetes", "name": cluster["server"], "id": cluster["version"],
             "status": f"reachable ({cluster['namespaces']} namespaces)"},
        ]
    )
    create_table_artifact(key="bootstrap-summary", table=summary.to_dict(orient="records"),
                          description="What the bootstrap checked and created")
    print("\n" + summary.to_string(index=False))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.bootstrap", description=__doc__)
    parser.add_argument("--target", choices=["sandbox", "aws"], default="sandbox",
                        help="sandbox (default) or aws: real AWS only when named here")
    args = parser.parse_args(argv)
    try:
        bootstrap(connection=Connection(target=args.target))
    except Exception as exc:  # the contract: one line on stderr, exit 1
        print(f"bootstrap failed: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
