"""`python -m deployments serve [--drift-interval SECONDS]`: serve every deployment in this process.
`python -m deployments blocks [--dir DIR]`: save the sandbox's credentials blocks (sandbox-aws, sandbox-kubernetes).

Both talk to the Prefect API that PREFECT_API_URL names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.cli import guarded
from sandbox.stack import DEFAULT_DIR


def serve(drift_interval: int | None) -> bool:
    from prefect import serve as serve_all

    from deployments.definitions import deployments

    serve_all(*deployments(drift_interval))  # returns on SIGINT/SIGTERM, pausing the schedules
    return True


def blocks(folder: Path) -> bool:
    from deployments.blocks import save_sandbox_blocks

    for saved in save_sandbox_blocks(folder):
        print(f"saved block {saved}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deployments", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="serve every deployment in this process (Ctrl-C stops)")
    serving.add_argument("--drift-interval", type=int, metavar="SECONDS",
                         help="the drift schedule (default: $ACKFLOW_DRIFT_INTERVAL_SECONDS, else 36000)")
    saving = commands.add_parser("blocks", help="save the credentials blocks of a running sandbox")
    saving.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the sandbox's folder (default .sandbox)")
    args = parser.parse_args(argv)
    work = (lambda: serve(args.drift_interval)) if args.command == "serve" else (lambda: blocks(args.dir))
    return 0 if guarded(f"deployments {args.command}", work) else 1


if __name__ == "__main__":
    sys.exit(main())
