"""`python -m sandbox.aws --port PORT`: the local AWS endpoint on 127.0.0.1, configured by SANDBOX_AWS_* variables."""

from __future__ import annotations

import argparse
import os
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.aws", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    args = parser.parse_args(argv)
    from sandbox.aws.server import Settings, serve  # after the arguments: importing moto takes a second

    try:
        settings = Settings.from_env(os.environ)
    except ValueError as e:
        print(f"sandbox.aws: {e}", file=sys.stderr)
        return 1
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sys.exit(0))
    serve(args.port, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
