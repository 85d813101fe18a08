"""`make bench` (cluster): images/s of `scan --cluster local` with 1, 2 and 4 Ray actors on this
machine, against the same number of `--workers` processes, with the shipped FakeScope-mini (one
llama.cpp thread per actor or worker, score only, 1024 x 768 JPEGs). The rate is taken from the
first result to the last, so start-up (Ray's, the model loads) is printed apart; the ratio of
seconds per image is the overhead Ray adds over local worker processes.

Skipped, with a line saying so, where Ray or the bundled model is missing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fakescope_cli import paths
from fakescope_cli.bench_crops import _photos


def _rate(images: list[Path], workers: int, cluster: str | None) -> tuple[float, float]:
    """(start-up seconds, images/s after the first result) of one in-process scan."""
    from fakescope_cli.discovery import InputFile
    from fakescope_cli.engine.native import LoadOptions
    from fakescope_cli.models import locate_model, validate_pair
    from fakescope_cli.pipeline import ModelSpec, ScanRun
    from fakescope_cli.scan import ScanOptions

    files = locate_model(paths.bundled_model_dir())
    validate_pair(files)
    spec = ModelSpec(files, LoadOptions(threads=1), "bench")
    started = time.perf_counter()
    with ScanRun(ScanOptions(evidence=None), spec, None, workers, cluster=cluster, actors=workers) as run:
        results = run.results(InputFile(p) for p in images)
        next(results)
        first = time.perf_counter()
        count = 1 + sum(1 for _ in results)
        last = time.perf_counter()
    return first - started, (count - 1) / (last - first)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    parser.add_argument("--images", type=int, default=25)
    args = parser.parse_args(argv)
    try:
        import ray  # noqa: F401
    except ImportError:
        sys.stdout.write("bench_cluster: Ray is not installed (pip install 'fakescope[cluster]'); skipped\n")
        return
    if not any(paths.bundled_model_dir().glob("*.gguf")):
        sys.stdout.write("bench_cluster: no bundled model in this checkout; skipped\n")
        return
    images = _photos(args.work / "photos-1024", args.images, (1024, 768))
    sys.stdout.write(
        f"scan --cluster local vs --workers, FakeScope-mini, {len(images)} JPEGs of 1024 x 768\n"
    )
    for count in (1, 2, 4):
        ray_start, ray_rate = _rate(images, count, "local")
        local_start, local_rate = _rate(images, count, None)
        sys.stdout.write(
            f"  {count} actor(s): {ray_rate:.2f} images/s (start {ray_start:.1f} s)   {count} worker(s): "
            f"{local_rate:.2f} images/s (start {local_start:.1f} s)   Ray/local seconds per image "
            f"{local_rate / ray_rate:.2f}\n"
        )


if __name__ == "__main__":
    main()
