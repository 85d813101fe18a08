"""`make bench` (re-scan part): scanning an unchanged folder of 1,000 small images again, when every
result comes from the results cache. Target: at least 50 images/s on the 2-core machine, i.e.
bounded by reading and hashing files, not by the model. Figures are printed, never asserted."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

BUILD_TINY = """
import sys
from pathlib import Path
from conversion.export import export_checkpoint
from conversion.synthetic import build_tiny_idefics3
out = Path(sys.argv[1])
export_checkpoint(build_tiny_idefics3(out / "tiny-checkpoint"), out, name="tiny", outtype="f16")
"""


def _images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(count):
        target = folder / f"img{i:04d}.jpg"
        if not target.exists():
            pixels = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            Image.fromarray(pixels).resize((160, 120), Image.Resampling.BICUBIC).save(target, quality=90)


def _scan(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "fakescope_cli", "scan", *args, "--jsonl", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode not in (0, 1, 3):
        raise SystemExit(f"scan failed ({done.returncode}): {done.stderr.strip()}")
    return time.perf_counter() - started, len(done.stdout.splitlines())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    parser.add_argument("--images", type=int, default=1000)
    args = parser.parse_args(argv)
    work = args.work.resolve()
    model = work / "tiny.gguf"
    if not model.is_file():
        sys.stderr.write("building the tiny random model for the re-scan benchmark (once)...\n")
        subprocess.run([sys.executable, "-c", BUILD_TINY, str(work)], check=True)
    folder = work / f"rescan-{args.images}"
    _images(folder, args.images)
    cache = work / "rescan-cache"
    if cache.exists():
        for stale in cache.iterdir():
            stale.unlink()
    env = {**os.environ, "FAKESCOPE_CACHE_DIR": str(cache)}
    rows = []
    for label, extra in (
        ("tiny model + evidence", ["--model", str(model)]),
        ("evidence only", ["--evidence-only"]),
    ):
        first, n_first = _scan([str(folder), *extra], env)
        again, n_again = _scan([str(folder), *extra], env)
        rows.append(
            (f"{label}: first scan", f"{n_first / first:7.1f} images/s ({first:.1f} s, {n_first} images)")
        )
        rows.append(
            (f"{label}: re-scan (cache)", f"{n_again / again:7.1f} images/s ({again:.1f} s, target >= 50/s)")
        )
    sys.stdout.write(
        f"re-scan of an unchanged folder of {args.images} 160x120 JPEGs (process start included)\n"
    )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        sys.stdout.write(f"  {name:<{width}}  {value}\n")


if __name__ == "__main__":
    main()
