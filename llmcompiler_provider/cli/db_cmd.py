"""``llmcompiler db upgrade|flush``: migrate the metrics store, save runs kept while it was away.

Also holds the ``--store`` option and the error handling that ``runs`` shares.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

STORE_HELP = "SQLAlchemy URL of the metrics store (default: $LLMCOMPILER_STORE_URL, else a SQLite file in the home)"


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", metavar="URL", default=None, help=STORE_HELP)


def reports_store_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a store failure into one line on stderr and exit status 1."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        from sqlalchemy.exc import SQLAlchemyError

        from llmcompiler_provider.store import StoreError, display_url, resolve_store_url
        from llmcompiler_provider.store.errors import describe_error

        try:
            return command(args)
        except (SQLAlchemyError, StoreError) as exc:
            where = display_url(resolve_store_url(args.store))
            print(f"llmcompiler: cannot use the metrics store at {where}: {describe_error(exc)}", file=sys.stderr)
            return 1

    return run


@reports_store_errors
def upgrade_command(args: argparse.Namespace) -> int:
    from llmcompiler_provider.store import display_url, resolve_store_url, upgrade

    url = resolve_store_url(args.store)
    revision = upgrade(url)
    print(f"metrics store at {display_url(url)} is at revision {revision}")
    return 0


@reports_store_errors
def flush_command(args: argparse.Namespace) -> int:
    from llmcompiler_provider.store import display_url, flush_unsaved, resolve_store_url, unsaved_dir

    url = resolve_store_url(args.store)
    report = flush_unsaved(url)
    print(f"saved {len(report.saved)} kept run(s) from {unsaved_dir()} to {display_url(url)}")
    for name, reason in report.failed.items():
        print(f"llmcompiler: {name} was not saved and stays kept: {reason}", file=sys.stderr)
    return 1 if report.failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="manage the metrics store", description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade_parser = actions.add_parser("upgrade", help="create or migrate the store's tables to the newest schema")
    add_store_argument(upgrade_parser)
    upgrade_parser.set_defaults(func=upgrade_command)
    flush_parser = actions.add_parser("flush", help="save the runs kept on disk while the store was unreachable")
    add_store_argument(flush_parser)
    flush_parser.set_defaults(func=flush_command)
