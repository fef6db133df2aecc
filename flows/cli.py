"""What every command shares: on failure, one line on stderr and exit 1 (the contract in docs/architecture.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ack.manifests import ManifestError, parse_manifests
from ack.outcome import Outcome
from flows.output import outcomes as render_outcomes
from flows.output import render as render_rows
from flows.output import use_command_line_console
from bootstrap.config import ConfigError
from ack.placement import DEFAULT_CONTROLLER_NAMESPACE
from controller.round import default_resource_tags

T = TypeVar("T")


def add_scope(parser: argparse.ArgumentParser, default_all: bool = False) -> None:
    """-n NS | --all-namespaces, as kubectl spells them."""
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace",
                       help="one namespace (default: every namespace)" if default_all
                       else "the namespace (default: default)")
    scope.add_argument("-A", "--all-namespaces", action="store_true",
                       help="every namespace (the default)" if default_all else "every namespace")


def add_controller_namespace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--controller-namespace", metavar="NS",
                        help="where ACK's role maps (ack-role-account-map, ack-role-team-map) are, as the "
                             f"controller's own namespace (default: ACK_SYSTEM_NAMESPACE, else "
                             f"{DEFAULT_CONTROLLER_NAMESPACE})")


def scope_of(args: argparse.Namespace, default_all: bool = False) -> str | None:
    """The namespace the options name; None for every namespace."""
    if args.all_namespaces or (default_all and not args.namespace):
        return None
    return args.namespace or "default"


def guarded(command: str, work: Callable[[], T]) -> T | None:
    """`work()` (with the console a command line wants: flows/output.py), or None after saying in one line why it
    failed."""
    use_command_line_console()
    try:
        default_resource_tags()  # the environment's ACK_RESOURCE_TAGS, checked before anything starts
    except ValueError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None
    try:
        return work()
    except (ConfigError, ManifestError) as exc:  # the user's input: the message names the file and the field
        print(f"{command}: {exc}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 (a person reads the reason; the run's logs keep the details)
        print(f"{command} failed: {exc}".splitlines()[0], file=sys.stderr)
    return None


def rows_exit(rows: list[Any] | None, planned: bool, output: str) -> int:
    """What a checklist command made, found or removed (stdout, as `-o` asks); 1 when it failed (said already)."""
    if rows is None:
        return 1
    print(render_rows(rows, planned, output))
    return 0


def outcomes_exit(command: str, outcomes: list[Outcome] | None) -> int:
    """Where each resource ended (stdout); 0 when every one ended well, else 1 with a count on stderr."""
    if outcomes is None:
        return 1
    print(render_outcomes(outcomes))
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(f"{command}: {len(failed)} of {len(outcomes)} resources not synced", file=sys.stderr)
        return 1
    return 0


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

