"""`make bench`: `fakescope scan` with the shipped FakeScope-mini on 12-megapixel JPEGs, as a user
runs it (a child process: start, model load, scan), score only and with file evidence; images/s
and peak RSS for two folder sizes, so that memory flat in the number of images shows.

Skipped, with a line saying so, where the checkout has no bundled model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from fakescope_cli import paths
from fakescope_cli.bench_crops import _photos

CHILD = """
import resource, subprocess, sys, time
started = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - started
print(rc, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def time_scan(images: list[Path], evidence: bool, extra: list[str]) -> dict[str, float]:
    """One `fakescope scan` child over ``images``: seconds, images/s and peak RSS (MiB). Raises
    RuntimeError (with the child's last words) when the scan does not finish with 0 or 1."""
    command = [sys.executable, "-m", "fakescope_cli", "scan", "--no-cache", "--jsonl", "--quiet"]
    command += ["--evidence" if evidence else "--no-evidence", *extra, *map(str, images)]
    out = subprocess.run([sys.executable, "-c", CHILD, *command], capture_output=True, text=True, check=False)
    try:
        rc, seconds, rss_kb = out.stdout.split()
    except ValueError:
        raise RuntimeError(f"the timing child failed: {out.stderr.strip()[-300:]}") from None
    if int(rc) not in (0, 1):
        raise RuntimeError(f"fakescope scan exited {rc}: {out.stderr.strip()[-300:]}")
    return {
        "images": len(images),
        "seconds": round(float(seconds), 2),
        "images_per_s": round(len(images) / float(seconds), 3),
        "peak_rss_mib": round(int(rss_kb) / 1024, 1),
    }


def time_shares(images: list[Path], model: Path) -> tuple[float, float, float]:
    """(scan seconds, inside llama.cpp/libmtmd, decoding the images) of an in-process score-only
    scan after a warm-up image: what is left is Python."""
    import time

    from fakescope_cli.discovery import InputFile
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.imageio import load_image
    from fakescope_cli.models import locate_model
    from fakescope_cli.scan import ScanOptions, scan_files

    with LlamaEngine(locate_model(model)) as engine:
        inputs = [InputFile(p) for p in images]
        list(scan_files(engine, inputs[:1], ScanOptions(evidence=None)))
        engine.native.reset_timers()
        started = time.perf_counter()
        for result in scan_files(engine, inputs, ScanOptions(evidence=None)):
            if result.error:
                raise RuntimeError(result.error)
        wall = time.perf_counter() - started
        native = engine.native.native_seconds
    started = time.perf_counter()
    for path in images:
        load_image(path)
    return wall, native, time.perf_counter() - started


def _rate(row: dict[str, float]) -> float:
    return row["images_per_s"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="score-only runs (median reported)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    bundled = paths.bundled_model_dir()
    if not bundled.is_dir() or not any(bundled.glob("*.gguf")):
        sys.stdout.write("bench_mini: no bundled model in this checkout; skipped\n")
        return
    photos = _photos(args.work / "photos-12mp", args.images)
    extra = ["--workers", "1", "--model", str(bundled)]
    extra += ["--threads", str(args.threads)] if args.threads else []
    small = photos[: max(1, args.images // 4)]
    # This machine's speed drifts by a fifth from one minute to the next: the score-only figure
    # is the median of several runs (of an even number, the faster middle one), with their range.
    runs = sorted((time_scan(photos, False, extra) for _ in range(args.repeats)), key=_rate)
    figures = {
        "score only": runs[len(runs) // 2],
        f"score only, {len(small)} images": time_scan(small, False, extra),
        "with evidence": time_scan(photos, True, extra),
    }
    sys.stdout.write(
        f"FakeScope-mini ({bundled.name}), 12-megapixel JPEGs, one worker, process start included\n"
    )
    for name, row in figures.items():
        sys.stdout.write(
            f"  {name:<24} {row['images']:>3} images  {row['seconds']:>7.2f} s  "
            f"{row['images_per_s']:.2f} images/s  peak RSS {row['peak_rss_mib']:.0f} MiB\n"
        )
    if len(runs) > 1:
        rates = ", ".join(f"{_rate(run):.2f}" for run in runs)
        sys.stdout.write(f"  score only, {len(runs)} runs (median above): {rates} images/s\n")
    wall, native, decoding = time_shares(photos, bundled)
    python = wall - native - decoding
    sys.stdout.write(
        f"  in-process, {len(photos)} images: {wall:.2f} s; llama.cpp + libmtmd {native / wall:.0%}, "
        f"image decoding {decoding / wall:.0%}, Python {python / wall:.0%} (target <= 10%)\n"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
