"""The `fakescope` command line: wiring only; each command lives in fakescope_cli/commands/."""

from __future__ import annotations

import logging
import os
import sys

import typer

from fakescope_cli import __version__
from fakescope_cli.commands import c2pa, cache, evidence, explain, metadata, model, report, scan
from fakescope_cli.commands._common import EXIT_CODES_HELP, EXIT_ERROR, error_line

app = typer.Typer(
    name="fakescope",
    help=(
        "Offline forensics for AI-generated images: p(fake) by token-based probability estimation, "
        f"with the model's reasoning.\n\n{EXIT_CODES_HELP}\n\nSet FAKESCOPE_DEBUG=1 for tracebacks and "
        "llama.cpp logs."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("scan")(scan.scan)
app.command("evidence")(evidence.evidence)
app.command("metadata")(metadata.metadata)
app.command("c2pa")(c2pa.c2pa)
app.command("report")(report.report)
app.command("explain")(explain.explain)
app.command("ask")(explain.ask)
app.add_typer(model.app, name="model")
app.add_typer(cache.app, name="cache")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fakescope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Offline forensics for AI-generated images."""


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(levelname)s: %(name)s: %(message)s" if debug else "warning: %(message)s")
    )
    logger = logging.getLogger("fakescope_cli")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.propagate = False
    # exifread logs a line for every file without EXIF and for odd maker notes: noise unless debugging.
    logging.getLogger("exifread").setLevel(logging.DEBUG if debug else logging.CRITICAL)


def main() -> None:
    debug = os.environ.get("FAKESCOPE_DEBUG") == "1"
    # A file name that is not valid UTF-8 reaches the output as escapes, never as a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    _configure_logging(debug)
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # Click's errors (Typer vendors Click)
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]  # Click's exception: the help text, as before
            raise SystemExit(EXIT_ERROR) from None
        # A bad option value, a missing argument: one line like every other error, exit 2 (exit
        # 1 means "flagged" here, never a usage error)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        error_line(f"{message} (see --help)")
        raise SystemExit(EXIT_ERROR) from None
    except (KeyboardInterrupt, BrokenPipeError, typer.Abort):
        raise SystemExit(130) from None
    except Exception as exc:  # the last line of defence: no traceback unless debugging
        if debug:
            raise
        error_line(f"unexpected failure: {type(exc).__name__}: {exc} (set FAKESCOPE_DEBUG=1 for details)")
        raise SystemExit(EXIT_ERROR) from None
    raise SystemExit(code if isinstance(code, int) else 0)
