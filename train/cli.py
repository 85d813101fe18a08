"""``python -m train``: argparse front end. Commands register here; library errors become one
``error: ...`` line on stderr and exit code 2 (FAKESCOPE_DEBUG=1 shows the traceback)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fakescope_cli.errors import FakeScopeError
from train import commands_data

EXIT_OK = 0
EXIT_WARNINGS = 1  # validate --strict found something to warn about
EXIT_ERROR = 2


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, how to add its arguments, and what runs it."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# Name -> command. Further commands (sft, eval) add an entry here.
COMMANDS: dict[str, Command] = {
    "validate": Command(
        "check a dataset: balance, generators, duplicates across splits, format/size shortcuts",
        commands_data.validate_arguments,
        commands_data.run_validate,
    ),
    "fakechain": Command(
        "build FakeChain reasoning records (JSONL) from a dataset",
        commands_data.fakechain_arguments,
        commands_data.run_fakechain,
    ),
    "fakeinstruct": Command(
        "turn FakeChain records into LLaVA-format FakeInstruct instructions (JSON)",
        commands_data.fakeinstruct_arguments,
        commands_data.run_fakeinstruct,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="FakeScope training data: datasets, FakeChain, FakeInstruct. "
        "Exit codes: 0 done, 1 validate --strict found warnings, 2 error.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(subparsers.add_parser(name, help=command.help, description=command.help))
    return parser


def error_line(message: str) -> None:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")


def main(argv: Sequence[str] | None = None) -> int:
    debug = os.environ.get("FAKESCOPE_DEBUG") == "1"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("exifread").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except FakeScopeError as exc:
        if debug:
            raise
        error_line(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: no traceback unless debugging
        if debug:
            raise
        error_line(f"unexpected failure: {type(exc).__name__}: {exc} (set FAKESCOPE_DEBUG=1 for details)")
        return EXIT_ERROR
