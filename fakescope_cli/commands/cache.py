"""`fakescope cache info|clear`: the results cache that makes re-scans cheap."""

from __future__ import annotations

import typer

from fakescope_cli.commands._common import domain_errors, safe, stdout

app = typer.Typer(
    help="The results cache (re-scans only analyse new or changed files).", no_args_is_help=True
)


@app.command()
def info() -> None:
    """Where the cache is, how many results it holds and its size on disk."""
    from fakescope_cli.cache import ResultCache, cache_path

    with domain_errors(), ResultCache(cache_path()) as cache:
        details = cache.info()
    stdout.print(f"path: {safe(details.path)}")
    stdout.print(f"results: {details.results}")
    stdout.print(f"size: {details.bytes / 2**20:.1f} MiB")


@app.command()
def clear() -> None:
    """Delete every cached result (the next scan analyses everything again)."""
    from fakescope_cli.cache import ResultCache, cache_path

    with domain_errors(), ResultCache(cache_path()) as cache:
        removed = cache.clear()
    stdout.print(f"removed {removed} cached result(s) from {safe(cache.path)}")
