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

    path = cache_path()
    if not path.is_file():  # looking must not create one
        stdout.print(f"path: {safe(path)}")
        stdout.print("results: 0 (no cache yet: the first scan creates it)")
        return
    with domain_errors(), ResultCache(path) as cache:
        details = cache.info()
        read_only = cache.read_only
    stdout.print(f"path: {safe(details.path)}")
    stdout.print(f"results: {details.results}" + (" (read-only: used, not added to)" if read_only else ""))
    stdout.print(f"size: {details.bytes / 2**20:.1f} MiB")


@app.command()
def clear() -> None:
    """Delete every cached result (the next scan analyses everything again); also a damaged cache."""
    from fakescope_cli.cache import CacheError, ResultCache, cache_path, remove_cache

    path = cache_path()
    count: int | str = "all"
    try:
        with ResultCache(path) as cache:
            count = cache.info().results
    except CacheError:
        pass  # damaged or locked: the files are removed all the same
    with domain_errors():
        try:
            removed = remove_cache(path)
        except OSError as exc:
            from fakescope_cli.errors import FakeScopeError

            raise FakeScopeError(f"{path}: cannot remove the results cache ({exc.strerror or exc})") from None
    stdout.print(f"removed {count if removed else 0} cached result(s) from {safe(path)}")
