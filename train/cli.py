"""``python -m train``: argparse front end. Library errors become one ``error: ...`` line on
stderr and exit code 2 (FAKESCOPE_DEBUG=1 shows the traceback).

Each command module has ``add_commands(subparsers, handlers)``: it adds its subparsers and puts
one handler per command name (``handler(args) -> exit code``) into ``handlers``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from fakescope_cli.errors import FakeScopeError

Handler = Callable[[argparse.Namespace], int]

EXIT_OK = 0
EXIT_WARNINGS = 1  # validate --strict found something to warn about
EXIT_ERROR = 2

# The data side (validate, fakechain, fakeinstruct), real photographs and identical processing
# (photos-fetch, photos-pool, photos-crops, process), the small generator families (synth-train,
# synth-generate, synth-list), the model side (sft, eval, merge-adapter) and FakeScope-mini
# (mini-init, stage-split, stage-join, mini-run, mini-pack, mini-unpack).
COMMAND_MODULES = (
    "train.commands.data",
    "train.commands.photos",
    "train.commands.generators",
    "train.commands.model",
    "train.commands.mini",
    "train.commands.run",
    "train.commands.vision",
    "train.commands.cpu_run",
)


def _command_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMMAND_MODULES]


def build_parser(handlers: dict[str, Handler] | None = None) -> argparse.ArgumentParser:
    """The parser with every command; ``handlers`` (when given) is filled with name -> handler."""
    parser = argparse.ArgumentParser(
        prog="python -m train",
        description="FakeScope training path: datasets, FakeChain, FakeInstruct, tuning, evaluation, "
        "small generator families. "
        "Exit codes: 0 done, 1 validate --strict found warnings, 2 error.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    table: dict[str, Handler] = {} if handlers is None else handlers
    for module in _command_modules():
        module.add_commands(subparsers, table)
    return parser


def error_line(message: str) -> None:
    sys.stderr.write(f"error: {' '.join(message.split())}\n")


def main(argv: Sequence[str] | None = None) -> int:
    debug = os.environ.get("FAKESCOPE_DEBUG") == "1"
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("exifread").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    handlers: dict[str, Handler] = {}
    args = build_parser(handlers).parse_args(argv)
    try:
        return handlers[args.command](args)
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
